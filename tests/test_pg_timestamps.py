"""careops.pgtime: timestamps read through psycopg's C loader on a UTC connection are the very
values Django's own loader gives, and any other session time zone keeps Django's loader."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from psycopg.postgres import types
from psycopg.pq import Format

from careops.pgtime import UtcTimestamptzLoader
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

TIMESTAMPTZ = types["timestamptz"].oid


def _read(values: list[datetime], *, djangos: bool = False) -> list[datetime]:
    """The values sent as timestamptz and read back, through the connection's loader (or
    through Django's own, registered on the cursor as Django does when it disagrees)."""
    with connection.cursor() as cursor:
        if djangos:
            register_tzloader(UTC, cursor.cursor)
        cursor.execute(
            "SELECT unnest(%s::timestamptz[])",
            [values],
        )
        return [row[0] for row in cursor.fetchall()]


def _loader() -> UtcTimestamptzLoader:
    connection.ensure_connection()
    pg = connection.connection
    loader_class = pg.adapters.get_loader(TIMESTAMPTZ, Format.TEXT)
    return loader_class(TIMESTAMPTZ, pg)


def test_the_connection_reads_timestamps_through_the_compiled_loader():
    loader = _loader()

    assert isinstance(loader, UtcTimestamptzLoader)
    # psycopg-binary is a dependency (pyproject): its loader, not the Python one, loads.
    assert type(loader.load.__self__).__module__.startswith("psycopg_binary")


moments = st.datetimes(
    min_value=datetime(1, 1, 2),  # noqa: DTZ001 - hypothesis takes naive bounds
    max_value=datetime(9999, 12, 30),  # noqa: DTZ001
    timezones=st.just(UTC),
)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(moments, min_size=1, max_size=20))
@example([datetime(2026, 3, 29, 1, 0, 0, 1, tzinfo=UTC), datetime(1970, 1, 1, tzinfo=UTC)])
def test_each_timestamp_reads_as_djangos_loader_reads_it(values):
    fast = _read(values)

    assert fast == _read(values, djangos=True) == values
    assert all(value.tzinfo is UTC for value in fast)


def test_a_model_row_reads_back_its_aware_utc_timestamps():
    contact = ContactFactory()
    contact.refresh_from_db()

    assert contact.created_at.tzinfo is UTC
    assert timedelta(0) <= datetime.now(UTC) - contact.created_at < timedelta(minutes=1)


def test_another_session_time_zone_keeps_djangos_loader():
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/Paris'")
    try:
        loader = _loader()
        assert "load" not in vars(loader)  # the class's load: Django's
        value = datetime(2026, 7, 1, 9, 30, tzinfo=UTC)
        assert _read([value]) == _read([value], djangos=True)
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")

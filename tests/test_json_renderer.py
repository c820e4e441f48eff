"""The API's JSON renderer (careops.renderers) writes what DRF's JSONRenderer writes, with
orjson; and the lists' rows hand it UTC datetimes as they are (careops.serializers)."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal

from django.utils import timezone as django_timezone
from django.utils.translation import gettext_lazy
from hypothesis import given
from hypothesis import strategies as st
from rest_framework import renderers

from bookings.models import Booking
from careops.renderers import JSONRenderer
from careops.serializers import datetimes_renderer

ours, drfs = JSONRenderer(), renderers.JSONRenderer()

# Offsets to the minute: orjson writes no seconds of an offset (local mean time before 1900,
# which no datetime the API renders has: the database's are UTC, the serializers' are text).
offsets = st.integers(min_value=-23 * 60 - 59, max_value=23 * 60 + 59).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)
datetimes = st.one_of(
    st.datetimes(timezones=st.just(UTC)),
    st.datetimes(timezones=offsets),
    st.datetimes(),  # naive
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.text(),
    st.sampled_from(["\u2028", "line\u2029end", "caf\u00e9", "\U0001f600"]),
    datetimes,
    st.dates(),
    st.times(),
    st.uuids(),
    st.sampled_from(list(Booking.Status)),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(max_size=10), inner, max_size=5),
    ),
    max_leaves=30,
)


@given(documents)
def test_the_renderer_writes_the_bytes_drf_writes(document):
    assert ours.render(document) == drfs.render(document)


@given(st.lists(st.floats(allow_nan=False, allow_infinity=False) | st.decimals(places=3)))
def test_numbers_read_back_as_drf_writes_them(numbers):
    # Only the spelling of an exponent may differ (1e-7 against 1e-07).
    numbers = [n for n in numbers if not (isinstance(n, Decimal) and not n.is_finite())]

    assert json.loads(ours.render(numbers)) == json.loads(drfs.render(numbers))


def test_what_orjson_cannot_write_is_written_by_drf():
    when = datetime(2030, 1, 2, 3, 4, tzinfo=UTC)
    huge = {"n": 2**70, "label": gettext_lazy("Cancelled"), "when": when}

    assert (
        ours.render(huge)
        == drfs.render(huge)
        == (b'{"n":1180591620717411303424,"label":"Cancelled","when":"2030-01-02T03:04:00Z"}')
    )


def test_pretty_printing_is_drfs():
    document = {"a": [1, {"b": None}]}

    rendered = ours.render(document, "application/json; indent=4")

    assert rendered == drfs.render(document, "application/json; indent=4")
    assert rendered.startswith(b'{\n    "a"')


def test_lazy_text_decimals_and_uuids_go_through_drfs_encoder():
    key = uuid.UUID("12345678-1234-5678-1234-567812345678")
    document = {"label": gettext_lazy("Confirmed"), "price": Decimal("12.50"), "key": key}

    assert ours.render(document) == drfs.render(document)


def test_nothing_renders_as_empty():
    assert ours.render(None) == b""


def test_a_nan_is_null_where_drf_refuses_it():
    assert ours.render({"x": float("nan")}) == b'{"x":null}'


# --- The lists' datetimes --------------------------------------------------------------------


def test_in_utc_the_rows_datetimes_pass_through_and_render_as_drf_writes_them():
    render = datetimes_renderer()
    moment = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    elsewhere = moment.astimezone(timezone(timedelta(hours=2)))

    assert render(moment) is moment
    assert render(None) is None
    # Not UTC: written as text in UTC, as DateTimeField does.
    assert render(elsewhere) == "2030-05-06T07:08:09.123456Z"
    assert ours.render([render(moment)]) == b'["2030-05-06T07:08:09.123456Z"]'


def test_in_another_time_zone_the_rows_datetimes_are_text_in_it():
    moment = datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)

    with django_timezone.override("Europe/London"):
        render = datetimes_renderer()

    assert render(moment) == "2030-05-06T08:08:09+01:00"


def test_times_and_dates_are_written_as_iso_8601():
    document = [date(2030, 1, 2), time(3, 4, 5, 6)]

    assert ours.render(document) == b'["2030-01-02","03:04:05.000006"]'

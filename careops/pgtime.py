"""Timestamps read from PostgreSQL by psycopg's C loader instead of Django's Python one.

Django (5.2) registers its own `timestamptz` loader on every connection, a subclass of
psycopg's pure-Python loader that then sets the tzinfo Django wants: each value is parsed by a
regular expression in Python even where psycopg's compiled loader is installed (Django ticket
#36960; psycopg's C loaders cannot be subclassed, psycopg issue #1273). A list of 50 bookings
reads about 260 timestamps: measured at 0.6 ms of a 6.6 ms request (bench/RESULTS.md).

Where the two give the same value, the connection's loader hands each value to the C loader
directly: the connection's session time zone is UTC, which Django sets when USE_TZ is on and
which psycopg then loads as `datetime.timezone.utc`, the very tzinfo Django would have set.
Any other session time zone keeps Django's loader and its behaviour.
"""

from __future__ import annotations

from datetime import UTC

from django.db.backends.postgresql.psycopg_any import BaseTzLoader
from psycopg.postgres import types
from psycopg.pq import Format
from psycopg.types.datetime import TimestamptzLoader

TIMESTAMPTZ = types["timestamptz"].oid


class UtcTimestamptzLoader(BaseTzLoader):
    """Django's loader for a UTC connection (its `timezone` attribute is what Django compares
    before registering its own), loading through the C loader when psycopg has it."""

    timezone = UTC

    def __init__(self, oid, context=None):
        super().__init__(oid, context)
        connection = self.connection
        if connection is None or connection.info.timezone is not UTC:
            return  # Django's load: parse here, then set the tzinfo
        compiled = connection.adapters._get_optimised(TimestamptzLoader)
        if compiled is not TimestamptzLoader:
            # An instance attribute: psycopg reads `loader.load` once per result column.
            self.load = compiled(oid, context).load


def install(connection) -> None:
    """Register the loader on a new PostgreSQL connection when Django reads timestamps in UTC
    (careops.apps, connection_created)."""
    if connection.vendor != "postgresql" or connection.timezone is not UTC:
        return
    adapters = connection.connection.adapters
    # Once per connection: the pool hands the same one out request after request.
    if adapters.get_loader(TIMESTAMPTZ, Format.TEXT) is not UtcTimestamptzLoader:
        adapters.register_loader(TIMESTAMPTZ, UtcTimestamptzLoader)

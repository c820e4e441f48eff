"""Serializer pieces the apps' API lists share."""

from __future__ import annotations

import copy
from collections.abc import Callable
from datetime import UTC, datetime

from django.utils import timezone
from django.utils.functional import cached_property
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

_DATETIME = serializers.DateTimeField(read_only=True)


def datetimes_renderer() -> Callable[[datetime | None], datetime | str | None]:
    """The serializers' DateTimeField rendering (ISO 8601 in the current time zone, "Z" for
    UTC), for rows built without field objects. The time zone is looked up once: that lookup
    is most of a DateTimeField's cost, and a page of a list renders hundreds of datetimes.

    In UTC (the API's time zone) a UTC datetime, as the database returns them, is passed on
    as it is, as DRF's serializers do with DATETIME_FORMAT None: the API's renderer writes it
    in C (careops.renderers), the same text DateTimeField would have made in Python."""
    if api_settings.DATETIME_FORMAT != ISO_8601:
        return lambda value: None if value is None else _DATETIME.to_representation(value)
    tz = timezone.get_current_timezone()

    def render(value: datetime | None) -> str | None:
        if value is None:
            return None
        if value.utcoffset() is None:  # naive: DateTimeField's own rules
            return _DATETIME.to_representation(value)
        text = value.astimezone(tz).isoformat()
        return text[:-6] + "Z" if text.endswith("+00:00") else text

    if tz is not UTC and getattr(tz, "key", None) != "UTC":
        return render

    def keep_utc(value: datetime | None) -> datetime | str | None:
        if value is None or value.tzinfo is UTC:
            return value
        return render(value)

    return keep_utc


class RowsRendered:
    """For a serializer that renders a list's rows itself: `datetime_representation`, the time
    zone looked up once per serializer (a list's one child serializer renders every row of the
    page with it)."""

    @cached_property
    def datetime_representation(self) -> Callable[[datetime | None], datetime | str | None]:
        return datetimes_renderer()


def row_of(instance, columns: tuple[str, ...]) -> dict:
    """An instance read as `.values(*columns)` reads its row (a related field by its path,
    None past a missing relation), so that one renderer serves a list's rows and one object."""
    row = {}
    for column in columns:
        value = instance
        for part in column.split("__"):
            value = None if value is None else getattr(value, part)
        row[column] = value
    return row


def nested(row: dict, prefix: str, fields: tuple[str, ...]) -> dict | None:
    """A related row's fields out of a `.values()` row (`contact__name` and so on); None when
    the relation is empty."""
    if row[f"{prefix}__id"] is None:
        return None
    return {name: row[f"{prefix}__{name}"] for name in fields}


class QueryParamsSerializer(serializers.Serializer):
    """A serializer of a list's query parameters, which every request of the list validates.
    Its fields are shallow copies of the class's declared ones, where DRF deep-copies them,
    which runs each field's __init__ again (a ChoiceField rebuilds its choices): for the
    bookings list's six filters, half a million instructions a request, 4% of a page. The
    copies share only what validating reads and never changes (choices, validators, error
    messages); binding sets each copy's own name and parent."""

    def get_fields(self) -> dict[str, serializers.Field]:
        return {name: copy.copy(field) for name, field in self._declared_fields.items()}

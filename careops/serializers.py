"""Serializer pieces the apps' API lists share."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from django.utils import timezone
from rest_framework import ISO_8601, serializers
from rest_framework.settings import api_settings

_DATETIME = serializers.DateTimeField(read_only=True)


def datetimes_renderer() -> Callable[[datetime | None], str | None]:
    """The serializers' DateTimeField rendering (ISO 8601 in the current time zone, "Z" for
    UTC), for rows built without field objects. The time zone is looked up once: that lookup
    is most of a DateTimeField's cost, and a page of a list renders hundreds of datetimes."""
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

    return render

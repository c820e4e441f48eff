"""What the fields partial (templates/forms/_fields.html) renders: one row per field, with the
value to show and its errors already looked up (Django templates cannot index a dict by a
variable key); and times as the client reads them (the page and the message sending a link)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from django.utils import dateformat, timezone


def local_when(moment: datetime, workspace) -> str:
    """A time as the workspace's clients read it: "Monday 3 March 2025, 14:30" on its clock."""
    tz = zoneinfo.ZoneInfo(workspace.timezone or "UTC")
    return dateformat.format(timezone.localtime(moment, tz), "l j F Y, H:i")


def field_rows(
    fields: list[dict[str, Any]],
    values: Mapping[str, Any] | None = None,
    errors: Mapping[str, list[str]] | None = None,
) -> list[dict[str, Any]]:
    values, errors = values or {}, errors or {}
    return [
        {"field": field, "value": values.get(field["key"]), "errors": errors.get(field["key"], [])}
        for field in fields
    ]

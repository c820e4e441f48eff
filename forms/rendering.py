"""What the fields partial (templates/forms/_fields.html) renders: one row per field, with the
value to show and its errors already looked up (Django templates cannot index a dict by a
variable key); and times as the client reads them (the page and the message sending a link)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# How the form's pages and messages write a time: "Monday 3 March 2025, 14:30".
WHEN_FORMAT = "l j F Y, H:i"


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

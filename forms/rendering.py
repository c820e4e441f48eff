"""What the fields partial (templates/forms/_fields.html) renders: one row per field, with the
value to show and its errors already looked up (Django templates cannot index a dict by a
variable key)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


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

"""Writes for form templates: fields validated by forms.fields before anything is stored."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from forms.models import FormTemplate


def template_create(
    *,
    workspace,
    actor,
    name: str,
    description: str = "",
    fields: Any = (),
    is_active: bool = True,
    due_hours: int = 48,
    booking_type_ids: Iterable[int] = (),
) -> FormTemplate:
    """A new template. InvalidInput (400, field-level: `name`, `fields.<i>.<prop>`,
    `booking_type_ids`) for bad fields, a live template's name taken (case-insensitive), or a
    booking type not in the workspace."""
    raise NotImplementedError


def template_update(*, template: FormTemplate, actor, **changes: Any) -> FormTemplate:
    """Change any of create's arguments. Changing `fields` bumps `version`; submissions already
    sent keep their snapshot. InvalidInput as create; Conflict for an archived template."""
    raise NotImplementedError


def template_archive(*, template: FormTemplate, actor) -> FormTemplate:
    """Archive: inactive and hidden from the list; past submissions stay. Idempotent."""
    raise NotImplementedError

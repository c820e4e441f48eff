"""Writes for form templates: fields validated by forms.fields before anything is stored."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower
from django.utils import timezone

from bookings.models import BookingType
from careops.errors import Conflict, InvalidInput, NotFound
from forms.fields import clean_field_definitions, text_problem
from forms.models import FormTemplate

log = structlog.get_logger(__name__)

NAME_MAX_LENGTH = FormTemplate._meta.get_field("name").max_length
MAX_DUE_HOURS = 24 * 365
NAME_TAKEN = "Another form has this name."
EDITABLE = frozenset(
    {"name", "description", "fields", "is_active", "due_hours", "booking_type_ids"}
)


def _actor_id(actor) -> int | None:
    return getattr(actor, "pk", None)


def _clean(
    *,
    workspace,
    exclude_pk: int | None,
    name: Any,
    description: Any,
    fields: Any,
    is_active: Any,
    due_hours: Any,
    booking_type_ids: Iterable[int] | None,
) -> tuple[dict[str, Any], list[BookingType] | None]:
    """Every argument checked at once, so that a page or a client hears of every problem in
    one answer. `booking_type_ids` None: left as they are."""
    errors: dict[str, list[str]] = {}
    name = name.strip() if isinstance(name, str) else ""
    if text_problem(name):
        errors["name"] = [text_problem(name)]
    elif not name:
        errors["name"] = ["Name the form."]
    elif len(name) > NAME_MAX_LENGTH:
        errors["name"] = [f"At most {NAME_MAX_LENGTH} characters."]
    elif (
        FormTemplate.objects.for_workspace(workspace)
        .filter(archived_at__isnull=True)
        .annotate(lower_name=Lower("name"))
        .filter(lower_name=name.lower())
        .exclude(pk=exclude_pk)
        .exists()
    ):
        errors["name"] = [NAME_TAKEN]
    if not isinstance(description, str):
        errors["description"] = ["Must be text."]
        description = ""
    elif text_problem(description):
        errors["description"] = [text_problem(description)]
        description = ""
    if not isinstance(is_active, bool):
        errors["is_active"] = ["Must be true or false."]
    if isinstance(due_hours, bool) or not isinstance(due_hours, int):
        errors["due_hours"] = ["Give a whole number of hours."]
    elif not 1 <= due_hours <= MAX_DUE_HOURS:
        errors["due_hours"] = [f"Between 1 and {MAX_DUE_HOURS} hours (a year)."]
    booking_types = None
    if booking_type_ids is not None:
        booking_types, problem = _booking_types(workspace, booking_type_ids)
        if problem:
            errors["booking_type_ids"] = [problem]
    try:
        cleaned_fields = clean_field_definitions(fields)
    except InvalidInput as exc:
        errors.update(exc.fields)
        cleaned_fields = []
    if errors:
        raise InvalidInput(fields=errors)
    data = {
        "name": name,
        "description": description.strip(),
        "fields": cleaned_fields,
        "is_active": is_active,
        "due_hours": due_hours,
    }
    return data, booking_types


def _booking_types(workspace, ids: Iterable[int]) -> tuple[list[BookingType], str]:
    """The workspace's booking types with these ids, or the message naming those that are not
    (another workspace's type is "not a service of this workspace", never "exists elsewhere")."""
    try:
        wanted = list(dict.fromkeys(int(pk) for pk in ids))
    except (TypeError, ValueError):
        return [], "Give booking type ids."
    if not wanted:
        return [], ""
    found = {t.pk: t for t in BookingType.objects.for_workspace(workspace).filter(pk__in=wanted)}
    missing = [pk for pk in wanted if pk not in found]
    if missing:
        return [], f"Not a service of this workspace: {', '.join(map(str, missing))}."
    return [found[pk] for pk in wanted], ""


def _save(template: FormTemplate) -> None:
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:
        # Another live template took the name between the check and the write.
        raise InvalidInput(fields={"name": [NAME_TAKEN]}) from None


@transaction.atomic
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
    data, booking_types = _clean(
        workspace=workspace,
        exclude_pk=None,
        name=name,
        description=description,
        fields=list(fields) if isinstance(fields, tuple) else fields,
        is_active=is_active,
        due_hours=due_hours,
        booking_type_ids=booking_type_ids,
    )
    template = FormTemplate(workspace=workspace, **data)
    _save(template)
    template.booking_types.set(booking_types or [])
    log.info(
        "form_template_created",
        template_id=template.pk,
        workspace_id=workspace.pk,
        fields=len(template.fields),
        actor_id=_actor_id(actor),
    )
    return template


def _check_changes(changes: dict[str, Any]) -> None:
    unknown = set(changes) - EDITABLE
    if unknown:
        raise TypeError(f"template_update() got unexpected arguments: {', '.join(sorted(unknown))}")


def _clean_changes(
    current: FormTemplate, changes: dict[str, Any]
) -> tuple[dict[str, Any], list[BookingType] | None]:
    if current.archived_at is not None:
        raise Conflict("This form is archived and can no longer be changed.")
    merged = {
        key: changes.get(key, getattr(current, key))
        for key in ("name", "description", "fields", "is_active", "due_hours")
    }
    return _clean(
        workspace=current.workspace_id,
        exclude_pk=current.pk,
        booking_type_ids=changes.get("booking_type_ids"),
        **merged,
    )


def template_check(*, template: FormTemplate, **changes: Any) -> None:
    """template_update's checks, saving nothing: for a form that shows every refusal on its
    inputs before it saves (the support admin). Raises as template_update does."""
    _check_changes(changes)
    _clean_changes(FormTemplate.objects.get(pk=template.pk), changes)


@transaction.atomic
def template_update(*, template: FormTemplate, actor, **changes: Any) -> FormTemplate:
    """Change any of create's arguments. Changing `fields` bumps `version`; submissions already
    sent keep their snapshot. InvalidInput as create; Conflict for an archived template."""
    _check_changes(changes)
    # The row locked: two saves of the builder at once must not both bump to the same version,
    # and the values not being changed are the stored ones, not those of a stale instance.
    current = FormTemplate.objects.select_for_update().get(pk=template.pk)
    data, booking_types = _clean_changes(current, changes)
    fields_changed = data["fields"] != current.fields
    for key, value in data.items():
        setattr(template, key, value)
    template.version = current.version + 1 if fields_changed else current.version
    template.archived_at = None
    _save(template)
    if booking_types is not None:
        template.booking_types.set(booking_types)
    log.info(
        "form_template_updated",
        template_id=template.pk,
        workspace_id=template.workspace_id,
        changed=sorted(changes),
        version=template.version,
        actor_id=_actor_id(actor),
    )
    return template


@transaction.atomic
def template_archive(*, template: FormTemplate, actor) -> FormTemplate:
    """Archive: inactive and hidden from the list; past submissions stay. Idempotent."""
    current = FormTemplate.objects.select_for_update().get(pk=template.pk)
    if current.archived_at is not None:
        template.archived_at, template.is_active = current.archived_at, False
        return template
    template.archived_at = timezone.now()
    template.is_active = False
    template.save(update_fields=["archived_at", "is_active", "updated_at"])
    log.info(
        "form_template_archived",
        template_id=template.pk,
        workspace_id=template.workspace_id,
        actor_id=_actor_id(actor),
    )
    return template


# --- One field at a time (the builder) ----------------------------------------------------------
#
# Each reads the template's fields with the row locked and saves through template_update (in the
# same transaction, so the same validation and versioning): two people adding a field at once
# both keep theirs, where writing back a list read before the lock would lose one.
#
# A refusal about the field being added or changed is named `field.<property>` (its index in the
# locked list means nothing to the caller); others keep their `fields.<i>.<property>` names.

FIELD_ERROR_PREFIX = "field"
FIELD_GONE = "This field is no longer in the form."


def _locked_fields(template: FormTemplate) -> list[dict[str, Any]]:
    current = FormTemplate.objects.select_for_update().get(pk=template.pk)
    if current.archived_at is not None:
        raise Conflict("This form is archived and can no longer be changed.")
    return [dict(field) for field in current.fields]


def _index_of(fields: list[dict[str, Any]], key: str) -> int:
    for index, field in enumerate(fields):
        if field.get("key") == key:
            return index
    raise NotFound(FIELD_GONE)


def _save_fields(
    template: FormTemplate, actor, fields: list[dict[str, Any]], *, index: int | None = None
) -> FormTemplate:
    try:
        return template_update(template=template, actor=actor, fields=fields)
    except InvalidInput as exc:
        if index is None:
            raise
        prefix = f"fields.{index}"
        renamed: dict[str, list[str]] = {}
        for name, problems in exc.fields.items():
            if name == prefix or name.startswith(f"{prefix}."):
                name = FIELD_ERROR_PREFIX + name.removeprefix(prefix)
            renamed.setdefault(name, []).extend(problems)
        raise InvalidInput(exc.message, fields=renamed, extra=exc.extra) from None


@transaction.atomic
def template_field_add(
    *, template: FormTemplate, actor, definition: dict[str, Any]
) -> tuple[FormTemplate, dict[str, Any]]:
    """Add a field at the end of the form: (template, the field as stored, its key made from
    the label when none was given). InvalidInput (`field.<property>`); Conflict when archived."""
    fields = _locked_fields(template)
    index = len(fields)
    template = _save_fields(template, actor, [*fields, dict(definition)], index=index)
    return template, template.fields[index]


@transaction.atomic
def template_field_update(
    *, template: FormTemplate, actor, key: str, definition: dict[str, Any]
) -> tuple[FormTemplate, dict[str, Any]]:
    """Replace the field `key` with `definition`, in its place: (template, the field as stored).
    NotFound when no field has that key (removed meanwhile); InvalidInput as add."""
    fields = _locked_fields(template)
    index = _index_of(fields, key)
    fields[index] = dict(definition)
    template = _save_fields(template, actor, fields, index=index)
    return template, template.fields[index]


@transaction.atomic
def template_field_remove(
    *, template: FormTemplate, actor, key: str
) -> tuple[FormTemplate, dict[str, Any]]:
    """Remove the field `key`: (template, the field removed). NotFound when it is gone."""
    fields = _locked_fields(template)
    removed = fields.pop(_index_of(fields, key))
    return _save_fields(template, actor, fields), removed


@transaction.atomic
def template_field_move(
    *, template: FormTemplate, actor, key: str, direction: str
) -> tuple[FormTemplate, bool]:
    """Move the field `key` one place "up" or "down": (template, whether it moved). At either
    end nothing moves and nothing is saved. InvalidInput for another direction; NotFound when
    the field is gone."""
    step = {"up": -1, "down": 1}.get(direction)
    if step is None:
        raise InvalidInput(fields={"direction": ['Choose "up" or "down".']})
    fields = _locked_fields(template)
    index = _index_of(fields, key)
    other = index + step
    if not 0 <= other < len(fields):
        template.refresh_from_db()
        return template, False
    fields[index], fields[other] = fields[other], fields[index]
    return _save_fields(template, actor, fields), True

"""Checks shared by every way a contact is written: identity (email, phone), tags, custom
fields, consent, and which other contact already holds an address."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models.functions import Lower

from careops.db import storable_text
from careops.errors import InvalidInput
from contacts.models import Contact, Tag, normalize_email, normalize_phone

MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_KEY_LENGTH = 100
MAX_TAGS = 50
EMAIL_MAX_LENGTH = Contact._meta.get_field("email").max_length
UNSTORABLE_VALUE = "a value holds a character that cannot be stored, or is not a finite number."
# Names per `IN (...)` lookup of tags: PostgreSQL takes at most 65,535 parameters per query.
TAG_LOOKUP_BATCH = 5_000


def clean_identity(email: str | None, phone: str | None) -> tuple[str, str]:
    """Normalized (email, phone), or InvalidInput naming the field that is not valid."""
    errors: dict[str, list[str]] = {}
    email = normalize_email(email)
    if len(email) > EMAIL_MAX_LENGTH:
        # validate_email takes up to 320 characters; the column holds 254 (RFC 5321's limit).
        errors["email"] = [f"Keep the email address to {EMAIL_MAX_LENGTH} characters."]
    elif email:
        try:
            validate_email(email)
        except ValidationError as exc:
            errors["email"] = exc.messages
    try:
        phone = normalize_phone(phone)
    except ValidationError as exc:
        errors["phone"] = exc.messages
    if errors:
        raise InvalidInput(fields=errors)
    return email, phone


def set_consent(contact: Contact, channel: str, granted: bool, *, now, source: str) -> list[str]:
    """Record consent for a channel given (when, and where from) or withdrawn (cleared).
    Returns the fields that changed: none when it already stood that way."""
    if getattr(contact, f"{channel}_consent") == granted:
        return []
    setattr(contact, f"{channel}_consent", granted)
    setattr(contact, f"{channel}_consent_at", now if granted else None)
    setattr(contact, f"{channel}_consent_source", source if granted else "")
    return [f"{channel}_consent", f"{channel}_consent_at", f"{channel}_consent_source"]


def _storable(item: Any) -> bool:
    """Whether PostgreSQL's jsonb takes the value: no NaN or infinity, and text it can store
    (a CSV cell's JSON can hold a NUL or a lone surrogate, e.g. `{"a": "\\u0000"}`)."""
    if isinstance(item, float):
        return math.isfinite(item)
    return storable_text(item) if isinstance(item, str) else True


def clean_custom_fields(value: Any) -> dict[str, Any]:
    """A flat JSON object: string keys, scalar values (merges also keep lists of scalars,
    `merged_emails` and `merged_phones`). InvalidInput on `custom_fields` otherwise."""
    if value is None:
        return {}
    problems: list[str] = []
    if not isinstance(value, dict):
        raise InvalidInput(fields={"custom_fields": ["Give an object of names and values."]})
    if len(value) > MAX_CUSTOM_FIELDS:
        problems.append(f"Keep to {MAX_CUSTOM_FIELDS} custom fields at most.")
    scalar = str | int | float | bool | None
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > MAX_CUSTOM_KEY_LENGTH:
            problems.append(f"Name each custom field in 1 to {MAX_CUSTOM_KEY_LENGTH} characters.")
        elif not _storable(key):
            problems.append("A custom field's name holds a character that cannot be stored.")
        elif isinstance(item, list):
            if not all(isinstance(v, scalar) for v in item):
                problems.append(f"'{key}': a list may hold only text, numbers or true/false.")
            elif not all(_storable(v) for v in item):
                problems.append(f"'{key}': {UNSTORABLE_VALUE}")
        elif not isinstance(item, scalar):
            problems.append(f"'{key}': a value must be text, a number or true/false.")
        elif not _storable(item):
            problems.append(f"'{key}': {UNSTORABLE_VALUE}")
    if problems:
        raise InvalidInput(fields={"custom_fields": list(dict.fromkeys(problems))})
    return dict(value)


def clean_tag_names(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise InvalidInput(fields={"tags": ["Give a list of tag names."]})
    names = [v.strip() for v in value if v.strip()]
    if len(names) > MAX_TAGS:
        raise InvalidInput(fields={"tags": [f"Keep to {MAX_TAGS} tags at most."]})
    if any(len(n) > Tag._meta.get_field("name").max_length for n in names):
        raise InvalidInput(fields={"tags": ["Keep each tag to 50 characters."]})
    return names


def contact_identity_conflicts(
    *, workspace, email: str, phone: str, exclude_pk: int | None = None
) -> dict[str, Contact]:
    """The other contacts already holding this (normalized) email or phone, by field."""
    taken: dict[str, Contact] = {}
    others = Contact.objects.for_workspace(workspace).exclude(pk=exclude_pk)
    for field, value in (("email", email), ("phone", phone)):
        if value:
            found = others.filter(**{field: value}).only("pk", "name", "email", "phone").first()
            if found is not None:
                taken[field] = found
    return taken


def refuse_conflicts(taken: dict[str, Contact]) -> None:
    if not taken:
        return
    label = {"email": "email address", "phone": "phone number"}
    raise InvalidInput(
        fields={
            field: [f"Contact #{other.pk} ({other}) already has this {label[field]}."]
            for field, other in taken.items()
        },
        extra={"existing_id": next(iter(taken.values())).pk},
    )


def tags_resolve(*, workspace, names: list[str]) -> list[Tag]:
    """The workspace's tags with these names (case-insensitive), created when new."""
    tags = []
    for raw in names:
        name = raw.strip()[:50]
        if not name:
            continue
        tag = Tag.objects.for_workspace(workspace).filter(name__iexact=name).first()
        if tag is None:
            try:
                with transaction.atomic():
                    tag = Tag.objects.create(workspace=workspace, name=name)
            except IntegrityError:
                tag = Tag.objects.for_workspace(workspace).get(name__iexact=name)
        tags.append(tag)
    return tags


def _tags_named(workspace, keys: list[str]) -> dict[str, Tag]:
    """The workspace's tags whose lower-cased name is one of `keys`, by that key."""
    found: dict[str, Tag] = {}
    tags = Tag.objects.for_workspace(workspace).annotate(lower_name=Lower("name"))
    for start in range(0, len(keys), TAG_LOOKUP_BATCH):
        for tag in tags.filter(lower_name__in=keys[start : start + TAG_LOOKUP_BATCH]):
            found.setdefault(tag.name.lower(), tag)
    return found


def tags_resolve_many(*, workspace, names: Iterable[str]) -> dict[str, Tag]:
    """tags_resolve for any number of names in a few queries: the workspace's tags with these
    names (case-insensitive), created when new, by lower-cased name."""
    wanted: dict[str, str] = {}
    for raw in names:
        name = raw.strip()[:50]
        if name:
            wanted.setdefault(name.lower(), name)
    found = _tags_named(workspace, list(wanted))
    missing = [key for key in wanted if key not in found]
    if missing:
        # Another writer may add one of these tags meanwhile: skip it here and read it back below.
        Tag.objects.bulk_create(
            [Tag(workspace=workspace, name=wanted[key]) for key in missing],
            ignore_conflicts=True,
            batch_size=1_000,
        )
        found.update(_tags_named(workspace, missing))
    # A name the database lower-cases unlike Python (some non-ASCII letters): one at a time.
    leftovers = [wanted[key] for key in wanted if key not in found]
    for name, tag in zip(
        leftovers, tags_resolve(workspace=workspace, names=leftovers), strict=True
    ):
        found[name.lower()] = tag
    return {key: found[key] for key in wanted}

"""Staff's own edits of a contact: adding one by hand, changing its details."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from careops.errors import InvalidInput
from contacts.models import Contact
from contacts.services.identity import (
    clean_custom_fields,
    clean_identity,
    clean_tag_names,
    contact_identity_conflicts,
    refuse_conflicts,
    set_consent,
    tags_resolve,
)
from contacts.signals import contact_created

log = structlog.get_logger(__name__)

CONSENT_SOURCE_STAFF = "staff"
NAME_MAX_LENGTH = Contact._meta.get_field("name").max_length
UPDATABLE_FIELDS = frozenset(
    {
        "name",
        "email",
        "phone",
        "notes",
        "tags",
        "custom_fields",
        "email_consent",
        "sms_consent",
    }
)
IDENTIFIABLE_MESSAGE = "A contact needs a name, an email address or a phone number."


def _clean_text(field: str, value: Any, max_length: int | None = None) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInput(fields={field: ["Give text."]})
    value = value.strip()
    if max_length and len(value) > max_length:
        raise InvalidInput(fields={field: [f"Keep this to {max_length} characters."]})
    return value


def _clean_bool(field: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise InvalidInput(fields={field: ["Give true or false."]})
    return value


def _save_identity(contact: Contact, save) -> None:
    """Run `save`; a concurrent writer taking the same email or phone becomes a field error."""
    try:
        with transaction.atomic():
            save()
    except IntegrityError:
        refuse_conflicts(
            contact_identity_conflicts(
                workspace=contact.workspace_id,
                email=contact.email,
                phone=contact.phone,
                exclude_pk=contact.pk,
            )
        )
        raise


def contact_create(
    *,
    workspace,
    actor,
    name: str = "",
    email: str = "",
    phone: str = "",
    notes: str = "",
    tags: list[str] | None = None,
    custom_fields: dict | None = None,
    email_consent: bool = False,
    sms_consent: bool = False,
) -> Contact:
    """Staff add a contact by hand. An email or phone that already belongs to a contact is
    refused (InvalidInput on that field, with `existing_id`): staff open that one instead."""
    name = _clean_text("name", name, NAME_MAX_LENGTH)
    notes = _clean_text("notes", notes)
    email, phone = clean_identity(email, phone)
    tag_names = clean_tag_names(tags)
    custom_fields = clean_custom_fields(custom_fields)
    if not (name or email or phone):
        raise InvalidInput(fields={"name": [IDENTIFIABLE_MESSAGE]})
    refuse_conflicts(contact_identity_conflicts(workspace=workspace, email=email, phone=phone))
    now = timezone.now()
    contact = Contact(
        workspace=workspace,
        name=name,
        email=email,
        phone=phone,
        notes=notes,
        custom_fields=custom_fields,
        source=Contact.Source.MANUAL,
    )
    set_consent(
        contact,
        "email",
        _clean_bool("email_consent", email_consent),
        now=now,
        source=CONSENT_SOURCE_STAFF,
    )
    set_consent(
        contact,
        "sms",
        _clean_bool("sms_consent", sms_consent),
        now=now,
        source=CONSENT_SOURCE_STAFF,
    )
    with transaction.atomic():
        _save_identity(contact, contact.save)
        if tag_names:
            contact.tags.set(tags_resolve(workspace=workspace, names=tag_names))
        contact_created.send(sender=Contact, contact=contact)
    log.info(
        "contact_created",
        contact_id=contact.pk,
        source=contact.source,
        actor=getattr(actor, "pk", None),
    )
    return contact


def contact_update(*, contact: Contact, actor, **changes: Any) -> Contact:
    """Change a contact's details. `tags` (names) and `custom_fields` replace what was there;
    consent turned on is recorded as given to staff now, turned off is cleared. Everything is
    checked before anything changes: a refusal leaves the contact as it was."""
    unknown = sorted(set(changes) - UPDATABLE_FIELDS)
    if unknown:
        raise InvalidInput(fields={field: ["This field cannot be changed."] for field in unknown})
    values: dict[str, Any] = {}
    if "name" in changes:
        values["name"] = _clean_text("name", changes["name"], NAME_MAX_LENGTH)
    if "notes" in changes:
        values["notes"] = _clean_text("notes", changes["notes"])
    if "email" in changes or "phone" in changes:
        email, phone = clean_identity(
            _clean_text("email", changes.get("email")), _clean_text("phone", changes.get("phone"))
        )
        values.update({"email": email} if "email" in changes else {})
        values.update({"phone": phone} if "phone" in changes else {})
        refuse_conflicts(
            contact_identity_conflicts(
                workspace=contact.workspace_id,
                email=values.get("email", ""),
                phone=values.get("phone", ""),
                exclude_pk=contact.pk,
            )
        )
    if not any(values.get(f, getattr(contact, f)) for f in ("name", "email", "phone")):
        blanked = [f for f in ("name", "email", "phone") if f in changes]
        raise InvalidInput(fields={field: [IDENTIFIABLE_MESSAGE] for field in blanked})
    if "custom_fields" in changes:
        values["custom_fields"] = clean_custom_fields(changes["custom_fields"])
    consent = {
        channel: _clean_bool(f"{channel}_consent", changes[f"{channel}_consent"])
        for channel in ("email", "sms")
        if f"{channel}_consent" in changes
    }
    tag_names = clean_tag_names(changes["tags"]) if "tags" in changes else None

    for field, value in values.items():
        setattr(contact, field, value)
    changed = list(values)
    now = timezone.now()
    for channel, granted in consent.items():
        changed += set_consent(contact, channel, granted, now=now, source=CONSENT_SOURCE_STAFF)
    with transaction.atomic():
        if changed:
            _save_identity(contact, lambda: contact.save(update_fields=[*changed, "updated_at"]))
        if tag_names is not None:
            contact.tags.set(tags_resolve(workspace=contact.workspace, names=tag_names))
    log.info(
        "contact_updated",
        contact_id=contact.pk,
        fields=sorted(changes),
        actor=getattr(actor, "pk", None),
    )
    return contact

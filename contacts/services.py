"""Writes for contacts: create, update, deduplicate, merge."""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from careops.errors import InvalidInput
from contacts.models import Contact, Tag, normalize_email, normalize_phone

log = structlog.get_logger(__name__)

# How many times an upsert re-reads after losing a race to insert the same person.
UPSERT_ATTEMPTS = 3


def clean_identity(email: str | None, phone: str | None) -> tuple[str, str]:
    """Normalized (email, phone), or InvalidInput naming the field that is not valid."""
    errors: dict[str, list[str]] = {}
    email = normalize_email(email)
    if email:
        from django.core.validators import validate_email

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


def _grant_consent(contact: Contact, channel: str, source: str, now) -> list[str]:
    if getattr(contact, f"{channel}_consent"):
        return []
    setattr(contact, f"{channel}_consent", True)
    setattr(contact, f"{channel}_consent_at", now)
    setattr(contact, f"{channel}_consent_source", source)
    return [f"{channel}_consent", f"{channel}_consent_at", f"{channel}_consent_source"]


def _find(workspace, email: str, phone: str) -> Contact | None:
    """The contact with this email, else the one with this phone. Two different people are
    never folded together here: that is an owner's merge."""
    if email:
        found = Contact.objects.for_workspace(workspace).filter(email=email).first()
        if found is not None:
            return found
    if phone:
        return Contact.objects.for_workspace(workspace).filter(phone=phone).first()
    return None


def contact_upsert(
    *,
    workspace,
    email: str | None = "",
    phone: str | None = "",
    name: str = "",
    source: str = Contact.Source.MANUAL,
    email_consent: bool = False,
    sms_consent: bool = False,
    consent_source: str = "",
) -> tuple[Contact, bool]:
    """The workspace's contact for this email or phone, created if new. Returns (contact,
    created). Fills in what the existing contact lacks (name, the other address) and records
    consent given now; never overwrites what staff entered. Safe under concurrent calls: two
    submissions with the same email make one contact."""
    email, phone = clean_identity(email, phone)
    name = (name or "").strip()
    if not (email or phone):
        raise InvalidInput(fields={"email": ["Give an email address or a phone number."]})
    now = timezone.now()
    consent_source = consent_source or source
    for _ in range(UPSERT_ATTEMPTS):
        contact = _find(workspace, email, phone)
        if contact is None:
            contact = Contact(workspace=workspace, name=name, email=email, phone=phone)
            contact.source = source
            if email_consent:
                _grant_consent(contact, "email", consent_source, now)
            if sms_consent:
                _grant_consent(contact, "sms", consent_source, now)
            try:
                with transaction.atomic():
                    contact.save()
            except IntegrityError:
                continue  # someone inserted the same person a moment ago: read theirs
            log.info("contact_created", contact_id=contact.pk, source=source)
            return contact, True
        changed: list[str] = []
        if name and not contact.name:
            contact.name, changed = name, [*changed, "name"]
        for field, value in (("email", email), ("phone", phone)):
            taken = (
                Contact.objects.for_workspace(workspace)
                .filter(**{field: value})
                .exclude(pk=contact.pk)
                .exists()
            )
            if value and not getattr(contact, field) and not taken:
                setattr(contact, field, value)
                changed.append(field)
        if email_consent:
            changed += _grant_consent(contact, "email", consent_source, now)
        if sms_consent:
            changed += _grant_consent(contact, "sms", consent_source, now)
        if changed:
            try:
                with transaction.atomic():
                    contact.save(update_fields=[*changed, "updated_at"])
            except IntegrityError:
                continue  # the address was taken meanwhile: start over
        return contact, False
    raise InvalidInput(fields={"email": ["This contact is being changed: try again."]})


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


def contact_snapshot(contact: Contact) -> dict[str, Any]:
    return {
        "id": contact.pk,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "source": contact.source,
        "notes": contact.notes,
        "custom_fields": contact.custom_fields,
        "tags": sorted(t.name for t in contact.tags.all()),
        "created_at": contact.created_at.isoformat(),
    }


def contact_form_submit(
    *,
    workspace,
    message: str,
    name: str = "",
    email: str = "",
    phone: str = "",
    subject: str = "",
    email_consent: bool = False,
    sms_consent: bool = False,
) -> Contact:
    """A person wrote through the public contact form: their contact is created or updated,
    and contact_form_submitted lets messaging store what they wrote, all in one transaction."""
    from contacts.signals import contact_form_submitted

    message = (message or "").strip()
    if not message:
        raise InvalidInput(fields={"message": ["Write a message."]})
    with transaction.atomic():
        contact, _ = contact_upsert(
            workspace=workspace,
            email=email,
            phone=phone,
            name=name,
            source=Contact.Source.CONTACT_FORM,
            email_consent=email_consent,
            sms_consent=sms_consent,
        )
        contact_form_submitted.send(
            sender=Contact, workspace=workspace, contact=contact, subject=subject, body=message
        )
    log.info("contact_form_submitted", contact_id=contact.pk, workspace_id=workspace.pk)
    return contact

"""Contacts written by the people themselves: the public form, inbound messages, imports.
One contact per email and per phone, whoever wins a race to insert it."""

from __future__ import annotations

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from careops.errors import InvalidInput
from contacts.models import Contact
from contacts.services.identity import clean_identity, set_consent
from contacts.signals import contact_created, contact_form_submitted

log = structlog.get_logger(__name__)

# How many times an upsert re-reads after losing a race to insert the same person.
UPSERT_ATTEMPTS = 3


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
                set_consent(contact, "email", True, now=now, source=consent_source)
            if sms_consent:
                set_consent(contact, "sms", True, now=now, source=consent_source)
            try:
                with transaction.atomic():
                    contact.save()
                    contact_created.send(sender=Contact, contact=contact)
            except IntegrityError:
                continue  # someone inserted the same person a moment ago: read theirs
            log.info("contact_created", contact_id=contact.pk, source=source)
            return contact, True
        changed: list[str] = []
        if name and not contact.name:
            contact.name, changed = name, [*changed, "name"]
        for field, value in (("email", email), ("phone", phone)):
            if not value or getattr(contact, field):
                continue
            taken = (
                Contact.objects.for_workspace(workspace)
                .filter(**{field: value})
                .exclude(pk=contact.pk)
                .exists()
            )
            if not taken:  # another contact's address: leave it there (no automatic merge)
                setattr(contact, field, value)
                changed.append(field)
        if email_consent:
            changed += set_consent(contact, "email", True, now=now, source=consent_source)
        if sms_consent:
            changed += set_consent(contact, "sms", True, now=now, source=consent_source)
        if changed:
            try:
                with transaction.atomic():
                    contact.save(update_fields=[*changed, "updated_at"])
            except IntegrityError:
                continue  # the address was taken meanwhile: start over
        return contact, False
    raise InvalidInput(fields={"email": ["This contact is being changed: try again."]})


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
    and contact_form_submitted lets messaging store what they wrote, all in one transaction.
    WorkspaceNotLive while the owner is still setting the workspace up."""
    workspace.check_accepting_clients()
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

"""Writes for contacts: create, update, deduplicate, merge."""

from __future__ import annotations

from typing import Any

import structlog
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from careops.errors import InvalidInput, NotFound
from contacts.links import contact_links
from contacts.models import Contact, ContactMerge, Tag, normalize_email, normalize_phone

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


# --- Staff's own edits: create, update -------------------------------------------------------

CONSENT_SOURCE_STAFF = "staff"
MAX_CUSTOM_FIELDS = 50
MAX_CUSTOM_KEY_LENGTH = 100
MAX_TAGS = 50
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
        elif isinstance(item, list):
            if not all(isinstance(v, scalar) for v in item):
                problems.append(f"'{key}': a list may hold only text, numbers or true/false.")
        elif not isinstance(item, scalar):
            problems.append(f"'{key}': a value must be text, a number or true/false.")
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


def _refuse_conflicts(taken: dict[str, Contact]) -> None:
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


def _set_consent(contact: Contact, channel: str, granted: bool, now) -> list[str]:
    """Turning consent on records when and that staff recorded it; off clears the record."""
    if getattr(contact, f"{channel}_consent") == granted:
        return []
    setattr(contact, f"{channel}_consent", granted)
    setattr(contact, f"{channel}_consent_at", now if granted else None)
    setattr(contact, f"{channel}_consent_source", CONSENT_SOURCE_STAFF if granted else "")
    return [f"{channel}_consent", f"{channel}_consent_at", f"{channel}_consent_source"]


def _save_identity(contact: Contact, save) -> None:
    """Run `save`; a concurrent writer taking the same email or phone becomes a field error."""
    try:
        with transaction.atomic():
            save()
    except IntegrityError:
        _refuse_conflicts(
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
    _refuse_conflicts(contact_identity_conflicts(workspace=workspace, email=email, phone=phone))
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
    _set_consent(contact, "email", _clean_bool("email_consent", email_consent), now)
    _set_consent(contact, "sms", _clean_bool("sms_consent", sms_consent), now)
    with transaction.atomic():
        _save_identity(contact, contact.save)
        if tag_names:
            contact.tags.set(tags_resolve(workspace=workspace, names=tag_names))
    log.info("contact_created", contact_id=contact.pk, source=contact.source, actor=_pk(actor))
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
        _refuse_conflicts(
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
        changed += _set_consent(contact, channel, granted, now)
    with transaction.atomic():
        if changed:
            _save_identity(contact, lambda: contact.save(update_fields=[*changed, "updated_at"]))
        if tag_names is not None:
            contact.tags.set(tags_resolve(workspace=contact.workspace, names=tag_names))
    log.info("contact_updated", contact_id=contact.pk, fields=sorted(changes), actor=_pk(actor))
    return contact


def _pk(actor) -> int | None:
    return getattr(actor, "pk", None)


# --- Merge -----------------------------------------------------------------------------------


def _merged_values(survivor: Contact, merged: Contact) -> tuple[dict[str, Any], list[str]]:
    """What the survivor becomes: its own values, blanks filled from the merged contact, notes
    appended, custom fields merged (survivor wins), consent kept where either side gave it.
    A differing email or phone of the merged contact is kept in custom_fields lists."""
    values: dict[str, Any] = {}
    custom = {**merged.custom_fields, **survivor.custom_fields}
    for field, key in (("email", "merged_emails"), ("phone", "merged_phones")):
        own, theirs = getattr(survivor, field), getattr(merged, field)
        kept = [
            *_as_list(survivor.custom_fields.get(key)),
            *_as_list(merged.custom_fields.get(key)),
        ]
        if theirs and not own:
            values[field] = theirs
        elif theirs and theirs != own:
            kept.append(theirs)
        if kept:
            custom[key] = list(dict.fromkeys(kept))
    if merged.name and not survivor.name:
        values["name"] = merged.name
    if merged.notes.strip():
        values["notes"] = "\n\n".join(filter(None, [survivor.notes.strip(), merged.notes.strip()]))
    values["custom_fields"] = custom
    for channel in ("email", "sms"):
        if getattr(merged, f"{channel}_consent") and not getattr(survivor, f"{channel}_consent"):
            for suffix in ("consent", "consent_at", "consent_source"):
                values[f"{channel}_{suffix}"] = getattr(merged, f"{channel}_{suffix}")
    return values, list(values)


def _as_list(value: Any) -> list:
    if value is None or value == "":
        return []
    return list(value) if isinstance(value, list) else [value]


def contact_merge(*, survivor: Contact, merged: Contact, actor) -> ContactMerge:
    """Fold `merged` into `survivor` (an owner's decision; nothing merges by itself).

    Every domain's rows (conversations and messages, bookings, form submissions) move through
    contacts.links, tags are unioned, blanks filled, and a ContactMerge records the merged
    contact as it was and how many rows of each kind moved.
    """
    if survivor.workspace_id != merged.workspace_id:
        raise NotFound("Contact not found.")
    if survivor.pk == merged.pk:
        message = "A contact cannot be merged with itself."
        raise InvalidInput(message, fields={"other_id": [message]})
    with transaction.atomic():
        # Both rows locked, in id order so two merges of the same pair cannot deadlock; the
        # values are re-read under the lock.
        locked = {
            c.pk: c
            for c in Contact.objects.select_for_update()
            .filter(workspace_id=survivor.workspace_id, pk__in=[survivor.pk, merged.pk])
            .order_by("pk")
        }
        if len(locked) != 2:
            raise NotFound("Contact not found.")
        survivor, merged = locked[survivor.pk], locked[merged.pk]
        merged_tags = list(merged.tags.all())
        snapshot = {
            **contact_snapshot(merged),
            "email_consent": merged.email_consent,
            "sms_consent": merged.sms_consent,
        }
        moved = {link.key: link.reassign(merged, survivor) for link in contact_links()}
        survivor.tags.add(*merged_tags)
        moved["tags"] = len(merged_tags)
        # Earlier merges into the merged contact now belong to the survivor's history.
        moved["merges"] = ContactMerge.objects.filter(survivor=merged).update(survivor=survivor)
        values, fields = _merged_values(survivor, merged)
        merged_pk = merged.pk
        # The merged row holds the unique email/phone the survivor may take over: it goes first.
        merged.delete()
        for field, value in values.items():
            setattr(survivor, field, value)
        survivor.save(update_fields=[*fields, "updated_at"])
        record = ContactMerge.objects.create(
            workspace_id=survivor.workspace_id,
            survivor=survivor,
            merged_contact_id=merged_pk,
            merged_snapshot=snapshot,
            moved=moved,
            actor=actor if getattr(actor, "pk", None) else None,
        )
    log.info(
        "contact_merged",
        survivor_id=survivor.pk,
        merged_id=merged_pk,
        moved=moved,
        actor=_pk(actor),
    )
    return record

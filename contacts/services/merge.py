"""Merging two contacts: an owner's decision, never automatic."""

from __future__ import annotations

from typing import Any

import structlog
from django.db import transaction

from careops.errors import InvalidInput, NotFound
from contacts.links import contact_links
from contacts.models import Contact, ContactMerge

log = structlog.get_logger(__name__)


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
        actor=getattr(actor, "pk", None),
    )
    return record

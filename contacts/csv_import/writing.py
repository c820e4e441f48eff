"""The second pass of an import: upsert the accepted rows, as contact_upsert would one by one,
in batches written with a few queries each."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable

import structlog
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from contacts.csv_import.rows import LOOKUP_BATCH, ImportReport, Row, existing_contacts
from contacts.models import Contact
from contacts.services import contact_upsert
from contacts.services.identity import set_consent, tags_resolve_many

log = structlog.get_logger(__name__)

# Rows between two calls of the progress callback.
PROGRESS_EVERY = 100
# Rows written per savepoint. A batch that loses a race to another writer is redone row by row.
WRITE_BATCH = 500
CONSENT_SOURCE = "import"


class _Directory:
    """The contacts the rows name, by email and by phone, as the import changes them: what
    contact_upsert would read from the database, kept in memory from batch to batch."""

    def __init__(self, contacts: Iterable[Contact]):
        self.by_email: dict[str, Contact] = {}
        self.by_phone: dict[str, Contact] = {}
        for contact in contacts:
            self.add(contact)

    def add(self, contact: Contact) -> None:
        if contact.email:
            self.by_email.setdefault(contact.email, contact)
        if contact.phone:
            self.by_phone.setdefault(contact.phone, contact)

    def upsert(self, workspace, row: Row, now) -> tuple[Contact, bool, set[str]]:
        """contact_upsert in memory, and to be kept in step with it: (contact, created, the
        fields of an existing contact that changed)."""
        contact = self.by_email.get(row.email) if row.email else None
        if contact is None and row.phone:
            contact = self.by_phone.get(row.phone)
        changed: set[str] = set()
        created = contact is None
        if contact is None:
            contact = Contact(
                workspace=workspace,
                name=row.name,
                email=row.email,
                phone=row.phone,
                source=Contact.Source.IMPORT,
            )
        else:
            if row.name and not contact.name:
                contact.name = row.name
                changed.add("name")
            # The other address, when no one else has it (no automatic merge).
            for field_name, owners in (("email", self.by_email), ("phone", self.by_phone)):
                value = getattr(row, field_name)
                if value and not getattr(contact, field_name) and value not in owners:
                    setattr(contact, field_name, value)
                    changed.add(field_name)
        for channel, granted in (("email", row.email_consent), ("sms", row.sms_consent)):
            if granted:
                changed.update(set_consent(contact, channel, True, now=now, source=CONSENT_SOURCE))
        self.add(contact)
        return contact, created, set() if created else changed


def _add_details(contact: Contact, row: Row) -> bool:
    """Append the row's notes and merge its custom fields; True if the contact changed."""
    changed = False
    if row.notes and row.notes not in contact.notes:
        contact.notes = f"{contact.notes}\n\n{row.notes}" if contact.notes else row.notes
        changed = True
    if row.custom_fields:
        current = contact.custom_fields if isinstance(contact.custom_fields, dict) else {}
        merged = {**current, **row.custom_fields}
        if merged != current:
            contact.custom_fields = merged
            changed = True
    return changed


def _tag_links(contacts: list[Contact]) -> set[tuple[int, int]]:
    """(contact id, tag id) of these contacts' tags."""
    links: set[tuple[int, int]] = set()
    pks = sorted(contact.pk for contact in contacts)
    for start in range(0, len(pks), LOOKUP_BATCH):
        batch = pks[start : start + LOOKUP_BATCH]
        links.update(
            Contact.tags.through.objects.filter(contact_id__in=batch).values_list(
                "contact_id", "tag_id"
            )
        )
    return links


def _link_tags(links: set[tuple[int, int]], linked: set[tuple[int, int]]) -> None:
    """Add the links, but those known to be there already (`linked`: a re-import is mostly
    those); a link someone added meanwhile is skipped by the database."""
    Contact.tags.through.objects.bulk_create(
        [Contact.tags.through(contact_id=c, tag_id=t) for c, t in sorted(links - linked)],
        ignore_conflicts=True,
        batch_size=1_000,
    )


def _write_batch(
    workspace,
    directory: _Directory,
    rows: list[Row],
    tag_ids: dict[str, int],
    linked: set[tuple[int, int]],
) -> tuple[int, int]:
    """Upsert the rows with a few queries: (created, updated). Raises IntegrityError, leaving
    the directory out of date, when another writer took one of their addresses since the read."""
    now = timezone.now()
    created: list[Contact] = []
    changed: dict[int, tuple[Contact, set[str]]] = {}
    rows_tags: list[tuple[Contact, list[str]]] = []
    for row in rows:
        contact, is_new, fields = directory.upsert(workspace, row, now)
        if is_new:
            created.append(contact)
        if _add_details(contact, row):
            fields |= {"notes", "custom_fields"}
        # A contact an earlier batch inserted has its id by now: it is updated like any other.
        if fields and contact.pk is not None:
            changed.setdefault(contact.pk, (contact, set()))[1].update(fields)
        rows_tags.append((contact, row.tags))
    Contact.objects.bulk_create(created, batch_size=WRITE_BATCH)
    # Only the fields that changed, as contact_upsert saves them: a concurrent edit of another
    # field stays.
    by_fields: dict[frozenset[str], list[Contact]] = defaultdict(list)
    for contact, fields in changed.values():
        contact.updated_at = now
        by_fields[frozenset(fields)].append(contact)
    for fields, contacts in by_fields.items():
        Contact.objects.bulk_update(contacts, sorted({*fields, "updated_at"}))
    _link_tags(
        {(contact.pk, tag_ids[tag.lower()]) for contact, tags in rows_tags for tag in tags}, linked
    )
    return len(created), len(rows) - len(created)


def _write_rows_one_by_one(workspace, rows: list[Row], tag_ids: dict[str, int]) -> tuple[int, int]:
    """Upsert the rows through contact_upsert, which reads each person afresh: (created,
    updated)."""
    created = 0
    links: set[tuple[int, int]] = set()
    for row in rows:
        contact, is_new = contact_upsert(
            workspace=workspace,
            email=row.email,
            phone=row.phone,
            name=row.name,
            source=Contact.Source.IMPORT,
            email_consent=row.email_consent,
            sms_consent=row.sms_consent,
            consent_source=CONSENT_SOURCE,
        )
        created += is_new
        if _add_details(contact, row):
            contact.save(update_fields=["notes", "custom_fields", "updated_at"])
        links.update((contact.pk, tag_ids[tag.lower()]) for tag in row.tags)
    _link_tags(links, set())
    return created, len(rows) - created


def write(
    workspace,
    existing: list[Contact],
    rows: list[Row],
    report: ImportReport,
    progress: Callable[[int, int], None] | None,
) -> None:
    """The second pass, inside the import's transaction: upsert the accepted rows in batches."""
    tag_names = {tag.lower(): tag for row in rows for tag in row.tags}
    tags = tags_resolve_many(workspace=workspace, names=tag_names.values())
    tag_ids = {key: tag.pk for key, tag in tags.items()}
    # Without ids back from a bulk insert (SQLite before 3.35) there is nothing to link tags to.
    in_bulk = connection.features.can_return_rows_from_bulk_insert
    directory = _Directory(existing) if in_bulk else None
    linked = _tag_links(existing) if in_bulk and tag_ids else set()
    for start in range(0, len(rows), WRITE_BATCH):
        batch = rows[start : start + WRITE_BATCH]
        counts = None
        if directory is not None:
            try:
                with transaction.atomic():
                    counts = _write_batch(workspace, directory, batch, tag_ids, linked)
            except IntegrityError:
                # Someone (a form submission, another import) inserted one of these people
                # since the read: contact_upsert finds them, row by row.
                log.info("contacts_import_raced", workspace_id=workspace.pk, row=batch[0].number)
        if counts is None:
            counts = _write_rows_one_by_one(workspace, batch, tag_ids)
            if in_bulk:  # the directory is out of date: read the rest afresh
                directory = _Directory(existing_contacts(workspace, rows[start + len(batch) :]))
        report.created += counts[0]
        report.updated += counts[1]
        if progress is not None:
            for done in range(start + 1, start + len(batch) + 1):
                if done % PROGRESS_EVERY == 0 or done == len(rows):
                    progress(done, len(rows))

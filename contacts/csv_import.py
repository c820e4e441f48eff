"""Contacts from a CSV file: all or nothing for the file, with a report of every row.

The import works in two passes. The first reads the whole file and refuses it as a whole when it
is not a CSV file we can read (nothing is written). It then checks each row and works out, with
the workspace's existing contacts read in a few batched queries, which person each row names, so
that a row whose email and phone belong to two different people is rejected with its reason. The
second pass upserts the good rows in one transaction, as `contact_upsert` would one by one, but in
batches: it follows the rows in memory over the contacts already read, then inserts the new
contacts, updates the changed ones and links the tags with a few queries per batch. A batch that
meets a contact another writer inserted since the read is redone row by row with `contact_upsert`.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import structlog
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from careops.errors import InvalidInput
from contacts.csv_export import FORMULA_TRIGGERS
from contacts.models import Contact, normalize_email
from contacts.services import clean_custom_fields, clean_identity, contact_upsert
from contacts.services.identity import set_consent, tags_resolve_many

log = structlog.get_logger(__name__)

MAX_ROWS = 50_000
MAX_BYTES = 10 * 1024 * 1024
# Rows between two calls of the progress callback.
PROGRESS_EVERY = 100
# Identities per `IN (...)` lookup: PostgreSQL takes at most 65,535 parameters per query.
LOOKUP_BATCH = 5_000
# Rows written per savepoint. A batch that loses a race to another writer is redone row by row.
WRITE_BATCH = 500
CONSENT_SOURCE = "import"

TRUE_WORDS = {"true", "yes", "y", "1", "x", "on", "t"}
FALSE_WORDS = {"false", "no", "n", "0", "off", "f", ""}

# Header (lower-cased, runs of spaces, dashes and underscores as one "_") -> our field.
COLUMN_ALIASES = {
    "name": "name",
    "full_name": "name",
    "fullname": "name",
    "contact_name": "name",
    "client_name": "name",
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "forename": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "email": "email",
    "e_mail": "email",
    "email_address": "email",
    "e_mail_address": "email",
    "mail": "email",
    "phone": "phone",
    "phone_number": "phone",
    "telephone": "phone",
    "tel": "phone",
    "mobile": "phone",
    "mobile_phone": "phone",
    "mobile_number": "phone",
    "cell": "phone",
    "tags": "tags",
    "tag": "tags",
    "labels": "tags",
    "groups": "tags",
    "notes": "notes",
    "note": "notes",
    "comments": "notes",
    "email_consent": "email_consent",
    "email_opt_in": "email_consent",
    "email_optin": "email_consent",
    "sms_consent": "sms_consent",
    "sms_opt_in": "sms_consent",
    "sms_optin": "sms_consent",
    "custom_fields": "custom_fields",
    # What our own export writes and an import must not take for custom fields.
    "id": "ignore",
    "source": "ignore",
    "created_at": "ignore",
    "updated_at": "ignore",
}
TAG_SEPARATORS = re.compile(r"[;|]")


# --- The report --------------------------------------------------------------------------------


@dataclass
class RejectedRow:
    row: int  # as a spreadsheet numbers it: the header is row 1
    reason: str


@dataclass
class ImportReport:
    """Each row with data is created, updated (it named a contact that exists, or one an earlier
    row of the file created) or rejected: created + updated + len(rejected) == total."""

    created: int = 0
    updated: int = 0
    rejected: list[RejectedRow] = field(default_factory=list)
    total: int = 0

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Row:
    number: int
    name: str
    email: str
    phone: str
    tags: list[str]
    notes: str
    custom_fields: dict[str, str]
    email_consent: bool
    sms_consent: bool


# --- Reading the file --------------------------------------------------------------------------


def _refuse(message: str) -> InvalidInput:
    return InvalidInput(message, fields={"file": [message]})


def _read_text(file: Any) -> str:
    size = getattr(file, "size", None)
    if size is not None and size > MAX_BYTES:
        raise _refuse(_too_big_message())
    data = file if isinstance(file, bytes | str) else file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise _refuse(_too_big_message())
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise _refuse(
                'The file is not UTF-8 text. In your spreadsheet, save it as "CSV UTF-8".'
            ) from None
    data = data.removeprefix("\ufeff")
    if not data.strip():
        raise _refuse("The file is empty.")
    if "\x00" in data:
        raise _refuse("This does not look like a CSV file.")
    return data


def _too_big_message() -> str:
    return f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB: split it into smaller files."


def _delimiter(first_line: str) -> str:
    """Spreadsheets in many locales write ";" between cells; a header line says which it is."""
    counts = {sep: first_line.count(sep) for sep in (",", ";", "\t")}
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _header_key(header: str) -> str:
    return re.sub(r"[\s_\-]+", "_", header.strip().lower()).strip("_")


def _columns(header: list[str]) -> list[tuple[str, str]]:
    """(field, original header) per column; field "custom" for any other column."""
    columns: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in header:
        label = raw.strip()
        field_name = COLUMN_ALIASES.get(_header_key(label), "custom") if label else "ignore"
        key = field_name if field_name != "custom" else f"custom:{label.lower()}"
        if field_name != "ignore":
            if key in seen:
                raise _refuse(f'The column "{label}" appears twice.')
            seen.add(key)
        columns.append((field_name, label))
    if "email" not in seen and "phone" not in seen:
        found = ", ".join(label for _, label in columns if label)[:200]
        raise _refuse(
            "The first row must name the columns, with an email or a phone column "
            f"(found: {found or 'nothing'})."
        )
    return columns


def _records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    first_line = text.split("\n", 1)[0]
    reader = csv.reader(
        io.StringIO(text, newline=""), delimiter=_delimiter(first_line), strict=True
    )
    try:
        header = next(reader)
        records = []
        for number, record in enumerate(reader, start=2):
            if not any(cell.strip() for cell in record):
                continue  # a blank line is not a row
            if len(records) >= MAX_ROWS:
                raise _refuse(f"The file has more than {MAX_ROWS:,} rows: split it.")
            records.append((number, record))
    except csv.Error as exc:
        raise _refuse(f"This does not look like a CSV file ({exc}).") from None
    return header, records


# --- Checking the rows -------------------------------------------------------------------------


def _unquote(value: str) -> str:
    """Undo the export's guard against formulas ('=SUM...) so that an export imports back."""
    value = value.strip()
    if len(value) > 1 and value[0] == "'" and value[1] in FORMULA_TRIGGERS:
        return value[1:]
    return value


def _flag(value: str, column: str) -> bool:
    word = value.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ValueError(f'{column} must be yes or no, not "{value[:40]}".')


def _custom_json(value: str) -> dict[str, Any]:
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ValueError("custom_fields is not valid JSON.") from None
    if not isinstance(parsed, dict):
        raise ValueError("custom_fields must be a JSON object.")
    return parsed


def _identity(email: str, phone: str) -> tuple[str, list[str]]:
    """The phone in E.164 (parsed once: it is the slow part of a row), and what is wrong with
    the email and phone."""
    problems = []
    if email and len(email) > 254:
        problems.append("The email address is longer than 254 characters.")
    try:
        phone = clean_identity(email, phone)[1]
    except InvalidInput as exc:
        if "email" in exc.fields:
            problems.append(f'"{email[:80]}" is not a valid email address.')
        if "phone" in exc.fields:
            problems.append(f'"{phone[:40]}" is not a valid phone number.')
    return phone, problems


def _parse_row(number: int, record: list[str], columns: list[tuple[str, str]]) -> _Row | str:
    """The row's values, or the reason it is rejected."""
    if len(record) > len(columns) and any(cell.strip() for cell in record[len(columns) :]):
        return f"The row has {len(record)} cells but the header names {len(columns)} columns."
    values: dict[str, str] = {}
    custom: dict[str, Any] = {}
    for (field_name, label), raw in zip(columns, record, strict=False):
        value = _unquote(raw)
        if field_name == "custom":
            if value:
                custom[label] = value
        elif field_name != "ignore":
            values[field_name] = value
    try:
        email_consent = _flag(values.get("email_consent", ""), "email_consent")
        sms_consent = _flag(values.get("sms_consent", ""), "sms_consent")
        custom = clean_custom_fields({**_custom_json(values.get("custom_fields", "")), **custom})
    except ValueError as exc:
        return str(exc)
    except InvalidInput as exc:
        return " ".join(str(problem) for problem in exc.fields.get("custom_fields", [exc.message]))
    email = normalize_email(values.get("email"))
    phone = values.get("phone", "")
    if not (email or phone):
        return "No email address and no phone number."
    phone, problems = _identity(email, phone)
    if problems:
        return " ".join(problems)
    name = values.get("name") or " ".join(
        part for part in (values.get("first_name", ""), values.get("last_name", "")) if part
    )
    name = " ".join(name.split())
    if len(name) > 200:
        return "The name is longer than 200 characters."
    tags: dict[str, str] = {}
    for raw_tag in TAG_SEPARATORS.split(values.get("tags", "")):
        tag = raw_tag.strip()[:50]
        if tag:
            tags.setdefault(tag.lower(), tag)
    return _Row(
        number=number,
        name=name,
        email=email,
        phone=phone,
        tags=list(tags.values()),
        notes=values.get("notes", "").strip(),
        custom_fields=custom,
        email_consent=email_consent,
        sms_consent=sms_consent,
    )


def _batches(values: Iterable[str]) -> Iterator[list[str]]:
    items = sorted(values)
    for start in range(0, len(items), LOOKUP_BATCH):
        yield items[start : start + LOOKUP_BATCH]


def _existing_contacts(workspace, rows: list[_Row]) -> list[Contact]:
    """The workspace's contacts that any row names, each once."""
    found: dict[int, Contact] = {}
    contacts = Contact.objects.for_workspace(workspace)
    for field_name in ("email", "phone"):
        # A phone that a contact found by email holds is no one else's: no need to ask again.
        known = {getattr(contact, field_name) for contact in found.values()}
        wanted = {getattr(row, field_name) for row in rows} - known - {""}
        for batch in _batches(wanted):
            for contact in contacts.filter(**{f"{field_name}__in": batch}):
                found.setdefault(contact.pk, contact)
    return list(found.values())


def _reject_conflicts(
    existing: list[Contact], rows: list[_Row], report: ImportReport
) -> list[_Row]:
    """Follow the rows as contact_upsert will apply them, in order, and reject a row whose email
    and phone name two different people: merging them is an owner's decision, not an import's."""
    email_owner: dict[str, Any] = {}
    phone_owner: dict[str, Any] = {}
    has: dict[Any, dict[str, bool]] = {}
    for contact in existing:
        pk, email, phone = contact.pk, contact.email, contact.phone
        if email:
            email_owner[email] = pk
        if phone:
            phone_owner[phone] = pk
        has[pk] = {"email": bool(email), "phone": bool(phone)}

    def describe(key: Any) -> str:
        return f"the contact of row {key[1]}" if isinstance(key, tuple) else f"contact #{key}"

    accepted = []
    for row in rows:
        by_email = email_owner.get(row.email) if row.email else None
        by_phone = phone_owner.get(row.phone) if row.phone else None
        if by_email is not None and by_phone is not None and by_email != by_phone:
            report.rejected.append(
                RejectedRow(
                    row.number,
                    f"The email belongs to {describe(by_email)} and the phone to "
                    f"{describe(by_phone)}: merge them first.",
                )
            )
            continue
        key = by_email if by_email is not None else by_phone
        if key is None:
            key = ("row", row.number)
            has[key] = {"email": False, "phone": False}
        # contact_upsert gives a contact an address it lacks, when no one else has it.
        for field_name, owners in (("email", email_owner), ("phone", phone_owner)):
            value = getattr(row, field_name)
            if value and value not in owners and not has[key][field_name]:
                owners[value] = key
                has[key][field_name] = True
        accepted.append(row)
    return accepted


# --- Writing -----------------------------------------------------------------------------------


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

    def upsert(self, workspace, row: _Row, now) -> tuple[Contact, bool, set[str]]:
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


def _add_details(contact: Contact, row: _Row) -> bool:
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
    rows: list[_Row],
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


def _write_rows_one_by_one(workspace, rows: list[_Row], tag_ids: dict[str, int]) -> tuple[int, int]:
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


def _write(
    workspace,
    existing: list[Contact],
    rows: list[_Row],
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
                directory = _Directory(_existing_contacts(workspace, rows[start + len(batch) :]))
        report.created += counts[0]
        report.updated += counts[1]
        if progress is not None:
            for done in range(start + 1, start + len(batch) + 1):
                if done % PROGRESS_EVERY == 0 or done == len(rows):
                    progress(done, len(rows))


def contacts_import_csv(
    *,
    workspace,
    actor=None,
    file: Any,
    progress: Callable[[int, int], None] | None = None,
) -> ImportReport:
    """Upsert the contacts of a CSV file (bytes, text, or a file opened in binary mode).

    Refuses a file it cannot read as a whole (InvalidInput on "file", nothing written). Rejects
    rows without a usable email or phone, or whose email and phone belong to two different
    contacts, with their row number and reason. Upserts the other rows by email, then phone, in
    one transaction (source "import"): fills a blank name, adds tags, appends notes, merges custom
    fields and records consent. `progress(done, total)` hears how far the writing is.
    """
    text = _read_text(file)
    header, records = _records(text)
    columns = _columns(header)
    report = ImportReport(total=len(records))
    rows: list[_Row] = []
    for number, record in records:
        parsed = _parse_row(number, record, columns)
        if isinstance(parsed, str):
            report.rejected.append(RejectedRow(number, parsed))
        else:
            rows.append(parsed)
    with transaction.atomic():
        existing = _existing_contacts(workspace, rows)
        rows = _reject_conflicts(existing, rows, report)
        report.rejected.sort(key=lambda rejected: rejected.row)
        _write(workspace, existing, rows, report, progress)
    log.info(
        "contacts_imported",
        workspace_id=workspace.pk,
        actor_id=getattr(actor, "pk", None),
        created=report.created,
        updated=report.updated,
        rejected=len(report.rejected),
    )
    return report

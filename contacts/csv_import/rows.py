"""The first pass of an import: read the file (refused whole when it cannot be read), check each
row, and reject the rows whose email and phone name two different contacts."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from careops.errors import InvalidInput
from contacts.csv_export import FORMULA_TRIGGERS
from contacts.models import Contact, normalize_email
from contacts.services import clean_custom_fields, clean_identity
from contacts.services.identity import EMAIL_MAX_LENGTH

MAX_ROWS = 50_000
MAX_BYTES = 10 * 1024 * 1024
# Identities per `IN (...)` lookup: PostgreSQL takes at most 65,535 parameters per query.
LOOKUP_BATCH = 5_000

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
class Row:
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


def read_text(file: Any) -> str:
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
    else:
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: the database could not store them
            raise _refuse("The file is not UTF-8 text.") from None
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


def header_columns(header: list[str]) -> list[tuple[str, str]]:
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


def file_records(text: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
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
    """Undo the export's guard against formulas ('=SUM...) so that an export imports back. The
    export quotes a text starting with quotes before a formula sign once more ("'=x" -> "''=x"),
    so one quote comes off whenever quotes lead to a formula sign."""
    value = value.strip()
    if value.startswith("'") and value.lstrip("'").startswith(FORMULA_TRIGGERS):
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
    except RecursionError:  # "[[[[..." deeper than the parser's stack
        raise ValueError("custom_fields must be a JSON object of names and values.") from None
    if not isinstance(parsed, dict):
        raise ValueError("custom_fields must be a JSON object.")
    return parsed


def _identity(email: str, phone: str) -> tuple[str, list[str]]:
    """The phone in E.164 (parsed once: it is the slow part of a row), and what is wrong with
    the email and phone."""
    problems = []
    try:
        phone = clean_identity(email, phone)[1]
    except InvalidInput as exc:
        if "email" in exc.fields and len(email) > EMAIL_MAX_LENGTH:
            problems.append(f"The email address is longer than {EMAIL_MAX_LENGTH} characters.")
        elif "email" in exc.fields:
            problems.append(f'"{email[:80]}" is not a valid email address.')
        if "phone" in exc.fields:
            problems.append(f'"{phone[:40]}" is not a valid phone number.')
    return phone, problems


def parse_row(number: int, record: list[str], columns: list[tuple[str, str]]) -> Row | str:
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
    return Row(
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


def existing_contacts(workspace, rows: list[Row]) -> list[Contact]:
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


def reject_conflicts(existing: list[Contact], rows: list[Row], report: ImportReport) -> list[Row]:
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

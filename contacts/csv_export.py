"""Contacts to a CSV file: any filtered list of the contacts page, streamed."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from typing import Any

from django.http import StreamingHttpResponse
from django.utils import timezone

from careops.errors import InvalidInput
from contacts.models import Contact
from contacts.selectors import contacts_list

EXPORT_CHUNK = 1_000
EXPORT_COLUMNS = [
    "id",
    "name",
    "email",
    "phone",
    "source",
    "tags",
    "notes",
    "email_consent",
    "sms_consent",
    "created_at",
    "custom_fields",
]
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> str:
    """A value as a CSV cell that a spreadsheet shows and never runs as a formula."""
    text = "" if value is None else str(value)
    # A text that already starts with the quote the import takes off ("'=x") gets one more, so
    # that it imports back as it was.
    if text.lstrip("'").startswith(FORMULA_TRIGGERS):
        return "'" + text
    return text


def export_filters_clean(*, q: str = "", tag: str = "", source: str = "") -> dict[str, str]:
    """The list's filters for an export; InvalidInput for a source that does not exist, or a
    NUL character (PostgreSQL text cannot hold one: the streamed query would fail midway)."""
    for name, value in (("q", q), ("tag", tag), ("source", source)):
        if "\x00" in (value or ""):
            raise InvalidInput(fields={name: ["Null characters are not allowed."]})
    source = (source or "").strip()
    if source and source not in Contact.Source.values:
        raise InvalidInput(
            fields={"source": [f"Choose one of: {', '.join(Contact.Source.values)}."]}
        )
    return {"q": (q or "").strip(), "tag": (tag or "").strip(), "source": source}


def contacts_export_rows(
    *, workspace, q: str = "", tag: str = "", source: str = ""
) -> Iterator[list[str]]:
    """The header, then one row per contact of the filtered list, read in chunks."""
    yield EXPORT_COLUMNS
    contacts = contacts_list(workspace=workspace, q=q, tag=tag, source=source)
    for contact in contacts.iterator(chunk_size=EXPORT_CHUNK):
        row = [
            contact.pk,
            contact.name,
            contact.email,
            contact.phone,
            contact.source,
            "; ".join(tag.name for tag in contact.tags.all()),
            contact.notes,
            "true" if contact.email_consent else "false",
            "true" if contact.sms_consent else "false",
            contact.created_at.isoformat(),
            json.dumps(contact.custom_fields, ensure_ascii=False, sort_keys=True)
            if contact.custom_fields
            else "",
        ]
        yield [csv_cell(value) for value in row]


class _Echo:
    """A file-like object whose write() hands back the line csv.writer formatted."""

    def write(self, value: str) -> str:
        return value


def csv_lines(rows: Iterable[list[Any]]) -> Iterator[str]:
    """Each row as a CSV line, one at a time (for a streamed response)."""
    writer = csv.writer(_Echo())
    for row in rows:
        yield writer.writerow(row)


def contacts_export_lines(
    *, workspace, q: str = "", tag: str = "", source: str = ""
) -> Iterator[str]:
    return csv_lines(contacts_export_rows(workspace=workspace, q=q, tag=tag, source=source))


def contacts_export_response(
    *, workspace, q: str = "", tag: str = "", source: str = ""
) -> StreamingHttpResponse:
    """The filtered list as a streamed CSV download (with a BOM, so Excel reads it as UTF-8)."""
    filters = export_filters_clean(q=q, tag=tag, source=source)

    def content() -> Iterator[str]:
        yield "\ufeff"
        yield from contacts_export_lines(workspace=workspace, **filters)

    filename = f"contacts-{workspace.slug}-{timezone.localdate():%Y-%m-%d}.csv"
    response = StreamingHttpResponse(content(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response

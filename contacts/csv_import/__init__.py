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

from collections.abc import Callable
from typing import Any

import structlog
from django.db import transaction

from contacts.csv_import.rows import (
    MAX_BYTES,
    MAX_ROWS,
    ImportReport,
    RejectedRow,
    Row,
    existing_contacts,
    file_records,
    header_columns,
    parse_row,
    read_text,
    reject_conflicts,
)
from contacts.csv_import.writing import write

__all__ = ["MAX_BYTES", "MAX_ROWS", "ImportReport", "RejectedRow", "contacts_import_csv"]

log = structlog.get_logger(__name__)


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
    text = read_text(file)
    header, records = file_records(text)
    columns = header_columns(header)
    report = ImportReport(total=len(records))
    rows: list[Row] = []
    for number, record in records:
        parsed = parse_row(number, record, columns)
        if isinstance(parsed, str):
            report.rejected.append(RejectedRow(number, parsed))
        else:
            rows.append(parsed)
    with transaction.atomic():
        existing = existing_contacts(workspace, rows)
        rows = reject_conflicts(existing, rows, report)
        report.rejected.sort(key=lambda rejected: rejected.row)
        write(workspace, existing, rows, report, progress)
    log.info(
        "contacts_imported",
        workspace_id=workspace.pk,
        actor_id=getattr(actor, "pk", None),
        created=report.created,
        updated=report.updated,
        rejected=len(report.rejected),
    )
    return report

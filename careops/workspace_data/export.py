"""All of one workspace's data as a zip file: for a business leaving, or a data request.

Inside the zip:

    README.txt               what is where, in words
    manifest.json            the workspace, the export time, every file with its row count
    data/<app>.<table>.json  one per table (workspace_tables), a JSON array of plain objects,
                             one row per line, foreign keys as `<name>_id`
    contacts.csv             the contacts (the contacts page's export columns)
    bookings.csv             the bookings, times on the workspace's clock
    members.csv              who works there: email, name, role (never a password)
    files/<stored name>      every uploaded file (intake form attachments)

Secrets never leave in clear: integration credentials, webhook keys, calendar feed tokens and
the nonces of client links are masked as the API shows them (careops.crypto.mask). Rows are
read with server-side iteration, so memory stays flat whatever the size; the zip is written to
a temporary file beside the target and renamed into place, so a failure leaves no half zip.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models, transaction
from django.utils import timezone

from careops.crypto import EncryptedJSONField, mask
from careops.workspace_data.spreadsheets import bookings_csv_rows, members_csv_rows
from careops.workspace_data.tables import (
    Table,
    check_coverage,
    file_rows,
    stored_files,
    workspace_tables,
)
from contacts.csv_export import contacts_export_rows
from workspaces.models import Workspace

CHUNK = 2_000
FORMAT_VERSION = 1
# Field names that hold a secret or a part of a signed link. "key" alone is not one of them: a
# form's field_key and an automation run's key name things, they open nothing.
SECRET_NAME_PARTS = (
    "token",
    "secret",
    "nonce",
    "password",
    "credential",
    "api_key",
    "webhook_key",
    "signing_key",
    "idempotency_key",
)

Progress = Callable[[int, int], None]


def is_secret(f: models.Field) -> bool:
    return isinstance(f, EncryptedJSONField) or any(p in f.name for p in SECRET_NAME_PARTS)


def secret_fields(tables: list[Table] | None = None) -> list[str]:
    """`app.table.field` of every value the export masks."""
    tables = workspace_tables() if tables is None else tables
    return sorted(
        f"{t.label}.{f.name}" for t in tables for f in t.model._meta.concrete_fields if is_secret(f)
    )


def _masked(value: Any) -> Any:
    if value is None or value == "":
        return value
    if isinstance(value, dict):
        return {key: _masked(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_masked(item) for item in value]
    return mask(str(value))


def table_rows(table: Table, workspace) -> Iterator[dict[str, Any]]:
    """The table's rows of the workspace as plain dicts (secrets masked), by primary key."""
    fields = table.model._meta.concrete_fields
    names = [f.attname for f in fields]
    secret = [f.attname for f in fields if is_secret(f)]
    rows = table.rows(workspace).order_by("pk").values(*names)
    for row in rows.iterator(chunk_size=CHUNK):
        for name in secret:
            row[name] = _masked(row[name])
        yield row


def _file_count(tables: list[Table], workspace) -> int:
    return sum(rows.count() for table in tables for _, rows in file_rows(table, workspace))


@dataclass
class ExportReport:
    path: Path
    exported_at: str
    tables: dict[str, int] = field(default_factory=dict)  # label -> rows
    spreadsheets: dict[str, int] = field(default_factory=dict)  # file -> rows
    files: int = 0
    file_bytes: int = 0
    missing_files: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(self.tables.values())


class _Counter:
    """done/total for the progress bar, over rows and files together."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress

    def step(self) -> None:
        self.done += 1
        if self.progress is not None:
            self.progress(min(self.done, self.total), self.total)


def _entry(name: str) -> zipfile.ZipInfo:
    """A member of the zip, dated now (a bare name would be dated 1980) and compressed."""
    entry = zipfile.ZipInfo(name, date_time=timezone.localtime().timetuple()[:6])
    entry.compress_type = zipfile.ZIP_DEFLATED
    entry.external_attr = 0o600 << 16  # unpacked readable by its owner only, like the zip
    return entry


def _write_json_array(zf: zipfile.ZipFile, name: str, rows: Iterable[dict], tick) -> int:
    count = 0
    with (
        zf.open(_entry(name), "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8", newline="\n") as out,
    ):
        out.write("[")
        for row in rows:
            out.write(",\n" if count else "\n")
            out.write(json.dumps(row, cls=DjangoJSONEncoder, ensure_ascii=False))
            count += 1
            tick()
        out.write("\n]\n")
    return count


def _write_csv(zf: zipfile.ZipFile, name: str, rows: Iterable[list[str]]) -> int:
    count = -1  # the header
    # utf-8-sig: the byte order mark tells Excel the file is UTF-8.
    with (
        zf.open(_entry(name), "w", force_zip64=True) as raw,
        io.TextIOWrapper(raw, encoding="utf-8-sig", newline="") as out,
    ):
        writer = csv.writer(out)
        for row in rows:
            writer.writerow(row)
            count += 1
    return max(count, 0)


def _archive_name(stored_name: str) -> str:
    parts = [p for p in PurePosixPath(stored_name.replace("\\", "/")).parts if p not in ("/", "..")]
    return "files/" + "/".join(parts)


def _write_files(zf: zipfile.ZipFile, tables, workspace, report: ExportReport, tick) -> None:
    for table in tables:
        for storage, name in stored_files(table, workspace):
            try:
                with (
                    storage.open(name, "rb") as source,
                    zf.open(_entry(_archive_name(name)), "w", force_zip64=True) as target,
                ):
                    shutil.copyfileobj(source, target, 1024 * 1024)
                report.files += 1
                report.file_bytes += zf.getinfo(_archive_name(name)).file_size
            except FileNotFoundError:
                report.missing_files.append(name)
            tick()


def _readme(workspace, report: ExportReport) -> str:
    lines = [
        f"CareOps export of {workspace.name} ({workspace.slug}), made {report.exported_at}.",
        "",
        "contacts.csv, bookings.csv and members.csv open in a spreadsheet. A cell that began",
        "with = + - @ starts with ' here, so that the spreadsheet shows it instead of running it.",
        "",
        "data/ holds every table of the workspace as JSON: an array of objects, one row per",
        "line, with foreign keys as <name>_id (the id of a row in another file of data/).",
        "Users are listed in members.csv (email, name, role); other user ids name people who",
        "have left the workspace.",
        "",
        "Secrets are masked (bullets and at most the last 4 characters): integration",
        "credentials, webhook keys, calendar feed tokens, the nonces of clients' links and",
        "booking idempotency keys. Enter provider credentials again wherever you go next.",
        "",
        f"files/ holds {report.files} uploaded file(s) under their stored names; the",
        "forms.formupload rows give each one's original name, type, size and SHA-256.",
    ]
    if report.missing_files:
        lines.append(f"{len(report.missing_files)} file(s) were missing from storage:")
        lines.extend(f"  {name}" for name in report.missing_files)
    lines += ["", "Rows per file:"]
    lines += [f"  data/{label}.json: {rows}" for label, rows in report.tables.items()]
    lines += [f"  {name}: {rows}" for name, rows in report.spreadsheets.items()]
    return "\n".join(lines) + "\n"


def _manifest(workspace, report: ExportReport, tables: list[Table]) -> dict[str, Any]:
    return {
        "format": "careops-workspace-export",
        "version": FORMAT_VERSION,
        "workspace": {"id": workspace.pk, "slug": workspace.slug, "name": workspace.name},
        "exported_at": report.exported_at,
        "tables": [
            {"table": label, "file": f"data/{label}.json", "rows": rows}
            for label, rows in report.tables.items()
        ],
        "spreadsheets": [
            {"file": name, "rows": rows} for name, rows in report.spreadsheets.items()
        ],
        "files": {
            "folder": "files/",
            "count": report.files,
            "bytes": report.file_bytes,
            "missing": report.missing_files,
        },
        "masked_fields": secret_fields(tables),
    }


def _write_zip(target, workspace, tables: list[Table], report: ExportReport, progress) -> None:
    counts = {table.label: table.rows(workspace).count() for table in tables}
    counter = _Counter(sum(counts.values()) + _file_count(tables, workspace), progress)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for table in tables:
            name = f"data/{table.label}.json"
            report.tables[table.label] = _write_json_array(
                zf, name, table_rows(table, workspace), counter.step
            )
        report.spreadsheets["contacts.csv"] = _write_csv(
            zf, "contacts.csv", contacts_export_rows(workspace=workspace)
        )
        report.spreadsheets["bookings.csv"] = _write_csv(
            zf, "bookings.csv", bookings_csv_rows(workspace)
        )
        report.spreadsheets["members.csv"] = _write_csv(
            zf, "members.csv", members_csv_rows(workspace)
        )
        _write_files(zf, tables, workspace, report, counter.step)
        manifest = json.dumps(_manifest(workspace, report, tables), indent=2)
        zf.writestr(_entry("manifest.json"), manifest)
        zf.writestr(_entry("README.txt"), _readme(workspace, report))
    if counter.progress is not None and counter.done < counter.total:
        # Fewer rows than counted: deleted meanwhile (only without a snapshot, off PostgreSQL).
        counter.progress(counter.total, counter.total)


@contextmanager
def _snapshot() -> Iterator[None]:
    """One transaction that sees every table as of one moment (PostgreSQL: REPEATABLE READ,
    read only), so the counts in the manifest and the rows agree while the business works on.
    Inside an outer transaction (tests), that transaction's view is used."""
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:  # must be the transaction's first statement
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield


def workspace_export(
    *,
    workspace: Workspace,
    path: str | os.PathLike,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ExportReport:
    """Write the workspace's data to the zip file at `path` (module docstring).

    FileExistsError when `path` exists and not `overwrite`; OSError when it cannot be written
    (then nothing is left behind); WorkspaceDataError when a table is not covered."""
    path = Path(path)
    tables = sorted(workspace_tables(), key=lambda t: t.label)
    check_coverage(tables)
    if path.is_dir():
        raise IsADirectoryError(21, "it is a folder", str(path))
    if path.exists() and not overwrite:
        raise FileExistsError(17, "it already exists", str(path))
    # Beside the target, so the final rename stays on one file system (and is atomic); mkstemp
    # makes it readable by its owner only, which suits a file of clients' data.
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    report = ExportReport(path=path, exported_at=timezone.now().isoformat())
    try:
        with os.fdopen(handle, "w+b") as target:
            with _snapshot():
                report.exported_at = timezone.now().isoformat()
                _write_zip(target, workspace, tables, report, progress)
            target.flush()
            os.fsync(target.fileno())
        if path.exists() and not overwrite:  # made by someone else meanwhile
            raise FileExistsError(17, "it already exists", str(path))
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return report

"""manage.py import_contacts --workspace <slug> <file.csv> — upsert contacts from a CSV file.

Shows a progress bar on stderr while it writes, then the report: rows created, updated and
rejected (with their row numbers and reasons). An unreadable file stores nothing.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from careops.errors import InvalidInput
from careops.management.base import Progress, workspace_from_arg
from contacts.csv_import import contacts_import_csv


class Command(BaseCommand):
    help = "Import contacts from a CSV file into a workspace (upsert by email, then phone)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug or id.")
        parser.add_argument("file", help="The CSV file (UTF-8; the first row names the columns).")

    def handle(self, *args, **options):
        workspace = workspace_from_arg(options["workspace"])
        path = Path(options["file"])
        try:
            with path.open("rb") as file:
                report = contacts_import_csv(
                    workspace=workspace, actor=None, file=file, progress=Progress(self.stderr)
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}.") from None
        except InvalidInput as exc:
            problems = [p for ps in exc.fields.values() for p in ps] or [exc.message]
            raise CommandError(f"{path} was not imported: {' '.join(problems)}") from None

        self.stdout.write(
            f"{report.total:,} rows: {report.created:,} created, {report.updated:,} updated, "
            f"{len(report.rejected):,} rejected."
        )
        for rejected in report.rejected:
            self.stdout.write(f"  row {rejected.row}: {rejected.reason}")

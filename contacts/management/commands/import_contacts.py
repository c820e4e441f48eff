"""manage.py import_contacts --workspace <slug> <file.csv> — upsert contacts from a CSV file.

Shows a progress bar on stderr while it writes, then the report: rows created, updated and
rejected (with their row numbers and reasons). An unreadable file stores nothing.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from careops.errors import InvalidInput
from contacts.csv_import import contacts_import_csv
from workspaces.models import Workspace

BAR_WIDTH = 30


def workspace_from_slug(slug: str) -> Workspace:
    workspace = Workspace.objects.filter(slug=slug).first()
    if workspace is None:
        raise CommandError(f'No workspace has the slug "{slug}".')
    return workspace


class Command(BaseCommand):
    help = "Import contacts from a CSV file into a workspace (upsert by email, then phone)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug.")
        parser.add_argument("file", help="The CSV file (UTF-8; the first row names the columns).")

    def progress(self, done: int, total: int) -> None:
        filled = BAR_WIDTH * done // total if total else BAR_WIDTH
        bar = "#" * filled + "." * (BAR_WIDTH - filled)
        ending = "\n" if done >= total else ""
        self.stderr.write(f"\r[{bar}] {done:,}/{total:,} rows", ending=ending)
        self.stderr.flush()

    def handle(self, *args, **options):
        workspace = workspace_from_slug(options["workspace"])
        path = Path(options["file"])
        try:
            with path.open("rb") as file:
                report = contacts_import_csv(
                    workspace=workspace, actor=None, file=file, progress=self.progress
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

"""manage.py workspace_export --workspace <slug> [--output FILE.zip] [--force] — all of one
workspace's data as a zip file (careops.workspace_data.export says what is inside).

Shows a progress bar on stderr while it writes, then what it wrote. An existing file is only
replaced with --force; a failure leaves no file behind.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from careops.management.base import Progress, workspace_from_arg
from careops.workspace_data import WorkspaceDataError, workspace_export


class Command(BaseCommand):
    help = (
        "Export all of one workspace's data as a zip file: every table as JSON (one file per "
        "table, with row counts in manifest.json), contacts, bookings and members as CSV, and "
        "the uploaded files. Secrets (provider credentials, webhook keys, feed tokens, link "
        "nonces) are masked; members are listed by email, name and role, never with "
        "passwords. The file is readable by its owner only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug or id.")
        parser.add_argument(
            "--output",
            metavar="FILE.zip",
            help="Where to write the zip (default: careops-<slug>-<date>.zip here).",
        )
        parser.add_argument(
            "--force", action="store_true", help="Replace the output file if it exists."
        )

    def handle(self, *args, **options):
        workspace = workspace_from_arg(options["workspace"])
        path = Path(
            options["output"] or f"careops-{workspace.slug}-{timezone.localdate():%Y-%m-%d}.zip"
        )
        try:
            report = workspace_export(
                workspace=workspace,
                path=path,
                overwrite=options["force"],
                progress=Progress(self.stderr),
            )
        except FileExistsError:
            raise CommandError(
                f"{path} already exists: choose another --output, or pass --force to replace it."
            ) from None
        except WorkspaceDataError as exc:
            raise CommandError(str(exc)) from None
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}.") from None

        self.stdout.write(
            f"Exported {workspace.name} ({workspace.slug}) to {report.path}: "
            f"{report.rows:,} rows in {len(report.tables)} tables, {report.files:,} files."
        )
        for name, rows in report.spreadsheets.items():
            self.stdout.write(f"  {name}: {rows:,} rows")
        if report.missing_files:
            self.stderr.write(
                f"{len(report.missing_files):,} stored files were missing and are listed in "
                "manifest.json."
            )

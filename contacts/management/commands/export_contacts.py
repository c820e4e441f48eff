"""manage.py export_contacts --workspace <slug> [--q Q] [--tag T] [--source S] [--output FILE]

Writes the workspace's contacts, filtered as the contacts list filters them, as CSV to stdout
or to a file. Cells a spreadsheet would run as formulas start with a single quote.
"""

from __future__ import annotations

import csv
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from careops.errors import InvalidInput
from careops.management.base import workspace_from_arg
from contacts.csv_export import contacts_export_rows, export_filters_clean
from contacts.models import Contact


class Command(BaseCommand):
    help = "Export a workspace's contacts (optionally filtered) as CSV."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug or id.")
        parser.add_argument("--q", default="", help="Search in name, email and phone.")
        parser.add_argument("--tag", default="", help="Only contacts with this tag.")
        parser.add_argument(
            "--source", default="", help=f"Only contacts from: {', '.join(Contact.Source.values)}."
        )
        parser.add_argument("--output", default="", help="Write to this file instead of stdout.")

    def handle(self, *args, **options):
        workspace = workspace_from_arg(options["workspace"])
        try:
            filters = export_filters_clean(
                q=options["q"], tag=options["tag"], source=options["source"]
            )
        except InvalidInput as exc:
            raise CommandError(" ".join(m for ms in exc.fields.values() for m in ms)) from None
        rows = contacts_export_rows(workspace=workspace, **filters)
        if not options["output"]:
            self._write(csv.writer(self.stdout, lineterminator="\n"), rows)
            return
        path = Path(options["output"])
        try:
            with path.open("w", newline="", encoding="utf-8") as file:
                count = self._write(csv.writer(file), rows)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror}.") from None
        self.stderr.write(f"{count:,} contact{'' if count == 1 else 's'} written to {path}.")

    def _write(self, writer, rows) -> int:
        count = -1  # the header is not a contact
        for row in rows:
            writer.writerow(row)
            count += 1
        return count

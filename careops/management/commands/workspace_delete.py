"""manage.py workspace_delete --workspace <slug> [--yes] [--dry-run] — delete a workspace
and every row it owns, in one transaction (careops.workspace_data.delete).

Asks for the workspace's slug to be typed at the terminal unless --yes is given; without a
terminal and without --yes it refuses. Shows progress per table on stderr, then the rows
deleted per table.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from careops.management.base import Progress, workspace_from_arg
from careops.workspace_data import WorkspaceDataError, workspace_delete, workspace_row_counts


class Command(BaseCommand):
    help = (
        "Delete a workspace and every row it owns (contacts, conversations, bookings, forms "
        "and their uploaded files, stock, automation, memberships and invitations), all or "
        "nothing. User accounts are kept, since people may belong to other workspaces. Asks "
        "you to type the workspace's slug to confirm; --yes skips that, for scripts. Export "
        "it first (workspace_export) if the data is wanted: nothing can bring it back."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workspace", required=True, help="The workspace's slug or id.")
        parser.add_argument(
            "--yes",
            "--no-input",
            "--noinput",
            action="store_true",
            dest="yes",
            help="Delete without asking (for scripts).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only show how many rows of each table would be deleted.",
        )

    def handle(self, *args, **options):
        workspace = workspace_from_arg(options["workspace"])
        asks = not (options["yes"] or options["dry_run"])
        if asks and not sys.stdin.isatty():
            raise CommandError(
                f"Refusing to delete {workspace.slug} without confirmation: run this in a "
                "terminal and type the slug when asked, or pass --yes."
            )
        if options["dry_run"] or not options["yes"]:
            counts = workspace_row_counts(workspace=workspace)
            self._show(f"{workspace.name} ({workspace.slug}) holds:", counts)
            if options["dry_run"]:
                self.stdout.write("Dry run: nothing was deleted.")
                return
            self._confirm(workspace)

        try:
            report = workspace_delete(
                workspace=workspace, progress=Progress(self.stderr, unit="tables")
            )
        except WorkspaceDataError as exc:
            raise CommandError(f"{exc} Nothing was deleted.") from None

        self._show(f"Deleted {report.name} ({report.slug}):", report.rows)
        self.stdout.write(
            f"{report.total:,} rows in {len(report.rows)} tables, and {report.files:,} stored "
            "files. User accounts were kept."
        )

    def _show(self, title: str, counts: dict[str, int]) -> None:
        self.stdout.write(title)
        width = max(map(len, counts), default=0)
        for label, rows in sorted(counts.items()):
            self.stdout.write(f"  {label:<{width}}  {rows:>10,}")

    def _confirm(self, workspace) -> None:
        self.stderr.write(
            f"This deletes {workspace.name} and all of the above for good. "
            f"Type its slug ({workspace.slug}) to confirm: ",
            ending="",
        )
        self.stderr.flush()
        try:
            answer = sys.stdin.readline().strip()
        except KeyboardInterrupt:
            answer = ""
        if answer != workspace.slug:
            raise CommandError(
                f'"{answer}" is not {workspace.slug}: nothing was deleted.'
                if answer
                else "No slug typed: nothing was deleted."
            )

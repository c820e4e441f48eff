"""manage.py check_integrations [--workspace <slug>] — ask each provider whether it accepts the
credentials it was given, without sending a message.

Checks every active integration (of one workspace, or of all) and the platform's default
senders: Twilio's account is fetched, the ESPs' keys read an account resource, SMTP logs in.
A refusal is recorded as its integration's last error (a pass is not a "last success": nothing
was sent).
Prints a table on stdout, progress on stderr; exits 1 when any check failed.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from careops.management.base import Progress, workspace_from_arg
from messaging.integrations import integrations_check

COLUMNS = ("WORKSPACE", "CHANNEL", "PROVIDER", "RESULT", "DETAIL")


class Command(BaseCommand):
    help = (
        "Check that every active integration's provider accepts its credentials (no message is "
        "sent); exits 1 if any check fails."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--workspace", help="Only this workspace's integrations (its slug or id)."
        )

    def handle(self, *args, **options):
        workspace = workspace_from_arg(options["workspace"]) if options["workspace"] else None
        checks = integrations_check(
            workspace=workspace, progress=Progress(self.stderr, unit="providers")
        )
        rows = [
            (
                check.workspace or "(platform)",
                check.channel,
                check.sender,
                "ok" if check.ok else "FAILED",
                check.detail,
            )
            for check in checks
        ]
        widths = [max(len(row[i]) for row in [COLUMNS, *rows]) for i in range(len(COLUMNS) - 1)]
        for row in [COLUMNS, *rows]:
            cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)]
            self.stdout.write("  ".join([*cells, row[-1]]).rstrip())
        failed = sum(1 for check in checks if not check.ok)
        if failed:
            raise CommandError(f"{failed} of {len(checks)} provider checks failed.")
        self.stdout.write(f"All {len(checks)} provider checks passed.")

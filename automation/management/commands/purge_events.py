"""manage.py purge_events [--older-than DAYS] [--dry-run] [--batch-size N] — delete automation
history older than the retention period.

Deletes dispatched outbox events (with their runs), finished reminders of past bookings and the
automation runs nothing can need again, older than DAYS (default: EVENT_RETENTION_DAYS, 90), in
batches, with progress on stderr. Never deletes pending work, nor a run that stops a rule acting
twice (automation.retention says exactly which). Reports the rows deleted per table. The same
purge runs daily from the schedule.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from automation.retention import BATCH_SIZE, automation_history_purge
from careops.management.base import Progress


class Command(BaseCommand):
    help = (
        "Delete dispatched automation events, finished reminders and automation runs older than "
        "the retention period (never pending work); report the counts per table."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            metavar="DAYS",
            default=settings.EVENT_RETENTION_DAYS,
            help="Retention in days (default: EVENT_RETENTION_DAYS, now %(default)s).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Count what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            metavar="N",
            default=BATCH_SIZE,
            help="Rows per transaction (default: %(default)s).",
        )

    def handle(self, *args, **options):
        days, batch_size = options["older_than"], options["batch_size"]
        if days < 1:
            raise CommandError("--older-than must be at least 1 day.")
        if batch_size < 1:
            raise CommandError("--batch-size must be a positive number of rows.")
        report = automation_history_purge(
            days=days,
            batch_size=batch_size,
            dry_run=options["dry_run"],
            progress=Progress(self.stderr),
        )
        verb = "would be deleted (dry run)" if report.dry_run else "deleted"
        self.stdout.write(f"Older than {report.cutoff:%Y-%m-%d %H:%M} UTC ({days} days), {verb}:")
        self.stdout.write(f"  automation events  {report.events:>10,}")
        self.stdout.write(f"  automation runs    {report.runs:>10,}")
        self.stdout.write(f"  reminders          {report.reminders:>10,}")

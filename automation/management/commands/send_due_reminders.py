"""manage.py send_due_reminders [--dry-run] [--limit N] — send the reminders that are due now,
in this process.

Does what the reminders sweep does (pending re-plans first, then each due reminder once per
booking start, skipped with a reason where the booking, the rule or the quiet hours say so),
without Celery beat; the messages then go out through the usual delivery queue. With --dry-run
it lists the due reminders and what each would do, and changes nothing.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from automation.dry_run import rule_dry_run
from automation.models import Reminder, Rule
from automation.reminders import (
    reminder_previous_run,
    reminders_due,
    reminders_replan_requested,
    reminders_send_due,
)
from careops.management.base import Progress

BATCH = 50


class Command(BaseCommand):
    help = (
        "Send every booking reminder that is due now, in-process; --dry-run lists what would "
        "be sent and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the due reminders (id, booking, contact, channel, due time) and what "
            "each would do; send and change nothing.",
        )
        parser.add_argument(
            "--limit", type=int, metavar="N", help="Deal with at most N reminders (oldest first)."
        )

    def handle(self, *args, **options):
        limit = options["limit"]
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number of reminders.")
        now = timezone.now()
        if options["dry_run"]:
            self._dry_run(now, limit)
        else:
            self._send(now, limit)

    def _due_ids(self, now, limit) -> list[int]:
        ids = reminders_due(now).order_by("due_at", "pk").values_list("pk", flat=True)
        return list(ids[:limit] if limit else ids)

    def _send(self, now, limit) -> None:
        replanned = reminders_replan_requested(now=now)
        if replanned:
            self.stdout.write(f"{replanned:,} bookings' reminders re-planned first.")
        ids = self._due_ids(now, limit)
        progress = Progress(self.stderr, unit="reminders")
        handled = 0
        while handled < len(ids):
            reminders_send_due(now=now, limit=min(BATCH, len(ids) - handled))
            still_due = reminders_due(now).filter(pk__in=ids).count()
            if len(ids) - still_due == handled:
                break  # the rest are held by another worker
            handled = len(ids) - still_due
            progress(handled, len(ids))

        reminders = Reminder.objects.filter(pk__in=ids).order_by("due_at", "pk")
        counts = dict.fromkeys(Reminder.Status.values, 0)
        waiting = 0
        for reminder in reminders:
            if reminder.status == Reminder.Status.PLANNED and reminder.due_at > now:
                waiting += 1  # the quiet hours, or a retry after a failed send
            else:
                counts[reminder.status] += 1
        self.stdout.write(
            f"{len(ids):,} due: {counts[Reminder.Status.SENT]:,} sent, "
            f"{counts[Reminder.Status.SKIPPED]:,} skipped, {waiting:,} waiting (quiet hours or "
            f"a retry), {counts[Reminder.Status.PLANNED]:,} left to another worker."
        )
        for reminder in reminders:
            if reminder.status == Reminder.Status.SKIPPED and reminder.processed_at == now:
                self.stdout.write(f"  reminder {reminder.pk} skipped: {reminder.reason}")

    def _dry_run(self, now, limit) -> None:
        ids = self._due_ids(now, limit)
        reminders = (
            Reminder.objects.filter(pk__in=ids)
            .select_related(
                "booking", "booking__workspace", "booking__booking_type", "booking__contact"
            )
            .order_by("due_at", "pk")
        )
        # Read, never created: rules_for would add a missing rule (a write).
        rules = {
            rule.workspace_id: rule
            for rule in Rule.objects.filter(
                kind=Rule.Kind.BOOKING_REMINDER,
                workspace_id__in={r.workspace_id for r in reminders},
            ).select_related("workspace")
        }
        self.stdout.write(f"{len(ids):,} due now; nothing is sent (dry run).")
        for reminder in reminders:
            booking = reminder.booking
            would = self._would(reminder, rules.get(reminder.workspace_id))
            channel = f"{would['channel']} {would['to']}" if would.get("channel") else "-"
            self.stdout.write(
                f"reminder {reminder.pk}  booking {booking.pk} ({booking.booking_type.name}, "
                f"{booking.start:%Y-%m-%d %H:%M} UTC)  {booking.contact.name}  {channel}  "
                f"due {reminder.due_at:%Y-%m-%d %H:%M} UTC  would {would['would']}"
                + (f": {would['reason']}" if would["would"] == "skip" else "")
            )

    def _would(self, reminder: Reminder, rule: Rule | None) -> dict:
        """What the sweep would do with the reminder: its own checks first (done already for
        this start, the booking moved), then the rule's decision as its dry run makes it."""
        if rule is None:
            return {"would": "skip", "reason": "The workspace has no reminder rule yet."}
        run = reminder_previous_run(reminder.pk, reminder.booking_start)
        if run is not None:
            return {"would": "skip", "reason": f"Already done for this start: {run.reason}"}
        if reminder.booking.start != reminder.booking_start:
            return {"would": "skip", "reason": "The booking was moved."}
        return rule_dry_run(rule=rule, booking=reminder.booking)

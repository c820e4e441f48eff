"""manage.py dispatch_events [--limit N] — sweep the automation outbox now, in this process.

Dispatches every undispatched event whose attempt is due (new ones first, then retries, oldest
first), the way the minute sweep does but without Celery: it works while the broker or the
workers are down. An event another worker holds is left to it; a redelivered or already
dispatched one does nothing (each rule acts once per event). Shows progress on stderr, then a
summary: dispatched, failed (with their next attempt, or given up), still pending.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db.models import F
from django.utils import timezone

from automation.engine import attempt_due, event_dispatch
from automation.models import Event
from careops.management.base import Progress


class Command(BaseCommand):
    help = (
        "Dispatch every due undispatched automation event now, in-process (no broker needed), "
        "and say how many were dispatched, failed and are still pending."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, metavar="N", help="Dispatch at most N events (oldest first)."
        )

    def handle(self, *args, **options):
        limit = options["limit"]
        if limit is not None and limit < 1:
            raise CommandError("--limit must be a positive number of events.")
        now = timezone.now()
        # The sweep's own rule for what is due (automation.engine), without its grace period:
        # an operator sweeping now wants the newest events too, and dispatching one that its
        # own task is about to take is harmless (the row lock lets one of them do it).
        due = (
            Event.objects.filter(attempt_due(now), dispatched_at__isnull=True)
            .order_by(F("next_attempt_at").asc(nulls_first=True), "created_at", "pk")
            .values_list("pk", "attempts")
        )
        before = dict(due[:limit] if limit else due)
        progress = Progress(self.stderr, unit="events")
        for done, event_id in enumerate(before, 1):
            event_dispatch(event_id, now=now)
            progress(done, len(before))

        dispatched = retrying = gave_up = skipped = 0
        next_attempt = None
        after = Event.objects.filter(pk__in=list(before)).values_list(
            "pk", "attempts", "dispatched_at", "last_error", "next_attempt_at"
        )
        for pk, attempts, dispatched_at, last_error, next_at in after:
            if attempts == before[pk]:
                skipped += 1  # another worker had it, or dispatched it first
            elif dispatched_at is None:
                retrying += 1
                next_attempt = min(filter(None, [next_attempt, next_at]), default=None)
            elif last_error:
                gave_up += 1
            else:
                dispatched += 1
        pending = Event.objects.filter(dispatched_at__isnull=True)
        waiting = pending.filter(next_attempt_at__gt=now).count()

        self.stdout.write(
            f"{len(before):,} due: {dispatched:,} dispatched, {retrying + gave_up:,} failed"
            + (f" ({gave_up:,} given up after their last attempt)" if gave_up else "")
            + (f", {skipped:,} left to another worker" if skipped else "")
            + "."
        )
        if retrying:
            self.stdout.write(
                f"The sweep retries the failed ones, the first at {next_attempt:%Y-%m-%d %H:%M} "
                "UTC; their errors are on the events (admin) and on the contacts' histories."
            )
        self.stdout.write(f"{pending.count():,} still pending ({waiting:,} waiting for a retry).")

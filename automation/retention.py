"""Deleting old automation history: dispatched outbox events, finished reminders and the runs
that say what automation did, once older than the retention period (EVENT_RETENTION_DAYS).

Runs are also the record that stops work being done twice, so what is deleted is chosen so that
no purge can ever make automation act again:

- An undispatched event (new, or waiting for a retry) stays, and so do its runs: a retry re-runs
  only the rules without a run.
- An event's runs go only with the event itself, in one transaction: the admin's "Dispatch again"
  re-runs every rule of an event that has no run, so a kept event must keep its runs.
- A reminder's run goes only once the booking start in its key is before the cutoff: the sweep
  and a re-plan back to that start look it up before sending, and a start in the past is never
  reminded (the sweep and the planner both skip a booking that has started).
- A reminder goes only when it is finished (sent, skipped, cancelled) and both the start it was
  planned for and its booking's current start are before the cutoff; a planned one never does.

Each batch is its own transaction, taken with SKIP LOCKED: rows a dispatch or the admin holds are
left for the next purge, and a purge cut short keeps what it had done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from django.db import transaction
from django.utils import timezone

from automation.models import AutomationRun, Event, Reminder

log = structlog.get_logger(__name__)

BATCH_SIZE = 1000


@dataclass
class PurgeReport:
    """Rows deleted per table (or, in a dry run, that would be)."""

    cutoff: datetime
    dry_run: bool = False
    events: int = 0
    runs: int = 0
    reminders: int = 0

    @property
    def total(self) -> int:
        return self.events + self.runs + self.reminders


def reminder_run_start(key: str) -> datetime | None:
    """The booking start a reminder run's key names ("reminder:<id>:<start>", with a
    ":skipped:<when>" suffix for a skip), or None when the key is not one."""
    kind, _, rest = key.partition(":")
    _, _, start = rest.partition(":")
    if kind != "reminder" or not start:
        return None
    try:
        moment = datetime.fromisoformat(start.split(":skipped:", 1)[0])
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _events(cutoff: datetime):
    return Event.objects.filter(dispatched_at__lt=cutoff)


def _orphan_event_runs(cutoff: datetime):
    """Runs of events already deleted (event set to null): nothing can redeliver them."""
    return AutomationRun.objects.filter(
        event__isnull=True, key__startswith="event:", created_at__lt=cutoff
    )


def _reminders(cutoff: datetime):
    return Reminder.objects.exclude(status=Reminder.Status.PLANNED).filter(
        booking_start__lt=cutoff, booking__start__lt=cutoff, updated_at__lt=cutoff
    )


def _reminder_runs(cutoff: datetime, batch_size: int) -> Iterator[list[int]]:
    """Ids of reminder runs whose booking start is before the cutoff, a page at a time (the
    start is read from the key, where it is text)."""
    candidates = AutomationRun.objects.filter(key__startswith="reminder:", created_at__lt=cutoff)
    last = 0
    while page := list(
        candidates.filter(pk__gt=last).order_by("pk").values_list("pk", "key")[:batch_size]
    ):
        last = page[-1][0]
        yield [pk for pk, key in page if (start := reminder_run_start(key)) and start < cutoff]


def _deleted(queryset, model) -> int:
    """Delete; how many rows of `model` itself went (not the nulled links of others)."""
    return queryset.delete()[1].get(model._meta.label, 0)


def _plan(cutoff: datetime, batch_size: int) -> PurgeReport:
    reminder_runs = sum(len(ids) for ids in _reminder_runs(cutoff, batch_size))
    return PurgeReport(
        cutoff=cutoff,
        dry_run=True,
        events=_events(cutoff).count(),
        runs=AutomationRun.objects.filter(event__dispatched_at__lt=cutoff).count()
        + _orphan_event_runs(cutoff).count()
        + reminder_runs,
        reminders=_reminders(cutoff).count(),
    )


def automation_history_purge(
    *,
    days: int,
    now: datetime | None = None,
    batch_size: int = BATCH_SIZE,
    dry_run: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> PurgeReport:
    """Delete dispatched events, finished reminders and automation runs older than `days` (see
    the module docstring for what is never deleted), `batch_size` rows per transaction.
    With `dry_run`, only count them. Returns the counts per table."""
    if days < 1:
        raise ValueError("Keep at least one day of automation history.")
    if batch_size < 1:
        raise ValueError("A batch holds at least one row.")
    cutoff = (now or timezone.now()) - timedelta(days=days)
    plan = _plan(cutoff, batch_size)
    if dry_run:
        return plan
    report = PurgeReport(cutoff=cutoff)
    total = plan.total

    def step() -> None:
        if progress and total:
            progress(min(report.total, total), total)

    # Events with their runs, in one transaction per batch.
    while True:
        with transaction.atomic():
            ids = list(
                _events(cutoff)
                .select_for_update(skip_locked=True)
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            report.runs += AutomationRun.objects.filter(event_id__in=ids).delete()[0]
            report.events += _deleted(Event.objects.filter(pk__in=ids), Event)
        step()
    orphans = _orphan_event_runs(cutoff).order_by("pk").values_list("pk", flat=True)
    while ids := list(orphans[:batch_size]):
        report.runs += AutomationRun.objects.filter(pk__in=ids).delete()[0]
        step()
    for ids in _reminder_runs(cutoff, batch_size):
        if ids:
            report.runs += AutomationRun.objects.filter(pk__in=ids).delete()[0]
            step()
    while True:
        with transaction.atomic():
            ids = list(
                _reminders(cutoff)
                .select_for_update(skip_locked=True, of=("self",))
                .order_by("pk")
                .values_list("pk", flat=True)[:batch_size]
            )
            if not ids:
                break
            # Any run of theirs still here (recorded after the cutoff) keeps its history, its
            # link set to null.
            report.reminders += _deleted(Reminder.objects.filter(pk__in=ids), Reminder)
        step()
    if progress and total:
        progress(total, total)
    log.info(
        "automation_history_purged",
        cutoff=cutoff.isoformat(),
        events=report.events,
        runs=report.runs,
        reminders=report.reminders,
    )
    return report

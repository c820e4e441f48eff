"""Reminders before bookings: planned when a booking is made, re-planned when it moves,
cancelled when it is called off, and sent by a sweep once due, once per booking start.

A reminder is due `offset_minutes` (absolute time) before the start. When that moment has passed
by the time it is planned (the booking was made or moved closer to its start than the offset, or
its event was dispatched late) it is due at once, as long as the booking has not started: a late
reminder is better than none. One that falls in the quiet hours (wall-clock times in the
workspace's time zone; the window may cross midnight) waits for the window's end, unless that end
is not before the start: then there is none. The sweep checks the quiet hours again when it
sends (it may come late), and each reminder it does not send leaves a skipped run saying why.

A send that fails is rolled back, recorded as a failed run, and tried again after a backoff
(automation.engine.ATTEMPT_BACKOFF); after MAX_ATTEMPTS it is skipped with the last error.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from automation.batches import batches_send
from automation.engine import (
    MAX_ATTEMPTS,
    RunResult,
    reason_truncate,
    retry_backoff,
    run_new,
    run_record,
)
from automation.messages import LOCAL_FORMAT, AutomatedSend, booking_context, sends_automated
from automation.models import AutomationRun, Reminder, Rule
from bookings.ics import manage_url
from bookings.models import Booking
from careops.db import rows_update

log = structlog.get_logger(__name__)

DONE = AutomationRun.Outcome.DONE
SKIPPED = AutomationRun.Outcome.SKIPPED
REPLAN_BATCH = 200


def quiet_window_end(moment: datetime, rule: Rule, workspace) -> datetime | None:
    """The end of the quiet window `moment` falls in (aware, UTC), or None when it falls in none
    (or the rule has no quiet hours). Wall-clock arithmetic in the workspace's zone, so a DST
    change inside the window moves its end in UTC, not on the clock."""
    start, end = rule.quiet_start, rule.quiet_end
    if start is None or end is None or start == end:
        return None
    tz = workspace.zone
    local = moment.astimezone(tz)
    clock = local.time().replace(tzinfo=None)
    if start < end:  # 13:00-14:00: within one day
        if not start <= clock < end:
            return None
        end_date = local.date()
    else:  # 21:00-08:00: across midnight
        if clock >= start:
            end_date = local.date() + timedelta(days=1)
        elif clock < end:
            end_date = local.date()
        else:
            return None
    # A wall-clock time the DST change skipped is read with the offset before the change
    # (fold=0), i.e. the moment the clocks jumped past it.
    return datetime.combine(end_date, end, tzinfo=tz).astimezone(UTC)


def _quiet_reason(rule: Rule) -> str:
    quiet = f"{rule.quiet_start:%H:%M} to {rule.quiet_end:%H:%M}"
    return (
        f"No reminder: it would fall in the quiet hours ({quiet}), which end only after the "
        "booking starts."
    )


STARTED_REASON = "No reminder: the booking has already started."


def reminder_due(booking, rule: Rule, *, now: datetime | None = None) -> tuple[datetime, str]:
    """(when the reminder goes out, "") or (that moment, why none goes out).

    Its time is `offset_minutes` before the start; once that has passed (a booking made or
    moved closer to its start than the offset, an event dispatched late) it is now, unless the
    booking has started. Then the quiet hours: the end of the window when that is before the
    start, else none."""
    now = now or timezone.now()
    workspace = booking.workspace
    due = booking.start - timedelta(minutes=rule.offset_minutes)
    if due <= now:
        if booking.start <= now:
            return due, STARTED_REASON
        due = now
    window_end = quiet_window_end(due, rule, workspace)
    if window_end is not None:
        if window_end >= booking.start:
            return due, _quiet_reason(rule)
        due = window_end
    return due, ""


def _cancel_reason(booking) -> str:
    return f"No reminder: the booking is {booking.get_status_display().lower()}."


def reminder_plan(booking, rule: Rule, *, now: datetime | None = None) -> RunResult:
    """Plan (or re-plan, or cancel) the booking's reminder for the rule's offset, and say what
    was done. Safe to run twice and in any order: it plans for the booking as it is now.

    A reminder already sent for an earlier start is re-armed for the new one; planned reminders
    of another offset (the rule was changed) are cancelled; a booking no longer active has its
    planned reminders cancelled. Reads booking.workspace."""
    now = now or timezone.now()
    ids = {"contact_id": booking.contact_id, "booking_id": booking.pk}
    planned = Reminder.objects.filter(booking=booking, status=Reminder.Status.PLANNED)
    if not booking.is_active:
        reason = _cancel_reason(booking)
        count = planned.update(
            status=Reminder.Status.CANCELLED, reason=reason, processed_at=now, updated_at=now
        )
        log.info("reminders_cancelled", booking_id=booking.pk, count=count)
        return RunResult(DONE, reason, **ids)
    planned.exclude(offset_minutes=rule.offset_minutes).update(
        status=Reminder.Status.CANCELLED,
        reason="The reminder time was changed.",
        processed_at=now,
        updated_at=now,
    )
    due, skip_reason = reminder_due(booking, rule, now=now)
    with transaction.atomic():
        reminder = _locked_reminder(booking, rule.offset_minutes, due)
        if reminder.status == Reminder.Status.SENT and reminder.booking_start == booking.start:
            start = booking.workspace.local_text(booking.start, LOCAL_FORMAT)
            return RunResult(DONE, f"Reminder already sent for {start}.", **ids)
        reminder.booking_start = booking.start
        reminder.due_at = due
        # A fresh plan gets the full number of tries: failures for another start don't count.
        reminder.attempts = 0
        if skip_reason:
            reminder.status, reminder.reason, reminder.processed_at = (
                Reminder.Status.SKIPPED,
                skip_reason,
                now,
            )
        else:
            reminder.status, reminder.reason, reminder.processed_at = (
                Reminder.Status.PLANNED,
                "",
                None,
            )
        reminder.save(
            update_fields=[
                "booking_start",
                "due_at",
                "attempts",
                "status",
                "reason",
                "processed_at",
                "updated_at",
            ]
        )
    log.info("reminder_planned", reminder_id=reminder.pk, due_at=due, status=reminder.status)
    if skip_reason:
        return RunResult(DONE, skip_reason, **ids)
    return RunResult(
        DONE, f"Reminder planned for {booking.workspace.local_text(due, LOCAL_FORMAT)}.", **ids
    )


def _locked_reminder(booking, offset_minutes: int, due: datetime) -> Reminder:
    """The booking's reminder for the offset, locked (created if missing; a concurrent plan's
    insert wins the unique constraint and is the one locked)."""
    lookup = Reminder.objects.select_for_update().filter(
        booking=booking, offset_minutes=offset_minutes
    )
    reminder = lookup.first()
    if reminder is not None:
        return reminder
    try:
        with transaction.atomic():
            return Reminder.objects.create(
                workspace_id=booking.workspace_id,
                booking=booking,
                offset_minutes=offset_minutes,
                booking_start=booking.start,
                due_at=due,
            )
    except IntegrityError:
        return lookup.get()


def reminders_replan(*, rule_id: int, all_upcoming: bool, now: datetime | None = None) -> int:
    """Plan the reminders of the rule's workspace's upcoming active bookings again (the rule was
    switched on, or its timing changed): those with a reminder not yet sent, or (all_upcoming)
    every one. In batches, each booking in its own transaction; safe to run twice (a plan is
    for the booking as it is). Returns how many bookings were planned."""
    from bookings.models import ACTIVE_STATUSES

    now = now or timezone.now()
    rule = Rule.objects.select_related("workspace").filter(pk=rule_id).first()
    if rule is None or rule.kind != Rule.Kind.BOOKING_REMINDER or not rule.is_enabled:
        return 0
    bookings = Booking.objects.for_workspace(rule.workspace_id).filter(
        status__in=ACTIVE_STATUSES, start__gt=now
    )
    if not all_upcoming:
        bookings = bookings.filter(
            reminders__status__in=[Reminder.Status.PLANNED, Reminder.Status.SKIPPED]
        ).distinct()
    ids = list(bookings.order_by("start", "pk").values_list("pk", flat=True))
    count = 0
    for offset in range(0, len(ids), REPLAN_BATCH):
        batch = Booking.objects.filter(pk__in=ids[offset : offset + REPLAN_BATCH]).order_by(
            "start", "pk"
        )
        for booking in batch:
            booking.workspace = rule.workspace  # the same row: spares a query per booking
            reminder_plan(booking, rule, now=now)
            count += 1
    log.info("reminders_replanned", rule_id=rule_id, bookings=count)
    return count


def reminders_replan_requested(*, rule_id: int | None = None, now: datetime | None = None) -> int:
    """Carry out the re-plans requested on reminder rules (rule_update stores the request with
    the change): the one rule's, or every pending one (the sweep). A request made while a
    re-plan runs stays for the next run: it is cleared only if it is still the one read.
    Returns how many bookings were planned."""
    rules = Rule.objects.filter(replan_requested_at__isnull=False)
    if rule_id is not None:
        rules = rules.filter(pk=rule_id)
    count = 0
    for rule_pk, requested_at, all_upcoming in rules.values_list(
        "pk", "replan_requested_at", "replan_all_upcoming"
    ):
        count += reminders_replan(rule_id=rule_pk, all_upcoming=all_upcoming, now=now)
        Rule.objects.filter(pk=rule_pk, replan_requested_at=requested_at).update(
            replan_requested_at=None, replan_all_upcoming=False
        )
    return count


# --- Sending --------------------------------------------------------------------------------

# Reminders the sweep deals with in one transaction: locked together, their messages, runs and
# statuses written in a few statements whatever their number, their deliveries queued at its
# commit. Small enough that a batch rolled back (and redone one by one) costs little.
SEND_BATCH = 100


def reminder_run_key(reminder: Reminder) -> str:
    return _run_key(reminder.pk, reminder.booking_start)


def _run_key(reminder_id: int, booking_start: datetime) -> str:
    return f"reminder:{reminder_id}:{booking_start.isoformat()}"


def _runs_done(keys: list[str]):
    return AutomationRun.objects.filter(key__in=keys).exclude(outcome=AutomationRun.Outcome.FAILED)


def reminder_previous_run(reminder_id: int, booking_start: datetime) -> AutomationRun | None:
    """The run that already dealt with this reminder for this start (sent, or skipped by the
    rule's message: a paused conversation, no channel), if any: then nothing more is sent.
    The sweep (for a batch at once) and the dry run both ask it."""
    return _runs_done([_run_key(reminder_id, booking_start)]).first()


def reminders_due(now: datetime):
    """Planned reminders whose time has come: the sweep's work, and send_due_reminders'."""
    return Reminder.objects.filter(status=Reminder.Status.PLANNED, due_at__lte=now)


def reminders_send_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send every planned reminder that is due (the periodic sweep), SEND_BATCH at a time: a
    batch's reminders are locked together (SKIP LOCKED: those another worker holds are its)
    and dealt with in one transaction. When anything in a batch fails, all of it is rolled back
    and its reminders are dealt with again one by one, each in its own transaction, so the one
    that fails rolls back alone (and is tried again after a backoff). Safe to run twice and
    concurrently: a reminder is sent once per booking start. Returns how many were dealt with
    (sent or skipped)."""
    now = now or timezone.now()
    ids = list(reminders_due(now).order_by("due_at", "pk").values_list("pk", flat=True)[:limit])
    return batches_send(
        ids,
        now=now,
        size=SEND_BATCH,
        send=_send_batch,
        note_failure=_note_failure,
        what="reminder",
    )


def _note_failure(reminder_id: int, exc: Exception, now: datetime) -> None:
    """Record the failed send (its own transaction), count it, and wait before the next try;
    after MAX_ATTEMPTS the reminder is skipped with the error."""
    from automation.rules import rules_for

    try:
        with transaction.atomic():
            reminder = (
                Reminder.objects.select_for_update(skip_locked=True, of=("self",))
                .select_related("booking")
                .filter(pk=reminder_id, status=Reminder.Status.PLANNED)
                .first()
            )
            if reminder is None:
                return
            error = reason_truncate(f"{type(exc).__name__}: {exc}")
            rule = rules_for(reminder.workspace_id)[Rule.Kind.BOOKING_REMINDER]
            booking = reminder.booking
            failed = RunResult(
                AutomationRun.Outcome.FAILED,
                error,
                contact_id=booking.contact_id,
                booking_id=booking.pk,
            )
            run_record(rule=rule, key=reminder_run_key(reminder), result=failed, reminder=reminder)
            reminder.attempts += 1
            if reminder.attempts >= MAX_ATTEMPTS:
                log.error("reminder_gave_up", reminder_id=reminder_id, error=error)
                reason = f"Not sent after {reminder.attempts} attempts: {error}"
                reminder.status, reminder.reason = Reminder.Status.SKIPPED, reason[:255]
                reminder.processed_at = now
            else:
                reminder.due_at = now + retry_backoff(reminder.attempts)
            reminder.save(
                update_fields=[
                    "attempts",
                    "status",
                    "reason",
                    "processed_at",
                    "due_at",
                    "updated_at",
                ]
            )
    except Exception:
        log.exception("reminder_note_failed", reminder_id=reminder_id)


def _reminder_rule(workspace_id: int, rules: dict[int, Rule]) -> Rule:
    if workspace_id not in rules:
        from automation.rules import rules_for

        rules[workspace_id] = rules_for(workspace_id)[Rule.Kind.BOOKING_REMINDER]
    return rules[workspace_id]


def _finish(reminder: Reminder, status: str, reason: str, now: datetime) -> int:
    """Mark the reminder dealt with (stored by the batch's UPDATE)."""
    reminder.status, reminder.reason, reminder.processed_at = status, reason[:255], now
    log.info("reminder_processed", reminder_id=reminder.pk, status=status, reason=reason)
    return 1


def _skipped_run(reminder: Reminder, rule: Rule, reason: str, now: datetime) -> AutomationRun:
    """A reminder skipped at send time leaves a skipped run on the booking's and contact's
    history. Its key is of this skip alone: a rule switched back on (or a booking re-activated)
    re-plans the same start, and that reminder must still go out."""
    booking = reminder.booking
    result = RunResult(SKIPPED, reason, contact_id=booking.contact_id, booking_id=booking.pk)
    key = f"{reminder_run_key(reminder)}:skipped:{now.isoformat()}"
    return run_new(rule=rule, key=key, result=result, reminder=reminder)


def _send_time_skip(reminder: Reminder, booking: Booking, rule: Rule, now: datetime) -> str:
    """Why the reminder is not sent now after all, or ""."""
    if not booking.is_active:
        return _cancel_reason(booking)
    if booking.start <= now:
        return "The booking had already started."
    if booking.start != reminder.booking_start:
        # Moved, and its re-plan has not run yet: that re-plan re-arms it for the new start.
        return "The booking was moved."
    if not rule.is_enabled:
        return "The reminder rule is switched off."
    return ""


def _send_batch(reminder_ids: list[int], now: datetime, rules: dict[int, Rule]) -> int:
    """Deal with the due reminders among `reminder_ids` that no other worker holds, each
    checked on its own as ever (done already for this start, the booking, the rule, the quiet
    hours, then the rule's message: a paused conversation, consent, an empty text); then their
    messages, runs and statuses written together. Call inside a transaction: the rows stay
    locked until it commits, and the runs' unique keys make a second sweep's send fail rather
    than go out twice."""
    reminders = list(
        reminders_due(now)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related(
            "booking", "booking__workspace", "booking__booking_type", "booking__contact"
        )
        .filter(pk__in=reminder_ids)
        .order_by("pk")
    )
    if not reminders:  # other workers have them, or have dealt with them
        return 0
    previous = {run.key: run for run in _runs_done([reminder_run_key(r) for r in reminders])}
    runs: list[AutomationRun] = []
    to_send: list[tuple[Reminder, Rule]] = []
    done = 0
    for reminder in reminders:
        reminder.updated_at = now
        booking: Booking = reminder.booking
        run = previous.get(reminder_run_key(reminder))
        if run is not None:
            # Already done for this start (a run that committed while its reminder's update
            # was lost, or a re-plan back to a start it was sent for).
            sent = run.outcome == run.Outcome.SENT
            status = Reminder.Status.SENT if sent else Reminder.Status.SKIPPED
            done += _finish(reminder, status, run.reason, now)
            continue
        rule = _reminder_rule(booking.workspace_id, rules)
        reason = _send_time_skip(reminder, booking, rule, now)
        # The sweep may come late (a beat or worker outage): no reminder inside the quiet hours.
        window_end = None if reason else quiet_window_end(now, rule, booking.workspace)
        if window_end is not None and window_end >= booking.start:
            reason = _quiet_reason(rule)
        if reason:
            runs.append(_skipped_run(reminder, rule, reason, now))
            done += _finish(reminder, Reminder.Status.SKIPPED, reason, now)
        elif window_end is not None:
            reminder.due_at = window_end
            log.info("reminder_waits_for_quiet_hours", reminder_id=reminder.pk, due_at=window_end)
        else:
            rule.workspace = booking.workspace  # the same row: spares a query
            to_send.append((reminder, rule))
    results = sends_automated(
        [
            AutomatedSend(
                rule=rule,
                contact=reminder.booking.contact,
                context={
                    "booking": booking_context(reminder.booking),
                    "link": manage_url(reminder.booking),
                },
                booking=reminder.booking,
            )
            for reminder, rule in to_send
        ]
    )
    for (reminder, rule), result in zip(to_send, results, strict=True):
        key = reminder_run_key(reminder)
        runs.append(run_new(rule=rule, key=key, result=result, reminder=reminder))
        sent = result.outcome == AutomationRun.Outcome.SENT
        status = Reminder.Status.SENT if sent else Reminder.Status.SKIPPED
        done += _finish(reminder, status, result.reason, now)
    AutomationRun.objects.bulk_create(runs)
    rows_update(reminders, ["status", "reason", "processed_at", "due_at", "updated_at"])
    return done

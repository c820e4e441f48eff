"""Reminders before bookings: planned when a booking is made, re-planned when it moves,
cancelled when it is called off, and sent by a sweep once due, once per booking start.

A reminder is due `offset_minutes` (absolute time) before the start. One that falls in the quiet
hours (wall-clock times in the workspace's time zone; the window may cross midnight) waits for the
window's end, unless that end is not before the start: then there is none.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from automation.engine import RunResult, run_record
from automation.messages import booking_context, local_text, send_automated, workspace_tz
from automation.models import AutomationRun, Reminder, Rule
from bookings.ics import manage_url
from bookings.models import Booking

log = structlog.get_logger(__name__)

DONE = AutomationRun.Outcome.DONE


def quiet_window_end(moment: datetime, rule: Rule, workspace) -> datetime | None:
    """The end of the quiet window `moment` falls in (aware, UTC), or None when it falls in none
    (or the rule has no quiet hours). Wall-clock arithmetic in the workspace's zone, so a DST
    change inside the window moves its end in UTC, not on the clock."""
    start, end = rule.quiet_start, rule.quiet_end
    if start is None or end is None or start == end:
        return None
    tz = workspace_tz(workspace)
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


def reminder_due(booking, rule: Rule, *, now: datetime | None = None) -> tuple[datetime, str]:
    """(when the reminder goes out, "") or (that moment, why none goes out)."""
    now = now or timezone.now()
    workspace = booking.workspace
    due = booking.start - timedelta(minutes=rule.offset_minutes)
    window_end = quiet_window_end(due, rule, workspace)
    if window_end is not None:
        if window_end >= booking.start:
            quiet = f"{rule.quiet_start:%H:%M} to {rule.quiet_end:%H:%M}"
            return due, (
                f"No reminder: it would fall in the quiet hours ({quiet}), which end only after "
                "the booking starts."
            )
        due = window_end
    if due <= now:
        return due, (
            "No reminder: the booking was made or moved after its reminder time "
            f"({local_text(due, workspace)})."
        )
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
            return RunResult(
                DONE,
                f"Reminder already sent for {local_text(booking.start, booking.workspace)}.",
                **ids,
            )
        reminder.booking_start = booking.start
        reminder.due_at = due
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
                "status",
                "reason",
                "processed_at",
                "updated_at",
            ]
        )
    log.info("reminder_planned", reminder_id=reminder.pk, due_at=due, status=reminder.status)
    if skip_reason:
        return RunResult(DONE, skip_reason, **ids)
    return RunResult(DONE, f"Reminder planned for {local_text(due, booking.workspace)}.", **ids)


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


# --- Sending --------------------------------------------------------------------------------


def reminder_run_key(reminder: Reminder) -> str:
    return f"reminder:{reminder.pk}:{reminder.booking_start.isoformat()}"


def _due(now: datetime):
    return Reminder.objects.filter(status=Reminder.Status.PLANNED, due_at__lte=now)


def reminders_send_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Send every planned reminder that is due (the periodic sweep). Each reminder is locked
    (SKIP LOCKED: one another worker holds is its) and dealt with in its own transaction, so one
    that fails rolls back alone. Safe to run twice and concurrently: a reminder is sent once per
    booking start. Returns how many were dealt with (sent or skipped)."""
    now = now or timezone.now()
    ids = list(_due(now).order_by("due_at", "pk").values_list("pk", flat=True)[:limit])
    rules: dict[int, Rule] = {}
    done = 0
    for reminder_id in ids:
        try:
            with transaction.atomic():
                done += _send_one(reminder_id, now, rules)
        except Exception:
            # A bug or an outage on one reminder must not stop the others; it stays planned
            # and the next sweep tries again.
            log.exception("reminder_send_crashed", reminder_id=reminder_id)
    return done


def _reminder_rule(workspace_id: int, rules: dict[int, Rule]) -> Rule:
    if workspace_id not in rules:
        from automation.rules import rules_for

        rules[workspace_id] = rules_for(workspace_id)[Rule.Kind.BOOKING_REMINDER]
    return rules[workspace_id]


def _finish(reminder: Reminder, status: str, reason: str, now: datetime) -> int:
    reminder.status, reminder.reason, reminder.processed_at = status, reason[:255], now
    reminder.save(update_fields=["status", "reason", "processed_at", "updated_at"])
    log.info("reminder_processed", reminder_id=reminder.pk, status=status, reason=reason)
    return 1


def _send_one(reminder_id: int, now: datetime, rules: dict[int, Rule]) -> int:
    reminder = (
        _due(now)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related(
            "booking", "booking__workspace", "booking__booking_type", "booking__contact"
        )
        .filter(pk=reminder_id)
        .first()
    )
    if reminder is None:  # another worker has it, or has dealt with it
        return 0
    skipped = Reminder.Status.SKIPPED
    key = reminder_run_key(reminder)
    previous = AutomationRun.objects.filter(key=key).exclude(outcome=AutomationRun.Outcome.FAILED)
    run = previous.first()
    if run is not None:
        # Already done for this start (a run that committed while its reminder's update was
        # lost, or a re-plan back to a start it was sent for).
        status = Reminder.Status.SENT if run.outcome == run.Outcome.SENT else skipped
        return _finish(reminder, status, run.reason, now)
    booking: Booking = reminder.booking
    if not booking.is_active:
        return _finish(reminder, skipped, _cancel_reason(booking), now)
    if booking.start <= now:
        return _finish(reminder, skipped, "The booking had already started.", now)
    if booking.start != reminder.booking_start:
        # Moved, and its re-plan has not run yet: that re-plan re-arms it for the new start.
        return _finish(reminder, skipped, "The booking was moved.", now)
    rule = _reminder_rule(booking.workspace_id, rules)
    if not rule.is_enabled:
        return _finish(reminder, skipped, "The reminder rule is switched off.", now)
    rule.workspace = booking.workspace  # the same row: spares a query
    result = send_automated(
        rule=rule,
        contact=booking.contact,
        context={"booking": booking_context(booking), "link": manage_url(booking)},
        booking=booking,
    )
    run_record(rule=rule, key=key, result=result, reminder=reminder)
    status = Reminder.Status.SENT if result.outcome == AutomationRun.Outcome.SENT else skipped
    return _finish(reminder, status, result.reason, now)

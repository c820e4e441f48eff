"""Reminders of pending forms: a client who has not filled a form in is reminded, with its link,
at the form reminder rule's points, each at most once:

- after_sent: `after_sent_minutes` after the form was sent;
- before_booking: `before_booking_minutes` before the start of the booking the form belongs to;
  once per start (a booking moved gets the point again, for its new start).

A form sent for a booking gets no reminder once that booking has started or is no longer on
(cancelled, completed, no-show): the form was for it.

Nothing is planned ahead: a periodic sweep finds the open forms (pending, or overdue: an
overdue form is late, not closed) with a point due and no run recorded for it yet, and records
one run per point under a unique key (automation_run_once_per_key), whether the reminder was
sent or skipped and why (the rule is off, automation is paused for the conversation, the client
cannot be reached). A point that came while the sweep was down is sent when it next runs,
once (unless the booking has started meanwhile). A form whose link has expired gets
no reminder (its link would not open): staff send a new link.

Decisions:
- A before-booking point at or before the moment the form was sent does not apply: the client
  has just been sent the link (a booking made less than the point ahead), and a reminder right
  after it would be a second message for nothing.
- Points due together (a sweep that was down, a booking close to the after-sent point): one
  message; the other point is recorded as skipped, covered by it.
- Points that come while the rule is off are recorded as skipped: switching it back on does not
  send a burst of stale reminders.
- The rule's quiet hours (workspace clock) hold a reminder until they end; one whose booking
  starts before they end is skipped, as a booking reminder is.
- The reminder goes out on the channel the form's link went out on, when the client can still
  be reached there; otherwise on the channel any message would take.
- A form completed a moment before is never reminded: the sweep locks the submissions as the
  client's submission does (submission_submit), and reads their status under that lock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from django.conf import settings
from django.db import transaction
from django.db.models import CharField, Exists, F, Func, OuterRef, Q, Value
from django.db.models.functions import Cast, Concat
from django.utils import timezone

from automation.batches import batches_send
from automation.engine import MAX_ATTEMPTS, RunResult, reason_truncate, run_new
from automation.messages import LOCAL_FORMAT, AutomatedSend, booking_context, sends_automated
from automation.models import AutomationRun, Rule
from automation.reminders import quiet_window_end
from bookings.models import ACTIVE_STATUSES
from forms.models import FormSubmission
from forms.services import submission_link

log = structlog.get_logger(__name__)

KIND = Rule.Kind.FORM_REMINDER
SENT = AutomationRun.Outcome.SENT
SKIPPED = AutomationRun.Outcome.SKIPPED
FAILED = AutomationRun.Outcome.FAILED
OPEN_STATUSES = (FormSubmission.Status.PENDING, FormSubmission.Status.OVERDUE)
AFTER_SENT = "after_sent"
BEFORE_BOOKING = "before_booking"
# Submissions the sweep deals with in one transaction (see reminders.SEND_BATCH).
SEND_BATCH = 100

SWITCHED_OFF_REASON = "The form reminder rule is switched off."
QUIET_REASON = (
    "It would fall in the quiet hours ({quiet}), which end only after the booking starts."
)
COVERED_REASON = "Covered by the other reminder of this form, sent at the same time."


def _stamp(moment: datetime) -> str:
    """A booking start in a run's key: UTC, to the second (as _UtcStamp writes it in SQL)."""
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


class _UtcStamp(Func):
    """SQL of _stamp: the run keys are matched in the sweep's query."""

    output_field = CharField()
    template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYYMMDD\"T\"HH24MISS\"Z\"')"

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(
            compiler, connection, template="strftime('%%Y%%m%%dT%%H%%M%%SZ', %(expressions)s)"
        )


def run_key(submission_id: int, point: str, booking_start: datetime | None = None) -> str:
    """ "form_reminder:12:after_sent", "form_reminder:12:before_booking:20310306T120000Z"."""
    key = f"form_reminder:{submission_id}:{point}"
    return key if booking_start is None else f"{key}:{_stamp(booking_start)}"


@dataclass(frozen=True)
class Point:
    name: str  # AFTER_SENT or BEFORE_BOOKING
    key: str
    label: str  # how a run's reason names it


def _hours(minutes: int) -> str:
    if minutes % 60:
        return f"{minutes} minutes"
    hours = minutes // 60
    if hours % 24 == 0:
        return f"{hours // 24} day{'s' if hours != 24 else ''}"
    return f"{hours} hour{'s' if hours != 1 else ''}"


def points_due(submission: FormSubmission, rule: Rule, now: datetime) -> list[Point]:
    """The submission's reminder points whose time has come at `now`, done or not (the sweep's
    query says the same in SQL). Reads submission.booking."""
    points: list[Point] = []
    booking = submission.booking
    if booking is not None and not (booking.status in ACTIVE_STATUSES and now < booking.start):
        return points  # the form was for a booking that is over, or off
    after = rule.after_sent_minutes
    if after is not None and submission.sent_at + timedelta(minutes=after) <= now:
        key = run_key(submission.pk, AFTER_SENT)
        points.append(Point(AFTER_SENT, key, f"{_hours(after)} after it was sent"))
    before = rule.before_booking_minutes
    if before is not None and booking is not None:
        point = booking.start - timedelta(minutes=before)
        if submission.sent_at < point <= now:
            key = run_key(submission.pk, BEFORE_BOOKING, booking.start)
            points.append(Point(BEFORE_BOOKING, key, f"{_hours(before)} before the booking"))
    return points


# --- Finding the work ---------------------------------------------------------------------------


def _rules_with(field: str, minutes: int):
    return Rule.objects.filter(kind=KIND, **{field: minutes}).values("workspace_id")


def _not_done(key) -> Exists:
    return ~Exists(AutomationRun.objects.filter(~Q(outcome=FAILED), key=key))


def submissions_due(now: datetime):
    """Open submissions with a reminder point due at `now` and no run for it yet, whose link
    still opens. Each workspace's points are its rule's; the rules are grouped by their
    setting (few distinct values), so the times compared are constants an index can serve.
    Rules switched off are included: their points are recorded as skipped."""
    pk_text = Cast(OuterRef("pk"), output_field=CharField())
    after_key = Concat(Value("form_reminder:"), pk_text, Value(f":{AFTER_SENT}"))
    before_key = Concat(
        Value("form_reminder:"),
        pk_text,
        Value(f":{BEFORE_BOOKING}:"),
        _UtcStamp(OuterRef("booking__start")),
        output_field=CharField(),
    )
    rules = Rule.objects.filter(kind=KIND)
    due = Q(pk__in=[])
    after_values = rules.filter(after_sent_minutes__isnull=False).values_list(
        "after_sent_minutes", flat=True
    )
    before_values = rules.filter(before_booking_minutes__isnull=False).values_list(
        "before_booking_minutes", flat=True
    )
    for minutes in sorted(set(after_values)):
        due |= Q(
            workspace_id__in=_rules_with("after_sent_minutes", minutes),
            sent_at__lte=now - timedelta(minutes=minutes),
        ) & Q(_not_done(after_key))
    for minutes in sorted(set(before_values)):
        offset = timedelta(minutes=minutes)
        due |= (
            Q(
                workspace_id__in=_rules_with("before_booking_minutes", minutes),
                booking__start__lte=now + offset,
            )
            & Q(booking__start__gt=F("sent_at") + offset)
            & Q(_not_done(before_key))
        )
    # A form for a booking is reminded only while that booking is on and to come.
    booking_to_come = Q(booking__isnull=True) | Q(
        booking__status__in=ACTIVE_STATUSES, booking__start__gt=now
    )
    link_max_age = timedelta(days=settings.FORM_LINK_MAX_AGE_DAYS)
    return FormSubmission.objects.filter(
        due,
        booking_to_come,
        status__in=OPEN_STATUSES,
        link_issued_at__gt=now - link_max_age,
    )


def _ensure_rules() -> None:
    """Every workspace with open forms has its form reminder rule (on, with its defaults):
    rules are created on a workspace's first read, which may not have happened since this
    rule kind was added."""
    from automation.rules import rules_for

    missing = (
        FormSubmission.objects.filter(status__in=OPEN_STATUSES)
        .exclude(workspace_id__in=Rule.objects.filter(kind=KIND).values("workspace_id"))
        .values_list("workspace_id", flat=True)
        .distinct()
    )
    for workspace_id in missing:
        rules_for(workspace_id)


# --- Sending -----------------------------------------------------------------------------------


def form_reminders_send_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """The sweep: every reminder point due, SEND_BATCH submissions per transaction (locked
    together, SKIP LOCKED: those another worker holds are its). When anything in a batch fails
    it is rolled back and its submissions are dealt with one by one, so the failing one rolls
    back alone (a failed run is recorded; the next sweep tries again, MAX_ATTEMPTS times). Safe
    to run twice and concurrently: a point is recorded once. Returns how many submissions were
    dealt with."""
    now = now or timezone.now()
    _ensure_rules()
    ids = list(submissions_due(now).order_by("sent_at", "pk").values_list("pk", flat=True)[:limit])
    done = batches_send(
        ids,
        now=now,
        size=SEND_BATCH,
        send=_send_batch,
        note_failure=_note_failure,
        what="form_reminder",
    )
    if ids:
        log.info("form_reminders_swept", picked=len(ids), done=done)
    return done


def _locked(ids: list[int]):
    return (
        FormSubmission.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("workspace", "contact", "booking", "booking__booking_type")
        .filter(pk__in=ids, status__in=OPEN_STATUSES)
        .order_by("pk")
    )


def _rules_for(workspace_ids: set[int], rules: dict[int, Rule]) -> dict[int, Rule]:
    from automation.rules import rules_for

    missing = workspace_ids - set(rules)
    if missing:
        for rule in Rule.objects.filter(kind=KIND, workspace_id__in=missing):
            rules[rule.workspace_id] = rule
        for workspace_id in missing - set(rules):  # created since the sweep began
            rules[workspace_id] = rules_for(workspace_id)[KIND]
    return rules


def _done_keys(keys: list[str]) -> set[str]:
    return set(
        AutomationRun.objects.filter(key__in=keys)
        .exclude(outcome=FAILED)
        .values_list("key", flat=True)
    )


def _result(submission: FormSubmission, outcome: str, reason: str, **ids) -> RunResult:
    return RunResult(
        outcome,
        reason,
        contact_id=submission.contact_id,
        booking_id=submission.booking_id,
        **ids,
    )


def _about(submission: FormSubmission, point: Point) -> str:
    return f"“{submission.template_name}”, {point.label}: "


def _context(submission: FormSubmission) -> dict:
    workspace = submission.workspace
    link = submission_link(submission)
    context = {
        "form": {
            "name": submission.template_name,
            "due_local": workspace.local_text(submission.due_at, LOCAL_FORMAT),
            "link": link,
        },
        "link": link,
    }
    booking = submission.booking
    if booking is not None:
        booking.workspace = workspace  # the same row: spares a query
        context["booking"] = booking_context(booking)
    return context


def _send_batch(ids: list[int], now: datetime, rules: dict[int, Rule]) -> int:
    """Deal with the due points of the submissions among `ids` no other worker holds: skipped
    (rule off), or one message per submission through automation.messages (which skips a
    paused conversation or a client who cannot be reached), and one run per point. Call inside
    a transaction: the rows stay locked until it commits, and the runs' unique keys make a
    concurrent sweep's second send fail rather than go out twice."""
    submissions = list(_locked(ids))
    if not submissions:
        return 0
    _rules_for({s.workspace_id for s in submissions}, rules)
    due = {s.pk: points_due(s, rules[s.workspace_id], now) for s in submissions}
    done_keys = _done_keys([p.key for points in due.values() for p in points])
    runs: list[AutomationRun] = []
    to_send: list[tuple[FormSubmission, Rule, list[Point]]] = []
    dealt_with = 0
    for submission in submissions:
        points = [p for p in due[submission.pk] if p.key not in done_keys]
        if not points:
            continue  # dealt with by another sweep, or its booking moved or started
        rule = rules[submission.workspace_id]
        if not rule.is_enabled:
            for point in points:
                reason = _about(submission, point) + SWITCHED_OFF_REASON
                result = _result(submission, SKIPPED, reason)
                runs.append(run_new(rule=rule, key=point.key, result=result))
            dealt_with += 1
            continue
        # The quiet hours (the workspace's clock): the reminder waits for their end, unless the
        # booking starts by then.
        window_end = quiet_window_end(now, rule, submission.workspace)
        if window_end is not None:
            booking = submission.booking
            if booking is None or window_end < booking.start:
                continue  # a later sweep sends it
            for point in points:
                quiet = f"{rule.quiet_start:%H:%M} to {rule.quiet_end:%H:%M}"
                reason = _about(submission, point) + QUIET_REASON.format(quiet=quiet)
                runs.append(
                    run_new(rule=rule, key=point.key, result=_result(submission, SKIPPED, reason))
                )
            dealt_with += 1
            continue
        rule.workspace = submission.workspace  # the same row: spares a query
        to_send.append((submission, rule, points))
        dealt_with += 1
    results = sends_automated(
        [
            AutomatedSend(
                rule=rule,
                contact=submission.contact,
                context=_context(submission),
                booking=submission.booking,
                prefer_channel=submission.sent_channel or None,
            )
            for submission, rule, _ in to_send
        ]
    )
    for (submission, rule, points), result in zip(to_send, results, strict=True):
        # The last point (before the booking, when both are due) carries the message.
        *covered, carrier = points
        reason = _about(submission, carrier) + result.reason
        runs.append(
            run_new(
                rule=rule,
                key=carrier.key,
                result=_result(submission, result.outcome, reason, message_id=result.message_id),
            )
        )
        for point in covered:
            if result.outcome == SENT:
                outcome, why = SKIPPED, COVERED_REASON
            else:
                outcome, why = result.outcome, result.reason
            runs.append(
                run_new(
                    rule=rule,
                    key=point.key,
                    result=_result(submission, outcome, _about(submission, point) + why),
                )
            )
        log.info(
            "form_reminder_processed",
            submission_id=submission.pk,
            points=[p.name for p in points],
            outcome=result.outcome,
        )
    AutomationRun.objects.bulk_create(runs)
    return dealt_with


def _note_failure(submission_id: int, exc: Exception, now: datetime) -> None:
    """Record the failed send (its own transaction): a failed run per point, which the next
    sweep retries; after MAX_ATTEMPTS, a skipped run with the error ends it."""
    try:
        with transaction.atomic():
            submission = _locked([submission_id]).first()
            if submission is None:
                return
            rule = _rules_for({submission.workspace_id}, {})[submission.workspace_id]
            error = f"{type(exc).__name__}: {exc}"
            points = points_due(submission, rule, now)
            done_keys = _done_keys([p.key for p in points])
            for point in [p for p in points if p.key not in done_keys]:
                failures = AutomationRun.objects.filter(key=point.key, outcome=FAILED).count()
                if failures + 1 >= MAX_ATTEMPTS:
                    log.error("form_reminder_gave_up", submission_id=submission_id, error=error)
                    outcome, why = SKIPPED, f"Not sent after {failures + 1} attempts: {error}"
                else:
                    outcome, why = FAILED, error
                reason = reason_truncate(_about(submission, point) + why)
                run_new(rule=rule, key=point.key, result=_result(submission, outcome, reason)).save(
                    force_insert=True
                )
    except Exception:
        log.exception("form_reminder_note_failed", submission_id=submission_id)

"""The outbox and its dispatcher: events recorded with the change that caused them, and each
rule's handler run once per event.

How a handler is written (automation/handlers/):

    @handles(Event.Kind.CONTACT_CREATED, Rule.Kind.WELCOME)
    def welcome(event: Event, rule: Rule) -> RunResult:
        contact = ...  # load the subject in event.workspace_id
        return send_automated(rule=rule, contact=contact, context={...})

The dispatcher calls it inside a savepoint, only when the rule is enabled (a disabled rule gets a
skipped run, "switched off") and no run with the same key exists yet, then stores an
AutomationRun from the RunResult in the same savepoint: the message queued and the run that
says so commit together, and a redelivered event finds the run and does nothing. A handler that
raises is rolled back and recorded as a failed run; the other rules still run.

Housekeeping handlers (`handles(..., always=True)`) run whatever the rule's switch says (closing
an alert whose cause is gone); they return None when they did nothing, and then no run is
recorded (they are idempotent, so a redelivery simply runs them again).

Retries: while any run of an event failed, the event stays undispatched and its next attempt
waits (ATTEMPT_BACKOFF); the sweep re-runs only the failed rules (the others' keys are taken).
After MAX_ATTEMPTS it is marked dispatched, its last error kept on the event and logged as an
error (the failed runs show on the contact's and booking's history). The same holds for an
event whose dispatch fails outside the handlers.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from automation.models import AutomationRun, Event, Rule
from automation.rules import rules_for
from automation.webhooks.services import EndpointCache, webhook_deliveries_create
from bookings.models import Booking
from careops.db import is_constraint
from careops.queue import enqueue_on_commit
from contacts.models import Contact

log = structlog.get_logger(__name__)

# Events older than this and still undispatched are the sweep's (younger ones are probably
# on their way through the task queued on commit).
SWEEP_GRACE_SECONDS = 30
SWEEP_BATCH = 200
REASON_MAX_LENGTH = 500  # AutomationRun.reason
SWITCHED_OFF = "This rule is switched off."
# How long the n-th failed attempt waits before the next; the last attempt is the MAX_ATTEMPTS-th.
ATTEMPT_BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=15),
    timedelta(hours=1),
)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class RunResult:
    outcome: str  # AutomationRun.Outcome
    reason: str = ""
    contact_id: int | None = None
    booking_id: int | None = None
    message_id: int | None = None


Handler = Callable[[Event, Rule], RunResult | None]

# event kind -> [(rule kind, handler)], in registration order.
HANDLERS: dict[str, list[tuple[str, Handler]]] = {}
# Housekeeping handlers: run even when their rule is switched off (see the module docstring).
ALWAYS: set[Handler] = set()


def handles(
    event_kind: str, rule_kind: str, *, always: bool = False
) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS.setdefault(event_kind, []).append((rule_kind, handler))
        if always:
            ALWAYS.add(handler)
        return handler

    return register


def reason_truncate(text: str) -> str:
    """A run's reason, cut to fit AutomationRun.reason."""
    return text if len(text) <= REASON_MAX_LENGTH else text[: REASON_MAX_LENGTH - 1] + "…"


def retry_backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt."""
    return ATTEMPT_BACKOFF[min(attempts, len(ATTEMPT_BACKOFF)) - 1]


def run_key(event: Event, rule_kind: str) -> str:
    return f"event:{event.pk}:{rule_kind}"


def event_record(
    *, workspace, kind: str, subject_type: str, subject_id: int, payload: dict | None = None
) -> Event:
    """Write the event in the caller's transaction and queue its dispatch on commit (a broker
    outage leaves it to the sweep)."""
    from automation.tasks import automation_dispatch_event

    event = Event.objects.create(
        workspace_id=getattr(workspace, "pk", workspace),
        kind=kind,
        subject_type=subject_type,
        subject_id=subject_id,
        payload=payload or {},
    )
    enqueue_on_commit(automation_dispatch_event, event.pk)
    return event


def event_dispatch(event_id: int, *, now: datetime | None = None) -> int:
    """Run every handler registered for the event's kind, once each, and mark it dispatched
    (unless a run failed: then it waits for its next attempt, see the module docstring).
    The event row is locked (SKIP LOCKED: a concurrent dispatch of the same event returns at
    once); an event waiting for its next attempt is left to the sweep. Returns how many runs
    were recorded. Safe to call twice."""
    runs = _dispatch(event_id, now=now or timezone.now(), rules_cache={}, webhooks_cache={})
    return runs or 0


def attempt_due(now: datetime) -> Q:
    """Undispatched events whose (next) attempt is due at `now`: the sweep's rule, and
    `manage.py dispatch_events`'s."""
    return Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)


def events_dispatch_pending(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """The sweep: dispatch undispatched events older than SWEEP_GRACE_SECONDS whose next attempt
    is due: new ones first, then retries (a failing event never holds newer ones back), oldest
    first, skipping those another worker holds. Returns how many were dealt with."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=SWEEP_GRACE_SECONDS)
    # The pick skips rows a dispatch holds right now (they are being done); each event is then
    # locked again, one at a time, by its own dispatch.
    with transaction.atomic():
        ids = list(
            Event.objects.select_for_update(skip_locked=True)
            .filter(attempt_due(now), dispatched_at__isnull=True, created_at__lt=cutoff)
            .order_by(F("next_attempt_at").asc(nulls_first=True), "created_at")
            .values_list("pk", flat=True)[:limit]
        )
    # One sweep reads each workspace's rules (and webhook endpoints) once.
    rules_cache: dict[int, dict[str, Rule]] = {}
    webhooks_cache: EndpointCache = {}
    dispatched = sum(
        1
        for event_id in ids
        if _dispatch(event_id, now=now, rules_cache=rules_cache, webhooks_cache=webhooks_cache)
        is not None
    )
    if ids:
        log.info("automation_events_swept", picked=len(ids), dispatched=dispatched)
    return dispatched


def run_record(**fields: Any) -> AutomationRun:
    """Store a run, `run_new(**fields)`, in the caller's transaction. Used by the dispatcher and
    the reminders."""
    run = run_new(**fields)
    run.save(force_insert=True)
    return run


def run_new(
    *,
    rule: Rule,
    key: str,
    result: RunResult,
    event: Event | None = None,
    reminder=None,
) -> AutomationRun:
    """A run not yet stored: the reminders sweep stores a batch's in one INSERT."""
    return AutomationRun(
        workspace_id=rule.workspace_id,
        rule=rule,
        event=event,
        reminder=reminder,
        key=key,
        outcome=result.outcome,
        reason=reason_truncate(result.reason),
        contact_id=result.contact_id,
        booking_id=result.booking_id,
        message_id=result.message_id,
    )


# --- Dispatching one event ----------------------------------------------------------------------


def _dispatch(
    event_id: int,
    *,
    now: datetime,
    rules_cache: dict[int, dict[str, Rule]],
    webhooks_cache: EndpointCache,
) -> int | None:
    """Dispatch the event: how many runs were recorded, or None when there was nothing to do
    (already dispatched, waiting for its next attempt, held by another worker, gone). Never
    raises (but a soft time limit): what goes wrong outside the handlers is logged and counted
    on the event, and the sweep tries again after the backoff."""
    try:
        with transaction.atomic():
            # No join here: FOR UPDATE would lock the joined workspace row as well.
            event = (
                Event.objects.select_for_update(skip_locked=True)
                .filter(attempt_due(now), pk=event_id, dispatched_at__isnull=True)
                .first()
            )
            if event is None:
                return None
            if event.workspace_id not in rules_cache:
                rules_cache[event.workspace_id] = rules_for(event.workspace_id)
            runs, errors = _run_handlers(event, rules_cache[event.workspace_id])
            # Outbound webhooks: the deliveries are written with the dispatch (a failure here
            # fails the dispatch, which is tried again; a delivery is made once per endpoint).
            webhook_deliveries_create(event, cache=webhooks_cache)
            event.attempts += 1
            event.last_error = "\n".join(errors)[:2000]
            _schedule(event, now, failed=bool(errors))
            event.save(
                update_fields=[
                    "dispatched_at",
                    "next_attempt_at",
                    "attempts",
                    "last_error",
                    "updated_at",
                ]
            )
    except SoftTimeLimitExceeded:
        # The task is out of time: let Celery end it (the event stays for the sweep).
        raise
    except Exception as exc:
        log.exception("automation_event_dispatch_failed", event_id=event_id)
        rules_cache.clear()  # rules first created in the rolled-back transaction are gone
        webhooks_cache.clear()
        _note_failure(event_id, exc, now)
        return None
    log.info(
        "automation_event_dispatched",
        event_id=event_id,
        kind=event.kind,
        runs=runs,
        retry_at=event.next_attempt_at,
    )
    return runs


def _schedule(event: Event, now: datetime, *, failed: bool) -> None:
    """After an attempt (event.attempts counts it): done, or another try after the backoff, or
    given up at the cap."""
    if failed and event.attempts < MAX_ATTEMPTS:
        event.dispatched_at = None
        event.next_attempt_at = now + retry_backoff(event.attempts)
        return
    if failed:
        log.error(
            "automation_event_gave_up",
            event_id=event.pk,
            kind=event.kind,
            attempts=event.attempts,
            error=event.last_error,
        )
    event.dispatched_at = now
    event.next_attempt_at = None


def _run_handlers(event: Event, rules: dict[str, Rule]) -> tuple[int, list[str]]:
    subject_ids = _SubjectIds(event)
    runs = 0
    errors: list[str] = []
    handlers = HANDLERS.get(event.kind, [])
    done = set(
        AutomationRun.objects.filter(key__in=[run_key(event, kind) for kind, _ in handlers])
        .exclude(outcome=AutomationRun.Outcome.FAILED)
        .values_list("key", flat=True)
    )
    for rule_kind, handler in handlers:
        rule = rules[rule_kind]
        key = run_key(event, rule_kind)
        if key in done:
            continue
        always = handler in ALWAYS
        if not rule.is_enabled and not always:
            result = RunResult(AutomationRun.Outcome.SKIPPED, SWITCHED_OFF, **subject_ids.get())
            run_record(rule=rule, key=key, result=result, event=event)
            runs += 1
            continue
        try:
            with transaction.atomic():
                result = handler(event, rule)
                if result is None:  # housekeeping that found nothing to do
                    continue
                run_record(rule=rule, key=key, result=result, event=event)
        except IntegrityError as exc:
            if is_duplicate_run(exc):
                # Another dispatch recorded this run a moment ago (only possible without row
                # locks, on SQLite): its work stands, this one's was rolled back.
                log.info("automation_run_already_recorded", key=key)
                continue
            errors.append(_failure(rule, key, event, subject_ids, exc))
        except SoftTimeLimitExceeded:
            # Out of time inside a rule: not the rule's failure. The handler's savepoint is
            # rolled back and the event stays for the sweep (see _dispatch).
            raise
        except Exception as exc:
            errors.append(_failure(rule, key, event, subject_ids, exc))
        runs += 1
    return runs, errors


def _failure(rule: Rule, key: str, event: Event, subject_ids: _SubjectIds, exc: Exception) -> str:
    """The handler's savepoint is rolled back; what stays is a failed run saying why."""
    log.exception("automation_handler_failed", event_id=event.pk, kind=event.kind, rule=rule.kind)
    reason = reason_truncate(f"{type(exc).__name__}: {exc}")
    result = RunResult(AutomationRun.Outcome.FAILED, reason, **subject_ids.get())
    run_record(rule=rule, key=key, result=result, event=event)
    return f"{rule.kind}: {reason}"


class _SubjectIds:
    """The contact and booking a skipped or failed run is about, so it shows on their pages:
    taken from the event, and only when the row still exists (a run pointing at a deleted
    contact would fail the whole dispatch at commit)."""

    def __init__(self, event: Event) -> None:
        self.event = event
        self._ids: dict[str, int | None] | None = None

    def get(self) -> dict[str, int | None]:
        if self._ids is None:
            event = self.event
            contact_id = event.payload.get("contact_id")
            booking_id = event.payload.get("booking_id")
            if event.subject_type == "contact":
                contact_id = event.subject_id
            elif event.subject_type == "booking":
                booking_id = event.subject_id
            contacts = Contact.objects.for_workspace(event.workspace_id)
            if contact_id and not contacts.filter(pk=contact_id).exists():
                contact_id = None
            bookings = Booking.objects.for_workspace(event.workspace_id)
            if booking_id and not bookings.filter(pk=booking_id).exists():
                booking_id = None
            self._ids = {"contact_id": contact_id or None, "booking_id": booking_id or None}
        return self._ids


def _note_failure(event_id: int, exc: Exception, now: datetime) -> None:
    """A dispatch that failed outside the handlers (its transaction rolled back): count the
    attempt and wait, as for a failed run."""
    try:
        with transaction.atomic():
            event = (
                Event.objects.select_for_update(skip_locked=True)
                .filter(pk=event_id, dispatched_at__isnull=True)
                .first()
            )
            if event is None:
                return
            event.attempts += 1
            event.last_error = f"{type(exc).__name__}: {exc}"[:2000]
            _schedule(event, now, failed=True)
            event.save(
                update_fields=[
                    "dispatched_at",
                    "next_attempt_at",
                    "attempts",
                    "last_error",
                    "updated_at",
                ]
            )
    except Exception:
        log.exception("automation_event_note_failed", event_id=event_id)


def is_duplicate_run(exc: IntegrityError) -> bool:
    """A run with the same key was recorded first (automation_run_once_per_key)."""
    return is_constraint(
        exc, "automation_run_once_per_key", sqlite_hint="automation_automationrun.key"
    )

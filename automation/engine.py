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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from automation.models import AutomationRun, Event, Rule

# Events older than this and still undispatched are the sweep's (younger ones are probably
# on their way through the task queued on commit).
SWEEP_GRACE_SECONDS = 30
SWEEP_BATCH = 200


@dataclass(frozen=True)
class RunResult:
    outcome: str  # AutomationRun.Outcome
    reason: str = ""
    contact_id: int | None = None
    booking_id: int | None = None
    message_id: int | None = None


Handler = Callable[[Event, Rule], RunResult]

# event kind -> [(rule kind, handler)], in registration order.
HANDLERS: dict[str, list[tuple[str, Handler]]] = {}


def handles(event_kind: str, rule_kind: str) -> Callable[[Handler], Handler]:
    def register(handler: Handler) -> Handler:
        HANDLERS.setdefault(event_kind, []).append((rule_kind, handler))
        return handler

    return register


def run_key(event: Event, rule_kind: str) -> str:
    return f"event:{event.pk}:{rule_kind}"


def event_record(
    *, workspace, kind: str, subject_type: str, subject_id: int, payload: dict | None = None
) -> Event:
    """Write the event in the caller's transaction and queue its dispatch on commit (a broker
    outage leaves it to the sweep)."""
    raise NotImplementedError


def event_dispatch(event_id: int, *, now: datetime | None = None) -> int:
    """Run every handler registered for the event's kind, once each, and mark it dispatched.
    The event row is locked (SKIP LOCKED: a concurrent dispatch of the same event returns at
    once). Returns how many runs were recorded. Safe to call twice."""
    raise NotImplementedError


def events_dispatch_pending(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """The sweep: dispatch undispatched events older than SWEEP_GRACE_SECONDS, oldest first,
    skipping those another worker holds. Returns how many were dispatched."""
    raise NotImplementedError


def run_record(
    *,
    rule: Rule,
    key: str,
    result: RunResult,
    event: Event | None = None,
    reminder=None,
) -> AutomationRun:
    """Store a run (in the caller's transaction). Used by the dispatcher and the reminders."""
    raise NotImplementedError

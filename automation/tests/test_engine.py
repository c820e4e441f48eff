"""The outbox and its dispatcher, tested with handlers installed for the test (the real rules
are tested with their handlers): every handler runs once per event, whatever is redelivered,
raced or failing around it."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from automation import engine, tasks
from automation.engine import RunResult
from automation.models import AutomationRun, Event, Rule
from automation.rules import rules_for
from contacts.models import Tag
from contacts.tests.factories import ContactFactory
from tests.concurrency import race

SENT = AutomationRun.Outcome.SENT
KIND = Event.Kind.CONTACT_CREATED


class Recorder:
    """A handler that notes each call and returns `outcome` (or raises `error`)."""

    def __init__(self, outcome: str = SENT, error: Exception | None = None, wait=None):
        self.calls: list[tuple[int, str]] = []
        self.outcome = outcome
        self.error = error
        self.wait = wait

    def __call__(self, event: Event, rule: Rule) -> RunResult:
        self.calls.append((event.pk, rule.kind))
        if self.wait is not None:
            self.wait()
        if self.error is not None:
            # Something written before the failure: the savepoint must take it back.
            Tag.objects.create(workspace_id=event.workspace_id, name=f"half-done-{event.pk}")
            raise self.error
        return RunResult(self.outcome, "done by the test", contact_id=event.subject_id)


@pytest.fixture
def welcome(monkeypatch):
    """The only handler of contact.created for the test: the welcome rule's."""
    handler = Recorder()
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, handler)])
    return handler


def event_for(contact, **fields) -> Event:
    """An event as the receiver records it, without queuing its dispatch."""
    return Event.objects.create(
        workspace=contact.workspace,
        kind=KIND,
        subject_type="contact",
        subject_id=contact.pk,
        payload={"contact_id": contact.pk},
        **fields,
    )


def test_an_event_recorded_with_a_change_is_dispatched_after_commit(
    workspace_a, welcome, django_capture_on_commit_callbacks
):
    contact = ContactFactory(workspace=workspace_a)

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = engine.event_record(
            workspace=workspace_a,
            kind=KIND,
            subject_type="contact",
            subject_id=contact.pk,
            payload={"contact_id": contact.pk},
        )
        assert welcome.calls == []  # nothing runs before the commit

    assert len(callbacks) == 1
    assert welcome.calls == [(event.pk, Rule.Kind.WELCOME)]
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.attempts == 1


def test_no_event_is_left_when_the_change_rolls_back(workspace_a, welcome):
    contact = ContactFactory(workspace=workspace_a)

    with pytest.raises(RuntimeError), transaction.atomic():
        engine.event_record(
            workspace=workspace_a, kind=KIND, subject_type="contact", subject_id=contact.pk
        )
        raise RuntimeError("the change failed")

    assert not Event.objects.exists()


def test_a_broker_outage_at_commit_is_logged_and_the_event_waits_for_the_sweep(
    workspace_a, welcome, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr(tasks.automation_dispatch_event, "delay", broker_down)
    contact = ContactFactory(workspace=workspace_a)

    with django_capture_on_commit_callbacks(execute=True):
        event = engine.event_record(
            workspace=workspace_a, kind=KIND, subject_type="contact", subject_id=contact.pk
        )

    event.refresh_from_db()
    assert event.dispatched_at is None
    with time_machine.travel(timezone.now() + timedelta(minutes=1)):
        assert tasks.automation_dispatch_pending.delay().get() == 1
    assert welcome.calls == [(event.pk, Rule.Kind.WELCOME)]


def test_dispatch_runs_each_rules_handler_once_and_records_its_run(workspace_a, monkeypatch):
    welcome, other = Recorder(), Recorder(outcome=AutomationRun.Outcome.DONE)
    monkeypatch.setitem(
        engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, welcome), (Rule.Kind.STOCK_LOW, other)]
    )
    contact = ContactFactory(workspace=workspace_a)
    event = event_for(contact)

    assert engine.event_dispatch(event.pk) == 2

    assert welcome.calls == [(event.pk, Rule.Kind.WELCOME)]
    assert other.calls == [(event.pk, Rule.Kind.STOCK_LOW)]
    runs = {run.rule.kind: run for run in AutomationRun.objects.select_related("rule")}
    assert runs[Rule.Kind.WELCOME].outcome == SENT
    assert runs[Rule.Kind.WELCOME].key == f"event:{event.pk}:welcome"
    assert runs[Rule.Kind.WELCOME].contact == contact
    assert runs[Rule.Kind.WELCOME].workspace == workspace_a
    assert runs[Rule.Kind.STOCK_LOW].outcome == AutomationRun.Outcome.DONE
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.attempts == 1
    assert event.last_error == ""


def test_dispatching_the_same_event_twice_runs_its_handler_once(workspace_a, welcome):
    event = event_for(ContactFactory(workspace=workspace_a))

    assert engine.event_dispatch(event.pk) == 1
    assert tasks.automation_dispatch_event.delay(event.pk).get() == 0

    assert len(welcome.calls) == 1
    assert AutomationRun.objects.count() == 1
    event.refresh_from_db()
    assert event.attempts == 1


def test_a_redelivered_event_whose_runs_are_recorded_does_not_act_again(workspace_a, welcome):
    event = event_for(ContactFactory(workspace=workspace_a))
    engine.event_dispatch(event.pk)
    # As if the dispatch had been lost after its runs were stored (say, restored from a backup).
    Event.objects.filter(pk=event.pk).update(dispatched_at=None)

    assert engine.event_dispatch(event.pk) == 0

    assert len(welcome.calls) == 1
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_an_event_with_no_handlers_is_just_marked_dispatched(workspace_a, monkeypatch):
    monkeypatch.setitem(engine.HANDLERS, KIND, [])
    event = event_for(ContactFactory(workspace=workspace_a))

    assert engine.event_dispatch(event.pk) == 0

    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_a_raising_handler_is_a_failed_run_and_the_other_rules_still_run(workspace_a, monkeypatch):
    broken = Recorder(error=RuntimeError("provider exploded"))
    welcome = Recorder()
    monkeypatch.setitem(
        engine.HANDLERS, KIND, [(Rule.Kind.STOCK_LOW, broken), (Rule.Kind.WELCOME, welcome)]
    )
    contact = ContactFactory(workspace=workspace_a)
    event = event_for(contact)

    assert tasks.automation_dispatch_event.delay(event.pk).get() == 2  # the task does not raise

    failed = AutomationRun.objects.get(rule__kind=Rule.Kind.STOCK_LOW)
    assert failed.outcome == AutomationRun.Outcome.FAILED
    assert failed.reason == "RuntimeError: provider exploded"
    assert failed.contact == contact  # it shows on the contact's page
    assert not Tag.objects.filter(name__startswith="half-done").exists()  # rolled back
    assert AutomationRun.objects.get(rule__kind=Rule.Kind.WELCOME).outcome == SENT
    assert len(welcome.calls) == 1
    event.refresh_from_db()
    assert event.last_error == "stock_low: RuntimeError: provider exploded"
    # Not given up: it waits for its next attempt (see the retry tests below).
    assert event.dispatched_at is None
    assert event.attempts == 1


# --- Retries ------------------------------------------------------------------------------------


def test_a_failed_rule_is_retried_after_a_backoff_and_only_that_rule_runs_again(
    workspace_a, monkeypatch
):
    flaky = Recorder(error=RuntimeError("provider down"))
    welcome = Recorder()
    monkeypatch.setitem(
        engine.HANDLERS, KIND, [(Rule.Kind.STOCK_LOW, flaky), (Rule.Kind.WELCOME, welcome)]
    )
    event = event_for(ContactFactory(workspace=workspace_a))
    now = timezone.now()

    engine.event_dispatch(event.pk, now=now)
    event.refresh_from_db()
    assert (event.dispatched_at, event.next_attempt_at) == (None, now + timedelta(minutes=1))

    # Before the backoff is over, neither a redelivered task nor the sweep runs it.
    assert engine.event_dispatch(event.pk, now=now + timedelta(seconds=50)) == 0
    assert engine.events_dispatch_pending(now=now + timedelta(seconds=50)) == 0
    assert len(flaky.calls) == 1

    flaky.error = None
    assert engine.events_dispatch_pending(now=now + timedelta(minutes=2)) == 1

    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert (event.attempts, event.last_error) == (2, "")
    assert (len(flaky.calls), len(welcome.calls)) == (2, 1)  # the welcome was not run again
    runs = AutomationRun.objects.filter(rule__kind=Rule.Kind.STOCK_LOW).order_by("pk")
    assert [run.outcome for run in runs] == ["failed", SENT]


def test_an_event_failing_every_time_is_given_up_after_the_attempt_cap(workspace_a, monkeypatch):
    broken = Recorder(error=RuntimeError("provider down"))
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, broken)])
    event = event_for(ContactFactory(workspace=workspace_a))
    now = timezone.now()
    waits = []

    for _ in range(engine.MAX_ATTEMPTS):
        engine.event_dispatch(event.pk, now=now)
        event.refresh_from_db()
        if event.next_attempt_at:
            waits.append(event.next_attempt_at - now)
            now = event.next_attempt_at

    assert waits == [timedelta(minutes=m) for m in (1, 5, 15, 60)]
    assert event.dispatched_at is not None
    assert event.next_attempt_at is None
    assert event.attempts == engine.MAX_ATTEMPTS
    assert event.last_error == "welcome: RuntimeError: provider down"
    assert AutomationRun.objects.filter(outcome="failed").count() == engine.MAX_ATTEMPTS
    assert engine.events_dispatch_pending(now=now + timedelta(days=1)) == 0


def test_a_failing_event_waiting_for_its_retry_does_not_hold_back_newer_ones(workspace_a, welcome):
    contact = ContactFactory(workspace=workspace_a)
    now = timezone.now()
    waiting = event_for(contact, attempts=1, next_attempt_at=now + timedelta(minutes=5))
    Event.objects.filter(pk=waiting.pk).update(created_at=now - timedelta(hours=1))
    newer = event_for(contact)
    Event.objects.filter(pk=newer.pk).update(created_at=now - timedelta(minutes=1))

    assert engine.events_dispatch_pending(now=now, limit=1) == 1

    assert Event.objects.get(pk=newer.pk).dispatched_at is not None
    assert Event.objects.get(pk=waiting.pk).dispatched_at is None


def test_a_dispatch_failing_outside_the_handlers_waits_before_the_next_attempt(
    workspace_a, welcome, monkeypatch
):
    event = event_for(ContactFactory(workspace=workspace_a))
    now = timezone.now()

    def broken_rules(workspace):
        raise RuntimeError("database hiccup")

    monkeypatch.setattr(engine, "rules_for", broken_rules)
    assert engine.event_dispatch(event.pk, now=now) == 0

    event.refresh_from_db()
    assert (event.attempts, event.dispatched_at) == (1, None)
    assert event.next_attempt_at == now + timedelta(minutes=1)
    assert event.last_error == "RuntimeError: database hiccup"


def test_a_soft_time_limit_ends_the_dispatch_instead_of_being_counted(
    workspace_a, welcome, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    event = event_for(ContactFactory(workspace=workspace_a))

    def out_of_time(workspace):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(engine, "rules_for", out_of_time)
    with pytest.raises(SoftTimeLimitExceeded):
        engine.event_dispatch(event.pk)

    event.refresh_from_db()
    assert (event.attempts, event.dispatched_at, event.next_attempt_at) == (0, None, None)


def test_a_soft_time_limit_inside_a_rule_ends_the_dispatch_and_is_not_a_failed_run(
    workspace_a, monkeypatch
):
    from celery.exceptions import SoftTimeLimitExceeded

    slow = Recorder(error=SoftTimeLimitExceeded())
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, slow)])
    event = event_for(ContactFactory(workspace=workspace_a))

    with pytest.raises(SoftTimeLimitExceeded):
        engine.event_dispatch(event.pk)

    # The rule ran out of time, it did not fail: nothing is recorded against it, and the
    # event waits for the sweep as it was.
    assert not AutomationRun.objects.exists()
    assert not Tag.objects.filter(name__startswith="half-done").exists()
    event.refresh_from_db()
    assert (event.attempts, event.dispatched_at, event.next_attempt_at) == (0, None, None)


def test_the_sweep_reads_each_workspaces_rules_once(
    workspace_a, welcome, django_assert_max_num_queries
):
    contact = ContactFactory(workspace=workspace_a)
    rules_for(workspace_a)
    for _ in range(3):
        event_for(contact)
    Event.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    # 29 queries: the pick (savepoint, select, release); the rules and the webhook endpoints,
    # once each; then per event (3 x 8): savepoint, lock the event, the runs already done, the
    # run's savepoint, insert, release, the event's update, release. Read per event, the rules
    # would make it 31.
    with django_assert_max_num_queries(29):
        assert engine.events_dispatch_pending() == 3


def test_a_failed_runs_reason_is_cut_to_fit(workspace_a, monkeypatch):
    broken = Recorder(error=ValueError("x" * 2000))
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, broken)])
    event = event_for(ContactFactory(workspace=workspace_a))

    engine.event_dispatch(event.pk)

    run = AutomationRun.objects.get()
    assert run.outcome == AutomationRun.Outcome.FAILED
    assert run.reason.startswith("ValueError: xxx")
    assert len(run.reason) == 500


def test_a_switched_off_rule_gets_a_skipped_run_and_its_handler_is_not_called(workspace_a, welcome):
    Rule.objects.filter(pk=rules_for(workspace_a)[Rule.Kind.WELCOME].pk).update(is_enabled=False)
    contact = ContactFactory(workspace=workspace_a)
    event = event_for(contact)

    assert engine.event_dispatch(event.pk) == 1

    assert welcome.calls == []
    run = AutomationRun.objects.get()
    assert run.outcome == AutomationRun.Outcome.SKIPPED
    assert run.reason == "This rule is switched off."
    assert run.contact == contact
    assert run.event == event


def test_a_failed_run_does_not_block_a_later_successful_run(workspace_a, welcome):
    event = event_for(ContactFactory(workspace=workspace_a))
    rule = rules_for(workspace_a)[Rule.Kind.WELCOME]
    engine.run_record(
        rule=rule,
        key=engine.run_key(event, Rule.Kind.WELCOME),
        result=RunResult(AutomationRun.Outcome.FAILED, "the provider was down"),
        event=event,
    )

    assert engine.event_dispatch(event.pk) == 1

    assert len(welcome.calls) == 1
    assert sorted(AutomationRun.objects.values_list("key", "outcome")) == [
        (f"event:{event.pk}:welcome", AutomationRun.Outcome.FAILED),
        (f"event:{event.pk}:welcome", SENT),
    ]


def test_run_record_keeps_what_the_handler_reports(workspace_a):
    contact = ContactFactory(workspace=workspace_a)
    rule = rules_for(workspace_a)[Rule.Kind.WELCOME]

    run = engine.run_record(
        rule=rule,
        key="reminder:1:2026-12-01T09:00:00+00:00",
        result=RunResult(AutomationRun.Outcome.SKIPPED, "Paused", contact_id=contact.pk),
    )

    run.refresh_from_db()
    assert (run.workspace, run.rule, run.contact, run.event) == (workspace_a, rule, contact, None)
    assert (run.outcome, run.reason) == (AutomationRun.Outcome.SKIPPED, "Paused")


def test_the_sweep_leaves_young_events_alone_and_dispatches_old_ones(workspace_a, welcome):
    contact = ContactFactory(workspace=workspace_a)
    start = timezone.now()
    with time_machine.travel(start - timedelta(minutes=5)):
        old = event_for(contact)
    young = event_for(contact)

    with time_machine.travel(start + timedelta(seconds=engine.SWEEP_GRACE_SECONDS - 5)):
        assert tasks.automation_dispatch_pending.delay().get() == 1

    assert welcome.calls == [(old.pk, Rule.Kind.WELCOME)]
    young.refresh_from_db()
    assert young.dispatched_at is None

    with time_machine.travel(start + timedelta(seconds=engine.SWEEP_GRACE_SECONDS + 5)):
        assert engine.events_dispatch_pending() == 1
        assert engine.events_dispatch_pending() == 0  # twice in a row changes nothing

    assert welcome.calls == [(old.pk, Rule.Kind.WELCOME), (young.pk, Rule.Kind.WELCOME)]


def test_the_sweep_takes_the_oldest_first_up_to_its_limit(workspace_a, welcome):
    contact = ContactFactory(workspace=workspace_a)
    start = timezone.now() - timedelta(hours=1)
    events = []
    for minutes in (3, 1, 2):
        with time_machine.travel(start + timedelta(minutes=minutes)):
            events.append(event_for(contact))

    assert engine.events_dispatch_pending(limit=2) == 2

    assert [pk for pk, _ in welcome.calls] == [events[1].pk, events[2].pk]


def test_dispatching_an_event_takes_a_handful_of_queries(
    workspace_a, welcome, django_assert_max_num_queries
):
    event = event_for(ContactFactory(workspace=workspace_a))
    rules_for(workspace_a)  # created once per workspace, on first read

    # 10 queries: savepoint, the event locked, its workspace, the rules, its runs so far,
    # savepoint, the run stored, release savepoint, the event marked, release savepoint
    with django_assert_max_num_queries(10):
        engine.event_dispatch(event.pk)


# --- Racing real connections ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_two_workers_dispatching_the_same_event_at_once_run_its_handler_once(monkeypatch):
    loser_returned = threading.Event()
    waits: list[bool] = []
    # The winner holds the event until the loser has come and gone (or 5 s at most).
    welcome = Recorder(wait=lambda: waits.append(loser_returned.wait(timeout=5)))
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, welcome)])
    event = event_for(ContactFactory())

    def dispatch(i: int) -> int:
        runs = engine.event_dispatch(event.pk)
        if runs == 0:
            loser_returned.set()
        return runs

    results, errors = race(dispatch, 2)

    assert errors == []
    assert sorted(results) == [0, 1]
    assert waits == [True]  # the loser returned at once, while the winner held the event
    assert len(welcome.calls) == 1
    assert AutomationRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_the_sweep_skips_an_event_whose_dispatch_is_in_flight(monkeypatch):
    in_handler, sweep_done = threading.Event(), threading.Event()
    waits: list[bool] = []

    def hold() -> None:
        in_handler.set()
        waits.append(sweep_done.wait(timeout=5))

    welcome = Recorder(wait=hold)
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, welcome)])
    event = event_for(ContactFactory())
    later = timezone.now() + timedelta(minutes=5)  # old enough for the sweep

    def work(i: int) -> tuple[str, int]:
        if i == 0:
            return "dispatch", engine.event_dispatch(event.pk)
        assert in_handler.wait(timeout=5)
        try:
            return "sweep", engine.events_dispatch_pending(now=later)
        finally:
            sweep_done.set()

    results, errors = race(work, 2)

    assert errors == []
    assert sorted(results) == [("dispatch", 1), ("sweep", 0)]
    assert waits == [True]  # the sweep passed the held event by, without waiting for it
    assert len(welcome.calls) == 1
    assert AutomationRun.objects.count() == 1
    event.refresh_from_db()
    assert event.attempts == 1

"""The operators' automation commands: sweep the outbox and send due reminders in-process (no
broker), see what reminders would go out without changing anything, and purge old history
without ever making a rule act twice."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation import engine, tasks
from automation.engine import RunResult
from automation.models import AutomationRun, Event, Reminder, Rule
from automation.reminders import reminder_plan, reminders_send_due
from automation.rules import rules_for
from automation.tests.message_providers import emails_sent, providers_for
from bookings.models import Booking
from bookings.services import booking_reschedule
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.tests.factories import ContactFactory
from messaging.models import Conversation, Message

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

# Monday 2 June 2031, noon UTC: "now" in every test.
NOW = datetime(2031, 6, 2, 12, 0, tzinfo=UTC)
LONG_AGO = NOW - timedelta(days=100)
KIND = Event.Kind.CONTACT_CREATED


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller.move_to


def run(name: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def fails(name: str, *args: str) -> CommandError:
    with pytest.raises(CommandError) as caught:
        call_command(name, *args, stdout=io.StringIO(), stderr=io.StringIO())
    return caught.value


@pytest.mark.parametrize(
    ("command", "option"),
    [
        ("dispatch_events", "--limit"),
        ("send_due_reminders", "--dry-run"),
        ("purge_events", "--older-than"),
    ],
)
def test_each_command_explains_itself_with_help(command, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command(command, "--help")

    assert exit_.value.code == 0
    assert option in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["dispatch_events", "--limit", "0"], "--limit must be a positive number of events."),
        (["dispatch_events", "--limit", "many"], "invalid int value: 'many'"),
        (["send_due_reminders", "--limit", "-1"], "--limit must be a positive number"),
        (["purge_events", "--older-than", "0"], "--older-than must be at least 1 day."),
        (["purge_events", "--batch-size", "0"], "--batch-size must be a positive number"),
    ],
)
def test_bad_input_exits_non_zero_with_a_clear_message(args, message):
    error = fails(*args)

    assert error.returncode == 1
    assert message in str(error)


# --- dispatch_events -----------------------------------------------------------------------------


class Recorder:
    """A rule's handler for the test: notes each call; fails while `failing`."""

    def __init__(self, failing: bool = False):
        self.calls: list[int] = []
        self.failing = failing

    def __call__(self, event: Event, rule: Rule) -> RunResult:
        self.calls.append(event.pk)
        if self.failing:
            raise RuntimeError("the provider is down")
        return RunResult(AutomationRun.Outcome.SENT, "sent by the test")


@pytest.fixture
def welcome(monkeypatch):
    handler = Recorder()
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, handler)])
    return handler


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("dispatch_events must not need the broker")

    monkeypatch.setattr(tasks.automation_dispatch_event, "delay", refuse)
    monkeypatch.setattr(tasks.automation_dispatch_event, "apply_async", refuse)


def event_for(workspace, **fields) -> Event:
    contact = ContactFactory(workspace=workspace)
    return Event.objects.create(
        workspace=workspace, kind=KIND, subject_type="contact", subject_id=contact.pk, **fields
    )


def test_the_outbox_is_swept_in_process_new_events_included(
    workspace_a, welcome, broker_down, clock
):
    clock(NOW - timedelta(hours=2))
    old = event_for(workspace_a)
    clock(NOW)
    new = event_for(workspace_a)  # its own task was never queued: the broker is down
    done = event_for(workspace_a, dispatched_at=NOW - timedelta(hours=1))

    out, err = run("dispatch_events")

    assert welcome.calls == [old.pk, new.pk]  # oldest first; the dispatched one is left alone
    assert out.splitlines() == [
        "2 due: 2 dispatched, 0 failed.",
        "0 still pending (0 waiting for a retry).",
    ]
    assert "2/2 events" in err
    assert Event.objects.filter(dispatched_at__isnull=True).count() == 0
    assert AutomationRun.objects.filter(event__in=[old, new]).count() == 2
    assert not AutomationRun.objects.filter(event=done).exists()


def test_a_failing_event_is_reported_and_left_for_its_retry(workspace_a, monkeypatch, clock):
    failing = Recorder(failing=True)
    monkeypatch.setitem(engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, failing)])
    event = event_for(workspace_a)

    out, _ = run("dispatch_events")

    assert out.splitlines() == [
        "1 due: 0 dispatched, 1 failed.",
        "The sweep retries the failed ones, the first at 2031-06-02 12:01 UTC; their errors are "
        "on the events (admin) and on the contacts' histories.",
        "1 still pending (1 waiting for a retry).",
    ]
    event.refresh_from_db()
    assert (event.dispatched_at, event.attempts) == (None, 1)
    assert "the provider is down" in event.last_error
    # Not due again before its backoff: a second sweep at once leaves it alone.
    out, _ = run("dispatch_events")
    assert out.splitlines()[0] == "0 due: 0 dispatched, 0 failed."
    assert failing.calls == [event.pk]


def test_limit_dispatches_the_oldest_events_only(workspace_a, welcome, clock):
    clock(NOW - timedelta(minutes=5))
    first = event_for(workspace_a)
    clock(NOW)
    second = event_for(workspace_a)

    out, _ = run("dispatch_events", "--limit", "1")

    assert welcome.calls == [first.pk]
    assert out.splitlines()[-1] == "1 still pending (0 waiting for a retry)."
    second.refresh_from_db()
    assert second.dispatched_at is None


# --- send_due_reminders --------------------------------------------------------------------------

# Wednesday 4 June 2031, noon UTC (13:00 in London): the booking; its reminder is due a day before.
WEDNESDAY_NOON = NOW + timedelta(days=2)


def booking_at(workspace, start: datetime, email: str = "dana@example.org") -> Booking:
    booking_type = BookingTypeFactory(workspace=workspace, name="Massage", location="Room 2")
    contact = ContactFactory(workspace=workspace, name="Dana Client", email=email)
    return BookingFactory(
        workspace=workspace, booking_type=booking_type, contact=contact, start=start
    )


@pytest.fixture
def due_reminder(workspace_a, stand_in, clock) -> Reminder:
    """A reminder planned for Wednesday's booking, due (Tuesday noon) by the time the test runs."""
    providers_for(workspace_a, stand_in)
    booking = booking_at(workspace_a, WEDNESDAY_NOON)
    reminder_plan(booking, rules_for(workspace_a)[Rule.Kind.BOOKING_REMINDER])
    clock(WEDNESDAY_NOON - timedelta(hours=23))
    return Reminder.objects.get(booking=booking)


def test_due_reminders_are_sent_in_process(
    due_reminder, stand_in, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        out, err = run("send_due_reminders")

    assert out.splitlines() == [
        "1 due: 1 sent, 0 skipped, 0 waiting (quiet hours or a retry), 0 left to another worker."
    ]
    assert "1/1 reminders" in err
    due_reminder.refresh_from_db()
    assert due_reminder.status == Reminder.Status.SENT
    [email] = emails_sent(stand_in)
    assert email["to"] == ["dana@example.org"]
    assert email["subject"] == "Reminder: Massage on Wednesday 4 June"
    # Run again: nothing is due, nothing more is sent.
    out, _ = run("send_due_reminders")
    assert out.startswith("0 due: 0 sent")
    assert len(emails_sent(stand_in)) == 1


def test_a_reminder_the_rule_would_skip_is_skipped_with_its_reason(due_reminder):
    Rule.objects.filter(kind=Rule.Kind.BOOKING_REMINDER).update(is_enabled=False)

    out, _ = run("send_due_reminders")

    assert out.splitlines() == [
        "1 due: 0 sent, 1 skipped, 0 waiting (quiet hours or a retry), 0 left to another worker.",
        f"  reminder {due_reminder.pk} skipped: The reminder rule is switched off.",
    ]


def everything() -> dict[str, list]:
    """Every row the reminders sweep could write, as it stands."""
    return {
        model.__name__: list(model.objects.order_by("pk").values())
        for model in (Reminder, AutomationRun, Rule, Message, Conversation, Event, Booking)
    }


def test_a_dry_run_lists_what_would_be_sent_and_changes_nothing(due_reminder, stand_in):
    booking = due_reminder.booking
    before = everything()

    with CaptureQueriesContext(connection) as queries:
        out, _ = run("send_due_reminders", "--dry-run")

    assert out.splitlines() == [
        "1 due now; nothing is sent (dry run).",
        f"reminder {due_reminder.pk}  booking {booking.pk} (Massage, 2031-06-04 12:00 UTC)  "
        "Dana Client  email dana@example.org  due 2031-06-03 12:00 UTC  would send",
    ]
    assert everything() == before
    writes = [
        q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in {"INSERT", "UPDATE"}
    ]
    assert writes == []
    assert not any(q["sql"].startswith("DELETE") for q in queries.captured_queries)
    assert stand_in.requests == []
    assert mail.outbox == []


def test_a_dry_run_says_why_a_reminder_would_be_skipped(due_reminder):
    Rule.objects.filter(kind=Rule.Kind.BOOKING_REMINDER).update(is_enabled=False)
    before = everything()

    out, _ = run("send_due_reminders", "--dry-run")

    assert out.splitlines()[1].endswith("would skip: This rule is switched off.")
    assert everything() == before


# --- purge_events --------------------------------------------------------------------------------


def test_old_dispatched_events_go_with_their_runs_and_recent_or_pending_ones_stay(
    workspace_a, welcome, clock
):
    clock(LONG_AGO)
    old = event_for(workspace_a)
    engine.event_dispatch(old.pk)
    pending = event_for(workspace_a, attempts=2, next_attempt_at=NOW + timedelta(minutes=5))
    clock(NOW - timedelta(days=10))
    recent = event_for(workspace_a)
    engine.event_dispatch(recent.pk)
    clock(NOW)

    out, err = run("purge_events", "--older-than", "90")

    assert out.splitlines() == [
        "Older than 2031-03-04 12:00 UTC (90 days), deleted:",
        "  automation events           1",
        "  automation runs             1",
        "  reminders                   0",
    ]
    assert "2/2 rows" in err
    assert set(Event.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
    assert list(AutomationRun.objects.values_list("event", flat=True)) == [recent.pk]


def test_a_retrying_events_runs_are_kept_so_its_retry_runs_only_the_failed_rule(
    workspace_a, monkeypatch, clock
):
    sent, failing = Recorder(), Recorder(failing=True)
    monkeypatch.setitem(
        engine.HANDLERS, KIND, [(Rule.Kind.WELCOME, sent), (Rule.Kind.PAUSE_ON_REPLY, failing)]
    )
    clock(LONG_AGO)
    event = event_for(workspace_a)
    engine.event_dispatch(event.pk)  # welcome sent; the other failed: the event waits
    clock(NOW)

    run("purge_events", "--older-than", "30")
    failing.failing = False
    engine.event_dispatch(event.pk)

    assert sent.calls == [event.pk]  # its run survived the purge: never sent twice
    assert failing.calls == [event.pk, event.pk]
    event.refresh_from_db()
    assert event.dispatched_at == NOW


def test_a_dry_run_counts_and_deletes_nothing(workspace_a, welcome, clock):
    clock(LONG_AGO)
    for _ in range(3):
        engine.event_dispatch(event_for(workspace_a).pk)
    clock(NOW)

    out, _ = run("purge_events", "--dry-run")

    assert out.splitlines()[0] == (
        "Older than 2031-03-04 12:00 UTC (90 days), would be deleted (dry run):"
    )
    assert "  automation events           3" in out
    assert "  automation runs             3" in out
    assert Event.objects.count() == 3
    assert AutomationRun.objects.count() == 3


def test_the_retention_defaults_to_the_setting_and_purges_in_batches(
    workspace_a, welcome, clock, settings
):
    settings.EVENT_RETENTION_DAYS = 7
    clock(NOW - timedelta(days=8))
    for _ in range(3):
        engine.event_dispatch(event_for(workspace_a).pk)
    clock(NOW)

    with CaptureQueriesContext(connection) as queries:
        out, err = run("purge_events", "--batch-size", "1")

    assert out.splitlines()[0] == "Older than 2031-05-26 12:00 UTC (7 days), deleted:"
    assert not Event.objects.exists()
    assert not AutomationRun.objects.exists()
    event_deletes = [
        q for q in queries.captured_queries if q["sql"].startswith('DELETE FROM "automation_event"')
    ]
    assert len(event_deletes) == 3  # one batch (and transaction) per event
    assert err.endswith("6/6 rows\n")


def test_finished_reminders_of_past_bookings_go_and_nothing_is_sent_again(
    workspace_a, stand_in, clock, django_capture_on_commit_callbacks
):
    providers_for(workspace_a, stand_in)
    rule = rules_for(workspace_a)[Rule.Kind.BOOKING_REMINDER]
    clock(LONG_AGO)
    past = booking_at(workspace_a, LONG_AGO + timedelta(days=2))
    reminder_plan(past, rule)
    clock(LONG_AGO + timedelta(days=1, minutes=1))
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send_due()
    clock(NOW)
    upcoming = booking_at(workspace_a, NOW + timedelta(days=3), email="eli@example.org")
    reminder_plan(upcoming, rule)

    out, _ = run("purge_events")

    assert "  reminders                   1" in out
    assert "  automation runs             1" in out
    assert list(Reminder.objects.values_list("booking", "status")) == [
        (upcoming.pk, Reminder.Status.PLANNED)
    ]
    assert not AutomationRun.objects.filter(key__startswith="reminder:").exists()
    assert len(emails_sent(stand_in)) == 1


def test_a_reminder_run_for_a_start_still_ahead_is_kept_so_it_is_never_sent_twice(
    workspace_a, stand_in, clock, owner, django_capture_on_commit_callbacks
):
    """A run is the record that this start was reminded: a booking moved away and back to that
    start must not be reminded again, however old the run."""
    providers_for(workspace_a, stand_in)
    rule = rules_for(workspace_a)[Rule.Kind.BOOKING_REMINDER]
    start = NOW + timedelta(days=20)
    booking = booking_at(workspace_a, start)
    rule_offset = timedelta(days=25)
    Rule.objects.filter(pk=rule.pk).update(offset_minutes=int(rule_offset.total_seconds() // 60))
    rule.refresh_from_db()
    clock(start - rule_offset)  # 5 days ago: the run is older than a 1-day retention
    reminder_plan(booking, rule)
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send_due()
    assert len(emails_sent(stand_in)) == 1
    clock(NOW)

    out, _ = run("purge_events", "--older-than", "1")

    assert "  automation runs             0" in out
    assert Reminder.objects.filter(booking=booking).exists()
    # The booking moves away, then back to the start already reminded.
    booking_reschedule(
        booking=booking, start=start + timedelta(hours=2), actor=owner, enforce_rules=False
    )
    reminder_plan(Booking.objects.get(pk=booking.pk), rule)
    booking_reschedule(
        booking=Booking.objects.get(pk=booking.pk), start=start, actor=owner, enforce_rules=False
    )
    reminder_plan(Booking.objects.get(pk=booking.pk), rule)
    with django_capture_on_commit_callbacks(execute=True):
        reminders_send_due()

    # The sweep found the run for this start: marked sent, not sent again.
    assert Reminder.objects.get(booking=booking).status == Reminder.Status.SENT
    assert len(emails_sent(stand_in)) == 1


def test_the_daily_task_purges_with_the_setting(workspace_a, welcome, clock, settings):
    settings.EVENT_RETENTION_DAYS = 30
    clock(LONG_AGO)
    engine.event_dispatch(event_for(workspace_a).pk)
    clock(NOW)

    counts = tasks.automation_purge_history()

    assert counts == {"events": 1, "runs": 1, "reminders": 0}
    assert not Event.objects.exists()

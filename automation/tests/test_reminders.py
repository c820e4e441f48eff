"""Reminders before bookings: planned 24 hours before the start, sent once when due (however
often or concurrently the sweep runs), re-planned when a booking moves, cancelled with it, and
never sent in the quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from automation.models import AutomationRun, Reminder, Rule
from automation.reminders import reminder_plan, reminders_send_due
from automation.rules import rule_update, rules_for
from automation.tests.message_providers import emails_sent, providers_for
from bookings.models import Booking
from bookings.services import booking_reschedule, booking_set_status
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.tests.factories import ContactFactory
from messaging.models import Conversation, Message
from messaging.tests.factories import ConversationFactory
from tests.concurrency import race
from workspaces.tests.factories import UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

# Monday 3 March 2031, noon in London (GMT).
MONDAY_NOON = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)
# Thursday 6 March 2031, noon in London: the booking; its reminder is due on Wednesday at noon.
THURSDAY_NOON = datetime(2031, 3, 6, 12, 0, tzinfo=UTC)
WEDNESDAY_NOON = THURSDAY_NOON - timedelta(hours=24)


@pytest.fixture(autouse=True)
def _monday_noon():
    with time_machine.travel(MONDAY_NOON, tick=False) as traveller:
        yield traveller


@pytest.fixture
def clock(_monday_noon):
    """Moves the frozen clock: clock(moment)."""
    return _monday_noon.move_to


@pytest.fixture
def rule(workspace_a) -> Rule:
    return rules_for(workspace_a)[Rule.Kind.BOOKING_REMINDER]


def booking_at(workspace, start: datetime, *, email="dana@example.org", **fields) -> Booking:
    booking_type = BookingTypeFactory(workspace=workspace, name="Massage", location="Room 2")
    contact = ContactFactory(workspace=workspace, name="Dana Client", email=email)
    return BookingFactory(
        workspace=workspace, booking_type=booking_type, contact=contact, start=start, **fields
    )


@pytest.fixture
def booking(workspace_a) -> Booking:
    return booking_at(workspace_a, THURSDAY_NOON)


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """The reminders sweep, with the deliveries it queues run after each commit."""

    def run(**kwargs) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return reminders_send_due(**kwargs)

    return run


def reminder_of(booking) -> Reminder:
    return Reminder.objects.get(booking=booking)


# --- Planning ---------------------------------------------------------------------------------


def test_a_reminder_is_planned_24_hours_before_the_start(booking, rule):
    result = reminder_plan(booking, rule)

    reminder = reminder_of(booking)
    assert reminder.status == Reminder.Status.PLANNED
    assert (reminder.offset_minutes, reminder.booking_start) == (24 * 60, THURSDAY_NOON)
    assert reminder.due_at == WEDNESDAY_NOON
    assert result.outcome == AutomationRun.Outcome.DONE
    assert result.reason == "Reminder planned for Wednesday 5 March, 12:00."
    assert (result.booking_id, result.contact_id) == (booking.pk, booking.contact_id)


def test_planning_twice_keeps_one_reminder_per_booking_and_offset(booking, rule):
    reminder_plan(booking, rule)
    reminder_plan(booking, rule)

    assert Reminder.objects.filter(booking=booking).count() == 1


def test_a_booking_made_closer_than_its_reminder_offset_is_reminded_at_once(workspace_a, rule):
    soon = booking_at(workspace_a, MONDAY_NOON + timedelta(hours=5))

    result = reminder_plan(soon, rule)

    reminder = reminder_of(soon)
    assert (reminder.status, reminder.due_at) == (Reminder.Status.PLANNED, MONDAY_NOON)
    assert result.reason == "Reminder planned for Monday 3 March, 12:00."


def test_a_booking_made_after_its_start_gets_no_reminder(workspace_a, rule):
    started = booking_at(workspace_a, MONDAY_NOON - timedelta(minutes=10))

    reminder_plan(started, rule)

    reminder = reminder_of(started)
    assert reminder.status == Reminder.Status.SKIPPED
    assert reminder.reason == "No reminder: the booking has already started."


# --- Sending ----------------------------------------------------------------------------------


def test_a_reminder_is_not_sent_before_it_is_due(booking, rule, clock, sweep):
    reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON - timedelta(minutes=1))

    assert sweep() == 0
    assert reminder_of(booking).status == Reminder.Status.PLANNED


def test_a_due_reminder_is_sent_once_even_when_the_sweep_runs_twice(
    workspace_a, booking, rule, clock, sweep, stand_in
):
    providers_for(workspace_a, stand_in)
    reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON + timedelta(minutes=10))

    assert sweep() == 1
    assert sweep() == 0

    reminder = reminder_of(booking)
    assert reminder.status == Reminder.Status.SENT
    assert reminder.processed_at == WEDNESDAY_NOON + timedelta(minutes=10)
    run = AutomationRun.objects.get()
    assert run.key == f"reminder:{reminder.pk}:{THURSDAY_NOON.isoformat()}"
    assert (run.outcome, run.reminder, run.booking, run.rule) == (
        AutomationRun.Outcome.SENT,
        reminder,
        booking,
        rule,
    )
    [email] = emails_sent(stand_in)
    assert email["to"] == ["dana@example.org"]
    assert email["subject"] == "Reminder: Massage on Thursday 6 March"
    assert "A reminder of your Massage on Thursday 6 March, 12:00 at Room 2." in email["text"]
    assert run.message.status == Message.Status.SENT


def test_a_backlog_is_worked_through_batch_after_batch_not_one_batch_per_beat(
    workspace_a, rule, clock, stand_in, monkeypatch, django_capture_on_commit_callbacks
):
    from automation import tasks

    providers_for(workspace_a, stand_in)
    monkeypatch.setattr(tasks, "REMINDER_BATCH", 3)
    bookings = [
        booking_at(workspace_a, THURSDAY_NOON + timedelta(hours=n), email=f"c{n}@example.org")
        for n in range(7)
    ]
    for booking in bookings:
        reminder_plan(booking, rule)
    clock(THURSDAY_NOON - timedelta(minutes=1))  # all seven are due, none has started

    # One beat: 3 sent, the full batch queues the next (3), which queues the last one (1).
    with django_capture_on_commit_callbacks(execute=True):
        first_batch = tasks.automation_send_due_reminders()

    assert first_batch == 3
    assert not Reminder.objects.exclude(status=Reminder.Status.SENT).exists()
    assert sorted(e["to"][0] for e in emails_sent(stand_in)) == sorted(
        f"c{n}@example.org" for n in range(7)
    )


def test_a_reminder_whose_run_exists_is_marked_and_not_sent_again(booking, rule, clock, sweep):
    reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON)
    sweep()
    # The run committed but the reminder's own update was lost (say, restored from a backup).
    Reminder.objects.update(status=Reminder.Status.PLANNED, processed_at=None)

    assert sweep() == 1

    assert reminder_of(booking).status == Reminder.Status.SENT
    assert Message.objects.count() == 1


def test_a_reminder_to_a_paused_conversation_is_skipped_with_the_reason(
    booking, rule, clock, sweep
):
    ConversationFactory(contact=booking.contact, automation_paused=True)
    reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON)

    sweep()

    reminder = reminder_of(booking)
    assert reminder.status == Reminder.Status.SKIPPED
    assert reminder.reason == (
        "Automation is paused for this conversation: a staff member replied."
    )
    assert AutomationRun.objects.get().outcome == AutomationRun.Outcome.SKIPPED
    assert not Message.objects.exists()


def test_the_sweep_skips_a_booking_cancelled_before_its_reminder_was(booking, rule, clock, sweep):
    reminder_plan(booking, rule)
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)
    clock(WEDNESDAY_NOON)

    sweep()

    reminder = reminder_of(booking)
    assert (reminder.status, reminder.reason) == (
        Reminder.Status.SKIPPED,
        "No reminder: the booking is cancelled.",
    )
    assert not Message.objects.exists()


def test_the_sweep_skips_a_booking_that_already_started(booking, rule, clock, sweep):
    reminder_plan(booking, rule)
    clock(THURSDAY_NOON + timedelta(minutes=1))  # the sweep was down for a day

    sweep()

    assert reminder_of(booking).reason == "The booking had already started."
    assert not Message.objects.exists()


def test_the_sweep_skips_reminders_while_the_rule_is_off(booking, rule, owner, clock, sweep):
    reminder_plan(booking, rule)
    rule_update(rule=rule, actor=owner, is_enabled=False)
    clock(WEDNESDAY_NOON)

    sweep()

    reminder = reminder_of(booking)
    assert (reminder.status, reminder.reason) == (
        Reminder.Status.SKIPPED,
        "The reminder rule is switched off.",
    )


def test_a_reminder_skipped_at_send_time_leaves_a_skipped_run_on_the_booking(
    booking, rule, clock, sweep
):
    reminder_plan(booking, rule)
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)
    clock(WEDNESDAY_NOON)

    sweep()

    run = AutomationRun.objects.get()
    assert (run.outcome, run.reason) == (
        AutomationRun.Outcome.SKIPPED,
        "No reminder: the booking is cancelled.",
    )
    assert (run.booking, run.contact, run.reminder) == (
        booking,
        booking.contact,
        reminder_of(booking),
    )
    assert run.key.startswith(f"reminder:{run.reminder_id}:{THURSDAY_NOON.isoformat()}:skipped")


def test_a_reminder_skipped_while_the_rule_was_off_goes_out_once_it_is_back_on(
    workspace_a, booking, rule, owner, clock, sweep, stand_in, django_capture_on_commit_callbacks
):
    providers_for(workspace_a, stand_in)
    reminder_plan(booking, rule)
    rule_update(rule=rule, actor=owner, is_enabled=False)
    clock(WEDNESDAY_NOON)
    sweep()
    assert AutomationRun.objects.get().reason == "The reminder rule is switched off."

    with django_capture_on_commit_callbacks(execute=True):
        rule_update(rule=rule, actor=owner, is_enabled=True)
    sweep()

    assert reminder_of(booking).status == Reminder.Status.SENT
    assert len(emails_sent(stand_in)) == 1


def test_a_late_sweep_inside_the_quiet_hours_waits_for_their_end(workspace_a, rule, clock, sweep):
    # Due Wednesday 20:58 (before the quiet hours), but the sweep only comes at 21:03.
    evening = booking_at(workspace_a, datetime(2031, 3, 6, 20, 58, tzinfo=UTC))
    reminder_plan(evening, rule)
    clock(datetime(2031, 3, 5, 21, 3, tzinfo=UTC))

    assert sweep() == 0

    reminder = reminder_of(evening)
    assert (reminder.status, reminder.due_at) == (
        Reminder.Status.PLANNED,
        datetime(2031, 3, 6, 8, 0, tzinfo=UTC),
    )
    assert not Message.objects.exists()
    clock(datetime(2031, 3, 6, 8, 0, tzinfo=UTC))
    assert sweep() == 1
    assert reminder_of(evening).status == Reminder.Status.SENT


def test_a_late_sweep_inside_quiet_hours_ending_after_the_start_skips_the_reminder(
    workspace_a, rule, clock, sweep
):
    # Thursday 07:50: reminded Wednesday at 08:00 (the end of the quiet hours). The sweep is
    # down for a day and comes on Thursday at 06:00, inside quiet hours ending after the start.
    early = booking_at(workspace_a, datetime(2031, 3, 6, 7, 50, tzinfo=UTC))
    reminder_plan(early, rule)
    clock(datetime(2031, 3, 6, 6, 0, tzinfo=UTC))

    sweep()

    reminder = reminder_of(early)
    assert reminder.status == Reminder.Status.SKIPPED
    assert reminder.reason.startswith("No reminder: it would fall in the quiet hours")
    assert AutomationRun.objects.get().outcome == AutomationRun.Outcome.SKIPPED
    assert not Message.objects.exists()


def test_a_booking_event_dispatched_late_still_gets_its_reminder_at_once(workspace_a, rule, clock):
    # Booked 24 h 2 min before its start; the event is dispatched 3 minutes later.
    start = MONDAY_NOON + timedelta(hours=24, minutes=2)
    late = booking_at(workspace_a, start)
    clock(MONDAY_NOON + timedelta(minutes=3))

    reminder_plan(late, rule)

    reminder = reminder_of(late)
    assert (reminder.status, reminder.due_at) == (
        Reminder.Status.PLANNED,
        MONDAY_NOON + timedelta(minutes=3),
    )


def test_a_reminder_that_fails_to_send_is_retried_with_backoff_then_skipped(
    booking, rule, clock, sweep, monkeypatch
):
    from automation import engine, reminders

    def broken(sends):
        raise RuntimeError("renderer exploded")

    monkeypatch.setattr(reminders, "sends_automated", broken)
    reminder_plan(booking, rule)
    now = WEDNESDAY_NOON
    waits = []
    for _ in range(engine.MAX_ATTEMPTS):
        clock(now)
        assert sweep() == 0
        reminder = reminder_of(booking)
        if reminder.status == Reminder.Status.PLANNED:
            waits.append(reminder.due_at - now)
            now = reminder.due_at

    assert waits == [timedelta(minutes=m) for m in (1, 5, 15, 60)]
    assert reminder.status == Reminder.Status.SKIPPED
    assert reminder.attempts == engine.MAX_ATTEMPTS
    assert reminder.reason == "Not sent after 5 attempts: RuntimeError: renderer exploded"
    runs = AutomationRun.objects.filter(reminder=reminder)
    assert [run.outcome for run in runs] == ["failed"] * engine.MAX_ATTEMPTS
    assert {(run.booking_id, run.reason) for run in runs} == {
        (booking.pk, "RuntimeError: renderer exploded")
    }
    clock(now + timedelta(days=1))
    assert sweep() == 0


def test_a_reminder_given_up_on_gets_all_its_tries_again_when_the_booking_moves(
    workspace_a, booking, rule, owner, clock, sweep, stand_in, monkeypatch
):
    from automation import engine, reminders

    providers_for(workspace_a, stand_in)
    real_send = reminders.sends_automated
    failing = [True]

    def flaky(sends):
        if failing[0]:
            raise RuntimeError("provider down")
        return real_send(sends)

    monkeypatch.setattr(reminders, "sends_automated", flaky)
    reminder_plan(booking, rule)
    Reminder.objects.filter(booking=booking).update(attempts=engine.MAX_ATTEMPTS - 1)
    clock(WEDNESDAY_NOON)
    sweep()
    assert reminder_of(booking).status == Reminder.Status.SKIPPED  # given up

    new_start = THURSDAY_NOON + timedelta(days=7)
    booking_reschedule(booking=booking, start=new_start, actor=owner, enforce_rules=False)
    reminder_plan(booking, rule)
    assert (reminder_of(booking).status, reminder_of(booking).attempts) == (
        Reminder.Status.PLANNED,
        0,
    )
    # One failure for the new start is a retry, not the end.
    clock(new_start - timedelta(hours=24))
    sweep()
    assert (reminder_of(booking).status, reminder_of(booking).attempts) == (
        Reminder.Status.PLANNED,
        1,
    )
    failing[0] = False
    clock(new_start - timedelta(hours=24) + timedelta(minutes=1))
    sweep()

    assert reminder_of(booking).status == Reminder.Status.SENT
    assert len(emails_sent(stand_in)) == 1


def test_a_reminder_that_failed_once_is_sent_on_the_next_try(
    workspace_a, booking, rule, clock, sweep, stand_in, monkeypatch
):
    from automation import reminders

    providers_for(workspace_a, stand_in)
    real_send = reminders.sends_automated
    calls = []

    def flaky(sends):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("provider hiccup")
        return real_send(sends)

    monkeypatch.setattr(reminders, "sends_automated", flaky)
    reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON)
    sweep()
    clock(WEDNESDAY_NOON + timedelta(minutes=1))
    sweep()

    reminder = reminder_of(booking)
    assert (reminder.status, reminder.attempts) == (Reminder.Status.SENT, 1)
    outcomes = AutomationRun.objects.filter(reminder=reminder).order_by("pk")
    assert [run.outcome for run in outcomes] == ["failed", "sent"]
    assert len(emails_sent(stand_in)) == 1


# --- Reschedule and cancel -------------------------------------------------------------------


def test_a_rescheduled_booking_has_its_reminder_replanned(booking, rule, owner):
    reminder_plan(booking, rule)
    booking_reschedule(
        booking=booking, start=THURSDAY_NOON + timedelta(days=1), actor=owner, enforce_rules=False
    )

    reminder_plan(booking, rule)

    reminder = reminder_of(booking)
    assert reminder.status == Reminder.Status.PLANNED
    assert reminder.booking_start == THURSDAY_NOON + timedelta(days=1)
    assert reminder.due_at == THURSDAY_NOON


def test_a_reminder_sent_for_the_old_start_is_rearmed_and_sent_for_the_new_one(
    booking, rule, owner, clock, sweep
):
    reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON)
    sweep()
    new_start = THURSDAY_NOON + timedelta(days=7)
    booking_reschedule(booking=booking, start=new_start, actor=owner, enforce_rules=False)

    reminder_plan(booking, rule)
    assert reminder_of(booking).status == Reminder.Status.PLANNED
    clock(new_start - timedelta(hours=24))
    sweep()

    reminder = reminder_of(booking)
    assert (reminder.status, reminder.booking_start) == (Reminder.Status.SENT, new_start)
    keys = sorted(AutomationRun.objects.values_list("key", flat=True))
    assert keys == sorted(
        [
            f"reminder:{reminder.pk}:{THURSDAY_NOON.isoformat()}",
            f"reminder:{reminder.pk}:{new_start.isoformat()}",
        ]
    )
    assert Message.objects.count() == 2


def test_replanning_for_the_start_already_reminded_sends_nothing_more(booking, rule, clock, sweep):
    reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON)
    sweep()

    result = reminder_plan(booking, rule)

    assert result.reason == "Reminder already sent for Thursday 6 March, 12:00."
    assert reminder_of(booking).status == Reminder.Status.SENT


def test_a_reminder_the_sweep_skipped_because_the_booking_moved_is_rearmed(
    booking, rule, clock, sweep
):
    reminder_plan(booking, rule)
    new_start = THURSDAY_NOON + timedelta(days=2)
    Booking.objects.filter(pk=booking.pk).update(
        start=new_start,
        end=new_start + timedelta(hours=1),
        blocked_start=new_start,
        blocked_end=new_start + timedelta(hours=1),
    )
    clock(WEDNESDAY_NOON)
    sweep()  # the reschedule's event has not been dispatched yet
    assert reminder_of(booking).reason == "The booking was moved."

    booking.refresh_from_db()
    reminder_plan(booking, rule)

    reminder = reminder_of(booking)
    assert (reminder.status, reminder.due_at) == (
        Reminder.Status.PLANNED,
        new_start - timedelta(hours=24),
    )


def test_a_cancelled_booking_gets_no_reminder(booking, rule, owner, clock, sweep):
    reminder_plan(booking, rule)
    booking_set_status(booking=booking, status=Booking.Status.CANCELLED, actor=owner)

    result = reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON)

    assert sweep() == 0
    reminder = reminder_of(booking)
    assert (reminder.status, result.reason) == (
        Reminder.Status.CANCELLED,
        "No reminder: the booking is cancelled.",
    )
    assert not Message.objects.exists()


@pytest.mark.parametrize("status", [Booking.Status.NO_SHOW, Booking.Status.COMPLETED])
def test_a_finished_booking_has_its_planned_reminder_cancelled(booking, rule, owner, status):
    reminder_plan(booking, rule)
    booking_set_status(booking=booking, status=status, actor=owner)

    reminder_plan(booking, rule)

    assert reminder_of(booking).status == Reminder.Status.CANCELLED


# --- Quiet hours ------------------------------------------------------------------------------


def test_a_reminder_due_in_the_quiet_hours_goes_at_their_end(workspace_a, rule):
    # 07:30 on Thursday: 24 h before is 07:30 on Wednesday, inside 21:00-08:00.
    early = booking_at(workspace_a, datetime(2031, 3, 6, 7, 30, tzinfo=UTC))

    result = reminder_plan(early, rule)

    assert reminder_of(early).due_at == datetime(2031, 3, 5, 8, 0, tzinfo=UTC)
    assert result.reason == "Reminder planned for Wednesday 5 March, 08:00."


def test_the_quiet_hours_are_read_in_the_workspace_time_zone(workspace_a, rule):
    workspace_a.timezone = "America/New_York"  # 07:30 UTC is 02:30 in New York
    workspace_a.save()
    early = booking_at(workspace_a, datetime(2031, 3, 6, 7, 30, tzinfo=UTC))

    reminder_plan(early, rule)

    # 08:00 in New York (EST, UTC-5) on Wednesday 5 March.
    assert reminder_of(early).due_at == datetime(2031, 3, 5, 13, 0, tzinfo=UTC)


def test_no_reminder_when_the_quiet_hours_end_after_the_start(workspace_a, rule, owner):
    rule_update(rule=rule, actor=owner, offset_minutes=60)
    # 07:30: an hour before is 06:30, and the quiet hours end at 08:00, after the start.
    early = booking_at(workspace_a, datetime(2031, 3, 6, 7, 30, tzinfo=UTC))

    reminder_plan(early, rule)

    reminder = reminder_of(early)
    assert reminder.status == Reminder.Status.SKIPPED
    assert reminder.reason == (
        "No reminder: it would fall in the quiet hours (21:00 to 08:00), which end only after "
        "the booking starts."
    )


def test_quiet_hours_within_one_day(workspace_a, rule, owner):
    rule_update(rule=rule, actor=owner, quiet_start="13:00", quiet_end="14:00")
    lunch = booking_at(workspace_a, datetime(2031, 3, 6, 13, 15, tzinfo=UTC))
    evening = booking_at(
        workspace_a, datetime(2031, 3, 6, 22, 0, tzinfo=UTC), email="eve@example.org"
    )

    reminder_plan(lunch, rule)
    reminder_plan(evening, rule)

    assert reminder_of(lunch).due_at == datetime(2031, 3, 5, 14, 0, tzinfo=UTC)
    assert reminder_of(evening).due_at == datetime(2031, 3, 5, 22, 0, tzinfo=UTC)


def test_without_quiet_hours_a_night_reminder_goes_at_night(workspace_a, rule, owner):
    rule_update(rule=rule, actor=owner, quiet_start=None, quiet_end=None)
    early = booking_at(workspace_a, datetime(2031, 3, 6, 7, 30, tzinfo=UTC))

    reminder_plan(early, rule)

    assert reminder_of(early).due_at == datetime(2031, 3, 5, 7, 30, tzinfo=UTC)


def test_quiet_hours_ending_on_the_day_the_clocks_go_forward(workspace_a, rule, owner, clock):
    clock(datetime(2031, 3, 28, 12, 0, tzinfo=UTC))
    rule_update(rule=rule, actor=owner, offset_minutes=12 * 60)
    # Sunday 30 March 2031, 10:00 BST. 12 h before is Saturday 21:00 GMT, in the quiet hours,
    # which end on Sunday at 08:00 BST: 07:00 UTC, not the 08:00 UTC of a naive nine hours on.
    booking = booking_at(workspace_a, datetime(2031, 3, 30, 9, 0, tzinfo=UTC))

    result = reminder_plan(booking, rule)

    assert reminder_of(booking).due_at == datetime(2031, 3, 30, 7, 0, tzinfo=UTC)
    assert result.reason == "Reminder planned for Sunday 30 March, 08:00."


def test_quiet_hours_ending_on_the_day_the_clocks_go_back(workspace_a, rule, owner, clock):
    clock(datetime(2031, 10, 20, 12, 0, tzinfo=UTC))
    rule_update(rule=rule, actor=owner, offset_minutes=12 * 60)
    # Sunday 26 October 2031, 10:00 GMT. 12 h before is Saturday 23:00 BST; the quiet hours
    # end on Sunday at 08:00 GMT, which is 08:00 UTC.
    booking = booking_at(workspace_a, datetime(2031, 10, 26, 10, 0, tzinfo=UTC))

    reminder_plan(booking, rule)

    assert reminder_of(booking).due_at == datetime(2031, 10, 26, 8, 0, tzinfo=UTC)


def test_the_24_hours_before_a_booking_after_the_clocks_change_are_24_real_hours(
    workspace_a, rule, clock
):
    clock(datetime(2031, 3, 27, 12, 0, tzinfo=UTC))
    # Monday 31 March 2031, 10:00 BST (09:00 UTC): 24 h before is Sunday 10:00 BST.
    booking = booking_at(workspace_a, datetime(2031, 3, 31, 9, 0, tzinfo=UTC))

    result = reminder_plan(booking, rule)

    assert reminder_of(booking).due_at == datetime(2031, 3, 30, 9, 0, tzinfo=UTC)
    assert result.reason == "Reminder planned for Sunday 30 March, 10:00."


# --- Batches ----------------------------------------------------------------------------------


def due_bookings(workspace, rule, count: int) -> list[Booking]:
    """`count` bookings at Thursday noon, each on a calendar of its own, for a contact of its
    own (c0@example.org, c1@...), their reminders planned for Wednesday noon."""
    bookings = [
        booking_at(workspace, THURSDAY_NOON, email=f"c{n}@example.org", staff=UserFactory())
        for n in range(count)
    ]
    for booking in bookings:
        reminder_plan(booking, rule)
    return bookings


def test_a_sweep_sends_a_batch_of_reminders_in_a_few_queries_whatever_their_number(
    workspace_a,
    rule,
    clock,
    stand_in,
    monkeypatch,
    django_assert_max_num_queries,
    django_capture_on_commit_callbacks,
):
    from messaging.tasks import messages_deliver

    providers_for(workspace_a, stand_in)
    due_bookings(workspace_a, rule, 30)
    clock(WEDNESDAY_NOON)
    handed_over: list[list[int]] = []
    monkeypatch.setattr(messages_deliver, "delay", handed_over.append)

    # 13 queries: the due reminders' ids; then in the batch's savepoint: the reminders locked
    # (bookings, workspaces, services, contacts joined), the runs already done for them, the
    # workspace's rules, the contacts' conversations, the missing ones opened and read back,
    # the messages, the conversations' last message and the reminders' statuses (each one
    # executemany, pipelined), the runs; the release.
    with django_assert_max_num_queries(13), django_capture_on_commit_callbacks(execute=True):
        assert reminders_send_due() == 30

    assert set(Reminder.objects.values_list("status", flat=True)) == {Reminder.Status.SENT}
    assert AutomationRun.objects.filter(outcome=AutomationRun.Outcome.SENT).count() == 30
    assert Conversation.objects.count() == 30
    # Handed to delivery after the batch's commit, 30 messages in one task (of up to 50).
    assert [len(ids) for ids in handed_over] == [30]
    assert sorted(handed_over[0]) == sorted(Message.objects.values_list("pk", flat=True))
    for ids in handed_over:
        messages_deliver(ids)
    assert sorted(e["to"][0] for e in emails_sent(stand_in)) == sorted(
        f"c{n}@example.org" for n in range(30)
    )


def test_each_reminder_of_a_batch_is_checked_on_its_own(
    workspace_a, rule, owner, clock, sweep, stand_in
):
    providers_for(workspace_a, stand_in)
    sent, cancelled, paused, unreachable, done_before = due_bookings(workspace_a, rule, 5)
    Booking.objects.filter(pk=cancelled.pk).update(status=Booking.Status.CANCELLED)
    ConversationFactory(contact=paused.contact, automation_paused=True)
    # A phone without SMS consent, and no email: no way to reach them.
    type(unreachable.contact).objects.filter(pk=unreachable.contact_id).update(
        email="", phone="+447700900123", sms_consent=False
    )
    clock(WEDNESDAY_NOON)
    assert sweep() == 5
    # Its run committed, its reminder's update lost (restored from a backup, say).
    Reminder.objects.filter(booking=done_before).update(status=Reminder.Status.PLANNED)

    assert sweep() == 1

    reasons = {
        b.pk: (reminder_of(b).status, reminder_of(b).reason)
        for b in (sent, cancelled, paused, unreachable, done_before)
    }
    assert reasons == {
        sent.pk: (Reminder.Status.SENT, "Sent by Email to c0@example.org."),
        cancelled.pk: (Reminder.Status.SKIPPED, "No reminder: the booking is cancelled."),
        paused.pk: (
            Reminder.Status.SKIPPED,
            "Automation is paused for this conversation: a staff member replied.",
        ),
        unreachable.pk: (
            Reminder.Status.SKIPPED,
            "No email address, and no phone with SMS consent.",
        ),
        done_before.pk: (Reminder.Status.SENT, "Sent by Email to c4@example.org."),
    }
    assert sorted(e["to"][0] for e in emails_sent(stand_in)) == [
        "c0@example.org",
        "c4@example.org",
    ]


def test_two_reminders_to_one_contact_in_a_batch_share_one_new_conversation(
    workspace_a, rule, clock, sweep, stand_in
):
    providers_for(workspace_a, stand_in)
    contact = ContactFactory(workspace=workspace_a, name="Dana Client", email="dana@example.org")
    for hours in (0, 2):
        booking = BookingFactory(
            workspace=workspace_a,
            contact=contact,
            booking_type=BookingTypeFactory(workspace=workspace_a, name="Massage"),
            start=THURSDAY_NOON + timedelta(hours=hours),
        )
        reminder_plan(booking, rule)
    clock(WEDNESDAY_NOON + timedelta(hours=2))

    assert sweep() == 2

    conversation = Conversation.objects.get()
    assert conversation.contact == contact
    assert conversation.messages.count() == 2
    assert conversation.last_message_at == WEDNESDAY_NOON + timedelta(hours=2)
    assert conversation.last_message_preview.startswith("Reminder: Massage on Thursday 6 March")
    assert [e["to"] for e in emails_sent(stand_in)] == [["dana@example.org"]] * 2


def test_a_reminder_failing_in_a_batch_rolls_back_alone_and_the_others_are_sent(
    workspace_a, rule, clock, sweep, stand_in, monkeypatch
):
    from automation import reminders

    providers_for(workspace_a, stand_in)
    first, broken, last = due_bookings(workspace_a, rule, 3)
    real_context = reminders.booking_context

    def booking_context(booking):
        if booking.pk == broken.pk:
            raise RuntimeError("renderer exploded")
        return real_context(booking)

    monkeypatch.setattr(reminders, "booking_context", booking_context)
    clock(WEDNESDAY_NOON)

    assert sweep() == 2

    assert reminder_of(first).status == reminder_of(last).status == Reminder.Status.SENT
    failed = reminder_of(broken)
    assert (failed.status, failed.attempts) == (Reminder.Status.PLANNED, 1)
    assert failed.due_at == WEDNESDAY_NOON + timedelta(minutes=1)  # the first backoff
    assert list(AutomationRun.objects.filter(booking=broken).values_list("outcome", "reason")) == [
        (AutomationRun.Outcome.FAILED, "RuntimeError: renderer exploded")
    ]
    assert sorted(e["to"][0] for e in emails_sent(stand_in)) == [
        "c0@example.org",
        "c2@example.org",
    ]


def test_reminders_sent_while_the_broker_is_down_wait_in_the_database_for_the_retry_sweep(
    workspace_a, rule, clock, sweep, stand_in
):
    from messaging.tasks import messages_retry_due
    from messaging.tests.test_delivery import broker_outage

    providers_for(workspace_a, stand_in)
    due_bookings(workspace_a, rule, 3)
    clock(WEDNESDAY_NOON)

    with broker_outage():
        assert sweep() == 3

    assert set(Reminder.objects.values_list("status", flat=True)) == {Reminder.Status.SENT}
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.QUEUED}
    assert emails_sent(stand_in) == []
    clock(WEDNESDAY_NOON + timedelta(minutes=2))  # past the on-commit publish's grace
    assert messages_retry_due() == 3
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}
    assert sorted(e["to"][0] for e in emails_sent(stand_in)) == [
        "c0@example.org",
        "c1@example.org",
        "c2@example.org",
    ]


# --- Concurrency ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_send_a_due_reminder_once(workspace_a, stand_in):
    providers_for(workspace_a, stand_in)
    rule = rules_for(workspace_a)[Rule.Kind.BOOKING_REMINDER]
    bookings = [
        booking_at(workspace_a, THURSDAY_NOON + timedelta(hours=h), email=f"c{h}@example.org")
        for h in range(3)
    ]
    for booking in bookings:
        reminder_plan(booking, rule)

    with time_machine.travel(THURSDAY_NOON - timedelta(hours=20), tick=False):
        results, errors = race(lambda i: reminders_send_due(), 4)

    assert errors == []
    assert sum(results) == 3
    assert Message.objects.count() == 3
    assert AutomationRun.objects.count() == 3
    assert set(Reminder.objects.values_list("status", flat=True)) == {Reminder.Status.SENT}
    assert len(emails_sent(stand_in)) == 3
    assert Conversation.objects.count() == 3


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_of_small_batches_send_each_reminder_once(
    workspace_a, stand_in, monkeypatch
):
    from automation import reminders

    providers_for(workspace_a, stand_in)
    monkeypatch.setattr(reminders, "SEND_BATCH", 3)
    rule = rules_for(workspace_a)[Rule.Kind.BOOKING_REMINDER]
    due_bookings(workspace_a, rule, 10)

    with time_machine.travel(THURSDAY_NOON - timedelta(hours=20), tick=False):
        results, errors = race(lambda i: reminders_send_due(), 4)

    assert errors == []
    assert sum(results) == 10
    assert AutomationRun.objects.count() == Message.objects.count() == 10
    assert set(Reminder.objects.values_list("status", flat=True)) == {Reminder.Status.SENT}
    assert sorted(e["to"][0] for e in emails_sent(stand_in)) == sorted(
        f"c{n}@example.org" for n in range(10)
    )

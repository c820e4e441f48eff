"""Reminders of pending forms: a client who has not filled a form in is reminded with its link 24
hours after it was sent and 24 hours before its booking, each at most once, never after
completion, never while automation is paused for the conversation, nor with the rule off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from automation.form_reminders import form_reminders_send_due, run_key, submissions_due
from automation.models import AutomationRun, Rule
from automation.rules import rule_update, rules_for
from automation.tests.message_providers import emails_sent, providers_for, texts_sent
from bookings.models import Booking
from bookings.services import booking_reschedule
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.models import Contact
from contacts.selectors import contact_timeline
from contacts.tests.factories import ContactFactory
from forms.fields import clean_field_definitions
from forms.models import FormSubmission
from forms.services import form_send, submission_link, submission_submit, submissions_mark_overdue
from forms.tests.factories import FormTemplateFactory
from messaging.models import Channel, Conversation, Message
from tests.concurrency import race

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

# Monday 3 March 2031, noon in London (GMT): the form is sent.
MONDAY_NOON = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)
TUESDAY_NOON = MONDAY_NOON + timedelta(days=1)  # 24 hours after sending
WEDNESDAY_NOON = MONDAY_NOON + timedelta(days=2)  # 24 hours before the booking
THURSDAY_NOON = MONDAY_NOON + timedelta(days=3)  # the booking
MINUTE = timedelta(minutes=1)

SENT = AutomationRun.Outcome.SENT
SKIPPED = AutomationRun.Outcome.SKIPPED
PAUSED = "Automation is paused for this conversation: a staff member replied."


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
    return rules_for(workspace_a)[Rule.Kind.FORM_REMINDER]


@pytest.fixture
def providers(workspace_a, stand_in):
    return providers_for(workspace_a, stand_in)


@pytest.fixture
def dana(workspace_a) -> Contact:
    return ContactFactory(
        workspace=workspace_a,
        name="Dana Client",
        email="dana@example.org",
        phone="+447700900123",
        sms_consent=True,
    )


@pytest.fixture
def template(workspace_a):
    fields = clean_field_definitions(
        [{"key": "name", "type": "text", "label": "Your name", "required": True}]
    )
    return FormTemplateFactory(workspace=workspace_a, name="Health questionnaire", fields=fields)


@pytest.fixture
def booking(workspace_a, dana) -> Booking:
    booking_type = BookingTypeFactory(workspace=workspace_a, name="Massage")
    return BookingFactory(
        workspace=workspace_a, booking_type=booking_type, contact=dana, start=THURSDAY_NOON
    )


@pytest.fixture
def send(workspace_a, template, dana, providers, django_capture_on_commit_callbacks):
    """Send the form (by email unless told), its message delivered through the stand-in."""

    def run(*, booking=None, channel=Channel.EMAIL, contact=None) -> FormSubmission:
        with django_capture_on_commit_callbacks(execute=True):
            return form_send(
                workspace=workspace_a,
                template=template,
                contact=contact or dana,
                booking=booking,
                channel=channel,
            )

    return run


@pytest.fixture
def sweep(django_capture_on_commit_callbacks):
    """The form reminders sweep, with the deliveries it queues run after its commits."""

    def run(**kwargs) -> int:
        with django_capture_on_commit_callbacks(execute=True):
            return form_reminders_send_due(**kwargs)

    return run


def reminder_emails(stand_in) -> list[dict]:
    """The emails sent after the form's own (the first one)."""
    return emails_sent(stand_in)[1:]


def runs() -> list[tuple[str, str]]:
    return list(AutomationRun.objects.order_by("pk").values_list("key", "outcome"))


# --- The points, as time passes -----------------------------------------------------------------


def test_a_pending_form_is_reminded_by_email_24_hours_after_it_was_sent_not_before(
    send, sweep, clock, stand_in
):
    submission = send()
    clock(TUESDAY_NOON - MINUTE)

    sweep()
    assert reminder_emails(stand_in) == []

    clock(TUESDAY_NOON)
    assert sweep() == 1

    [email] = reminder_emails(stand_in)
    assert email["to"] == ["dana@example.org"]
    assert email["subject"] == "Reminder: please fill in Health questionnaire"
    assert submission_link(submission) in email["text"]
    assert "Alpha Clinic is still waiting for your Health questionnaire" in email["text"]
    run = AutomationRun.objects.get()
    assert (run.key, run.outcome) == (run_key(submission.pk, "after_sent"), SENT)
    assert run.reason == (
        "“Health questionnaire”, 1 day after it was sent: Sent by Email to dana@example.org."
    )
    assert (run.contact_id, run.message.channel) == (submission.contact_id, Channel.EMAIL)


def test_a_form_for_a_booking_is_reminded_again_24_hours_before_the_booking(
    send, sweep, clock, stand_in, booking
):
    submission = send(booking=booking)
    clock(TUESDAY_NOON)
    sweep()
    clock(WEDNESDAY_NOON - MINUTE)
    sweep()
    assert len(reminder_emails(stand_in)) == 1

    clock(WEDNESDAY_NOON)
    sweep()

    second = reminder_emails(stand_in)[1]
    assert submission_link(submission) in second["text"]
    assert "for your Massage on Thursday 6 March, 12:00" in second["text"]
    assert runs() == [
        (run_key(submission.pk, "after_sent"), SENT),
        (run_key(submission.pk, "before_booking", THURSDAY_NOON), SENT),
    ]
    assert AutomationRun.objects.filter(booking=booking).count() == 2


def test_a_form_sent_by_sms_is_reminded_by_sms_with_its_link(send, sweep, clock, stand_in):
    submission = send(channel=Channel.SMS)
    clock(TUESDAY_NOON)

    sweep()

    [_form_text, reminder_text] = texts_sent(stand_in)
    assert reminder_text["To"] == "+447700900123"
    assert submission_link(submission) in reminder_text["Body"]
    assert "fill in Health questionnaire" in reminder_text["Body"]
    assert len(emails_sent(stand_in)) == 0


def test_a_reminder_falls_back_to_email_when_sms_consent_was_withdrawn(
    send, sweep, clock, stand_in, dana
):
    send(channel=Channel.SMS)
    Contact.objects.filter(pk=dana.pk).update(sms_consent=False)
    clock(TUESDAY_NOON)

    sweep()

    assert [e["to"] for e in emails_sent(stand_in)] == [["dana@example.org"]]
    assert len(texts_sent(stand_in)) == 1  # the form's own


# --- At most once -------------------------------------------------------------------------------


def test_running_the_sweep_twice_sends_each_reminder_once(send, sweep, clock, stand_in, booking):
    send(booking=booking)
    clock(TUESDAY_NOON)
    sweep()
    assert sweep() == 0
    clock(WEDNESDAY_NOON)
    sweep()
    sweep()

    assert len(reminder_emails(stand_in)) == 2
    assert AutomationRun.objects.count() == 2
    # The sweep's query itself no longer finds the form: its points' runs are matched in SQL.
    assert not submissions_due(WEDNESDAY_NOON).exists()


def test_points_missed_while_the_sweep_was_down_go_out_once_in_one_message(
    send, sweep, clock, stand_in, booking
):
    submission = send(booking=booking)
    clock(WEDNESDAY_NOON + timedelta(hours=3))

    sweep()
    sweep()

    assert len(reminder_emails(stand_in)) == 1
    assert runs() == [
        (run_key(submission.pk, "before_booking", THURSDAY_NOON), SENT),
        (run_key(submission.pk, "after_sent"), SKIPPED),
    ]
    covered = AutomationRun.objects.get(outcome=SKIPPED)
    assert "Covered by the other reminder of this form" in covered.reason


def test_no_reminder_once_the_booking_has_started(send, sweep, clock, stand_in, booking):
    send(booking=booking)
    clock(THURSDAY_NOON + MINUTE)  # the sweep was down the whole time

    sweep()

    assert reminder_emails(stand_in) == []
    assert not AutomationRun.objects.exists()


def test_a_form_for_a_cancelled_booking_is_not_reminded(send, sweep, clock, stand_in, booking):
    send(booking=booking)
    Booking.objects.filter(pk=booking.pk).update(status=Booking.Status.CANCELLED)
    clock(TUESDAY_NOON)

    sweep()

    assert reminder_emails(stand_in) == []


def test_a_booking_made_less_than_a_day_ahead_gets_no_reminder_right_after_its_form(
    workspace_a, send, sweep, clock, stand_in, dana
):
    start = MONDAY_NOON + timedelta(hours=20)
    soon = BookingFactory(workspace=workspace_a, contact=dana, start=start)
    send(booking=soon)

    clock(MONDAY_NOON + timedelta(minutes=5))
    sweep()

    assert reminder_emails(stand_in) == []
    assert not AutomationRun.objects.exists()


def test_a_moved_booking_gets_its_before_booking_reminder_for_the_new_start(
    send, sweep, clock, stand_in, booking, owner
):
    submission = send(booking=booking)
    clock(WEDNESDAY_NOON)
    sweep()  # both points: one message
    later = THURSDAY_NOON + timedelta(days=2)
    booking_reschedule(booking=booking, start=later, actor=owner, enforce_rules=False)

    clock(later - timedelta(days=1))
    sweep()

    assert len(reminder_emails(stand_in)) == 2
    assert (run_key(submission.pk, "before_booking", later), SENT) in runs()


# --- Never after completion, nor while paused or off -------------------------------------------


def test_a_completed_form_is_never_reminded(send, sweep, clock, stand_in, booking):
    submission = send(booking=booking)
    clock(TUESDAY_NOON - timedelta(hours=1))
    submission_submit(submission=submission, data={"name": "Dana Client"})

    for moment in (TUESDAY_NOON, WEDNESDAY_NOON):
        clock(moment)
        sweep()

    assert reminder_emails(stand_in) == []
    assert not AutomationRun.objects.exists()


def test_an_overdue_form_still_pending_is_reminded(
    workspace_a, send, sweep, clock, stand_in, template
):
    template.due_hours = 12
    template.save()
    submission = send()
    clock(TUESDAY_NOON)
    submissions_mark_overdue()

    sweep()

    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.OVERDUE
    assert len(reminder_emails(stand_in)) == 1


def test_no_reminder_while_automation_is_paused_and_the_skip_is_recorded(
    send, sweep, clock, stand_in, dana
):
    submission = send()
    Conversation.objects.filter(contact=dana).update(automation_paused=True)  # staff replied
    clock(TUESDAY_NOON)

    sweep()
    sweep()

    assert reminder_emails(stand_in) == []
    run = AutomationRun.objects.get()
    assert (run.key, run.outcome) == (run_key(submission.pk, "after_sent"), SKIPPED)
    assert run.reason.endswith(PAUSED)


def test_a_client_who_cannot_be_reached_any_more_is_skipped_with_the_reason(
    send, sweep, clock, stand_in, dana
):
    send()
    Contact.objects.filter(pk=dana.pk).update(email="", sms_consent=False)
    clock(TUESDAY_NOON)

    sweep()

    run = AutomationRun.objects.get()
    assert run.outcome == SKIPPED
    assert run.reason.endswith("No email address, and no phone with SMS consent.")


def test_with_the_rule_off_nothing_is_sent_and_the_point_is_not_sent_later(
    send, sweep, clock, stand_in, rule, owner
):
    submission = send()
    rule_update(rule=rule, actor=owner, is_enabled=False)
    clock(TUESDAY_NOON)

    sweep()
    rule_update(rule=rule, actor=owner, is_enabled=True)
    sweep()

    assert reminder_emails(stand_in) == []
    run = AutomationRun.objects.get()
    assert (run.key, run.outcome) == (run_key(submission.pk, "after_sent"), SKIPPED)
    assert run.reason.endswith("The form reminder rule is switched off.")


def test_a_point_switched_off_on_the_rule_is_not_sent(send, sweep, clock, stand_in, rule, owner):
    rule_update(rule=rule, actor=owner, after_sent_minutes=None)
    send()
    clock(TUESDAY_NOON)

    sweep()

    assert reminder_emails(stand_in) == []


def test_the_points_follow_the_rules_settings(send, sweep, clock, stand_in, rule, owner):
    rule_update(rule=rule, actor=owner, after_sent_minutes=3 * 60)
    send()
    clock(MONDAY_NOON + timedelta(hours=3) - MINUTE)
    sweep()
    assert reminder_emails(stand_in) == []

    clock(MONDAY_NOON + timedelta(hours=3))
    sweep()

    assert len(reminder_emails(stand_in)) == 1
    assert "3 hours after it was sent" in AutomationRun.objects.get().reason


def test_a_form_whose_link_expired_gets_no_reminder(send, sweep, clock, stand_in, settings):
    settings.FORM_LINK_MAX_AGE_DAYS = 1
    send()
    clock(TUESDAY_NOON + MINUTE)

    sweep()

    assert reminder_emails(stand_in) == []


def test_a_workspace_whose_rules_were_never_read_gets_the_default_reminders(
    send, sweep, clock, stand_in, workspace_a
):
    send()
    Rule.objects.filter(workspace=workspace_a, kind=Rule.Kind.FORM_REMINDER).delete()
    clock(TUESDAY_NOON)

    sweep()

    assert len(reminder_emails(stand_in)) == 1


def test_a_send_that_crashes_is_recorded_as_failed_retried_and_given_up_after_five_tries(
    send, sweep, clock, stand_in, monkeypatch
):
    from automation import form_reminders

    submission = send()

    def broken(sends):
        raise RuntimeError("provider exploded")

    monkeypatch.setattr(form_reminders, "sends_automated", broken)
    clock(TUESDAY_NOON)
    for _ in range(4):
        assert sweep() == 0
    failed = AutomationRun.objects.filter(outcome=AutomationRun.Outcome.FAILED)
    assert failed.count() == 4
    assert failed.first().reason.endswith("RuntimeError: provider exploded")

    sweep()
    sweep()

    final = AutomationRun.objects.exclude(outcome=AutomationRun.Outcome.FAILED).get()
    assert (final.key, final.outcome) == (run_key(submission.pk, "after_sent"), SKIPPED)
    assert "Not sent after 5 attempts: RuntimeError: provider exploded" in final.reason
    assert reminder_emails(stand_in) == []


# --- Quiet hours --------------------------------------------------------------------------------


def test_a_reminder_due_in_the_quiet_hours_waits_for_their_end(send, sweep, clock, stand_in):
    clock(MONDAY_NOON + timedelta(hours=10))  # Monday 22:00 in London
    send()
    clock(TUESDAY_NOON + timedelta(hours=10))
    sweep()
    clock(WEDNESDAY_NOON - timedelta(hours=4, minutes=1))  # Wednesday 07:59
    sweep()
    assert reminder_emails(stand_in) == []

    clock(WEDNESDAY_NOON - timedelta(hours=4))  # 08:00: the quiet hours are over
    sweep()

    assert len(reminder_emails(stand_in)) == 1


def test_a_reminder_whose_booking_starts_before_the_quiet_hours_end_is_skipped(
    workspace_a, send, sweep, clock, stand_in, rule, owner, dana
):
    rule_update(rule=rule, actor=owner, after_sent_minutes=None, before_booking_minutes=60)
    early = WEDNESDAY_NOON - timedelta(hours=4, minutes=30)  # Wednesday 07:30
    submission = send(booking=BookingFactory(workspace=workspace_a, contact=dana, start=early))
    clock(early - timedelta(hours=1))

    sweep()

    assert reminder_emails(stand_in) == []
    run = AutomationRun.objects.get()
    assert (run.key, run.outcome) == (run_key(submission.pk, "before_booking", early), SKIPPED)
    assert run.reason.endswith(
        "It would fall in the quiet hours (21:00 to 08:00), which end only after the booking "
        "starts."
    )


# --- Cost ---------------------------------------------------------------------------------------


def test_the_sweep_takes_the_same_queries_for_many_forms_as_for_two(
    workspace_a, rule, send, clock, django_capture_on_commit_callbacks
):
    """The sweep's own queries (the deliveries it hands over after commit are messaging's)."""

    def sweep_queries(count: int) -> int:
        for _ in range(count):
            send(contact=ContactFactory(workspace=workspace_a))
        clock(TUESDAY_NOON)
        with (
            django_capture_on_commit_callbacks(execute=False),
            CaptureQueriesContext(connection) as queries,
        ):
            assert form_reminders_send_due() == count
        return len(queries)

    two = sweep_queries(2)
    FormSubmission.objects.update(status=FormSubmission.Status.COMPLETED, completed_at=TUESDAY_NOON)
    clock(MONDAY_NOON)

    # 13 queries: workspaces missing their rule, the rules' distinct points (2), the due forms;
    # then the batch: savepoint, the forms locked (contact, booking joined), their rules, the
    # runs already done, the conversations, the messages (one INSERT), the conversations'
    # previews (one UPDATE), the runs (one INSERT), release.
    assert sweep_queries(8) == two == 13


# --- Concurrency, backlog and staff's view ------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_send_each_reminder_once(workspace_a, stand_in, monkeypatch):
    from automation import form_reminders

    providers_for(workspace_a, stand_in)
    monkeypatch.setattr(form_reminders, "SEND_BATCH", 3)
    template = FormTemplateFactory(workspace=workspace_a)
    for n in range(7):
        contact = ContactFactory(workspace=workspace_a, email=f"c{n}@example.org")
        form_send(workspace=workspace_a, template=template, contact=contact, deliver=False)

    with time_machine.travel(TUESDAY_NOON, tick=False):
        results, errors = race(lambda i: form_reminders_send_due(), 4)

    assert errors == []
    assert sum(results) == 7
    assert AutomationRun.objects.filter(outcome=SENT).count() == Message.objects.count() == 7
    addresses = sorted(e["to"][0] for e in emails_sent(stand_in))
    assert addresses == [f"c{n}@example.org" for n in range(7)]


def test_a_full_batch_queues_the_next_sweep_at_once(send, clock, monkeypatch):
    from automation import tasks

    queued = []
    monkeypatch.setattr(tasks, "REMINDER_BATCH", 1)
    monkeypatch.setattr(tasks, "enqueue_on_commit", lambda task, *args: queued.append(task))
    send()
    clock(TUESDAY_NOON)

    assert tasks.automation_send_form_reminders() == 1
    assert queued == [tasks.automation_send_form_reminders]
    assert tasks.automation_send_form_reminders() == 0
    assert len(queued) == 1


def test_the_sweep_is_scheduled_every_five_minutes():
    from careops.schedule import PERIODIC_TASKS

    assert {"task": "automation.tasks.automation_send_form_reminders", "every": 300} in (
        PERIODIC_TASKS.values()
    )


def test_the_clients_timeline_shows_the_reminder_sent(send, sweep, clock, dana):
    send()
    clock(TUESDAY_NOON)
    sweep()

    entries = [e for e in contact_timeline(contact=dana) if e.kind == "automation"]

    assert [(e.title, e.detail) for e in entries] == [
        (
            "Automation: Remind clients of pending forms",
            "sent: “Health questionnaire”, 1 day after it was sent: "
            "Sent by Email to dana@example.org.",
        )
    ]

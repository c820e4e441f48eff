"""Each message rule end to end: the domain's service → its signal → an Event in the outbox →
dispatched after commit (eagerly here) → the rule's run recorded, and the message queued and
handed to the provider (the stand-in), or the reason it was not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from automation import engine
from automation.messages import NO_CHANNEL_REASON, PAUSED_REASON
from automation.models import AutomationRun, Event, Reminder, Rule
from automation.rules import rule_update, rules_for
from automation.tests.message_providers import (
    attachment_text,
    emails_sent,
    providers_for,
    texts_sent,
)
from bookings.ics import manage_url
from bookings.models import Booking
from bookings.services import booking_create, booking_reschedule, booking_set_status
from bookings.tests.factories import BookingTypeFactory
from contacts.models import Contact
from contacts.services import contact_create, contact_upsert
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.tests.factories import FormTemplateFactory
from messaging.models import Channel, Message
from messaging.services import conversation_for_contact, conversation_set_automation, message_send

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

SENT = AutomationRun.Outcome.SENT
DONE = AutomationRun.Outcome.DONE
SKIPPED = AutomationRun.Outcome.SKIPPED


# Monday 3 March 2031, noon in London (GMT): bookings made "in 3 days" start on Thursday at noon.
NOW = datetime(2031, 3, 3, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _monday_noon():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def providers(workspace_a, stand_in):
    return providers_for(workspace_a, stand_in)


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    """Run a write as a request would: its on-commit work (the event's dispatch, then the
    message's delivery) runs once it is done."""

    def run(write, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return write(*args, **kwargs)

    return run


@pytest.fixture
def service(workspace_a):
    return BookingTypeFactory(workspace=workspace_a, name="Massage", location="Room 2")


@pytest.fixture
def client_contact(workspace_a):
    return ContactFactory(
        workspace=workspace_a, name="Dana Client", email="dana@example.org", phone=""
    )


def book(workspace, service, contact, owner, *, days=3):
    booking, _ = booking_create(
        workspace=workspace,
        booking_type=service,
        contact=contact,
        start=timezone.now().replace(microsecond=0) + timedelta(days=days),
        actor=owner,
        enforce_rules=False,
    )
    return booking


def run_of(kind: str, **subject) -> AutomationRun:
    return AutomationRun.objects.get(rule__kind=kind, **subject)


# --- Welcome ------------------------------------------------------------------------------------


def test_a_new_contact_is_welcomed_by_email(workspace_a, owner, providers, stand_in, after_commit):
    contact = after_commit(
        contact_create,
        workspace=workspace_a,
        actor=owner,
        name="Dana Client",
        email="dana@example.org",
    )

    event = Event.objects.get(kind=Event.Kind.CONTACT_CREATED)
    assert event.dispatched_at is not None
    run = run_of(Rule.Kind.WELCOME, contact=contact)
    assert (run.outcome, run.event) == (SENT, event)
    assert run.message.status == Message.Status.SENT
    [email] = emails_sent(stand_in)
    assert email["to"] == ["dana@example.org"]
    assert email["subject"] == "Welcome to Alpha Clinic"
    assert email["text"].startswith("Hi Dana,")


def test_a_contact_who_gave_only_a_phone_and_sms_consent_is_welcomed_by_sms(
    workspace_a, owner, providers, stand_in, after_commit
):
    contact = after_commit(
        contact_create,
        workspace=workspace_a,
        actor=owner,
        name="Sam",
        phone="+447700900555",
        sms_consent=True,
    )

    assert run_of(Rule.Kind.WELCOME, contact=contact).outcome == SENT
    [text] = texts_sent(stand_in)
    assert text["To"] == "+447700900555"
    assert text["Body"] == "Hi Sam, thanks for contacting Alpha Clinic. Reply here any time."
    assert emails_sent(stand_in) == []


def test_a_client_who_booked_gets_the_confirmation_not_a_welcome(
    workspace_a, owner, providers, stand_in, after_commit
):
    contact = after_commit(
        contact_upsert,
        workspace=workspace_a,
        name="Robin",
        email="robin@example.org",
        source=Contact.Source.BOOKING,
    )[0]

    run = run_of(Rule.Kind.WELCOME, contact=contact)
    assert (run.outcome, run.reason) == (
        SKIPPED,
        "Contacts who booked get the booking confirmation instead.",
    )
    assert emails_sent(stand_in) == []


def test_an_imported_contact_is_not_welcomed(workspace_a, providers, stand_in, after_commit):
    contact = after_commit(
        contact_upsert,
        workspace=workspace_a,
        name="Imported",
        email="imported@example.org",
        source=Contact.Source.IMPORT,
    )[0]

    assert run_of(Rule.Kind.WELCOME, contact=contact).outcome == SKIPPED
    assert emails_sent(stand_in) == []


def test_a_contact_who_cannot_be_reached_gets_a_skipped_run_saying_why(
    workspace_a, owner, providers, stand_in, after_commit
):
    contact = after_commit(
        contact_create, workspace=workspace_a, actor=owner, name="Lee", phone="+447700900556"
    )

    run = run_of(Rule.Kind.WELCOME, contact=contact)
    assert (run.outcome, run.reason) == (SKIPPED, NO_CHANNEL_REASON)
    assert run.message is None
    assert stand_in.requests == []


def test_a_welcome_switched_off_is_a_skipped_run(
    workspace_a, owner, providers, stand_in, after_commit
):
    rule_update(rule=rules_for(workspace_a)[Rule.Kind.WELCOME], actor=owner, is_enabled=False)

    contact = after_commit(
        contact_create, workspace=workspace_a, actor=owner, email="off@example.org"
    )

    run = run_of(Rule.Kind.WELCOME, contact=contact)
    assert (run.outcome, run.reason) == (SKIPPED, "This rule is switched off.")
    assert stand_in.requests == []


def test_a_redelivered_event_welcomes_once(workspace_a, owner, providers, stand_in, after_commit):
    contact = after_commit(contact_create, workspace=workspace_a, actor=owner, email="a@b.example")
    event = Event.objects.get(kind=Event.Kind.CONTACT_CREATED)
    Event.objects.filter(pk=event.pk).update(dispatched_at=None)  # as if the mark was lost

    after_commit(engine.event_dispatch, event.pk)

    assert AutomationRun.objects.filter(rule__kind=Rule.Kind.WELCOME).count() == 1
    assert Message.objects.filter(conversation__contact=contact).count() == 1
    assert len(emails_sent(stand_in)) == 1


# --- Booking confirmation ---------------------------------------------------------------------


def test_a_booking_is_confirmed_with_its_calendar_file_and_manage_link(
    workspace_a, owner, service, client_contact, providers, stand_in, after_commit
):
    booking = after_commit(book, workspace_a, service, client_contact, owner)

    run = run_of(Rule.Kind.BOOKING_CONFIRMATION, booking=booking)
    assert (run.outcome, run.contact_id) == (SENT, client_contact.pk)
    assert run.message.attachments[0]["filename"] == "booking.ics"
    [email] = emails_sent(stand_in)
    assert email["to"] == ["dana@example.org"]
    assert email["subject"].startswith("Booked: Massage on ")
    assert manage_url(booking) in email["text"]
    assert " at Room 2." in email["text"]
    [ics] = email["attachments"]
    assert ics["filename"] == "booking.ics"
    calendar = attachment_text(ics)
    assert calendar.startswith("BEGIN:VCALENDAR")
    assert f"UID:careops-booking-{booking.pk}@" in calendar


def test_a_confirmation_by_sms_carries_the_link_only(
    workspace_a, owner, service, providers, stand_in, after_commit
):
    contact = ContactFactory(
        workspace=workspace_a, email="", phone="+447700900557", sms_consent=True
    )

    booking = after_commit(book, workspace_a, service, contact, owner)

    assert run_of(Rule.Kind.BOOKING_CONFIRMATION, booking=booking).outcome == SENT
    [text] = texts_sent(stand_in)
    assert text["Body"].startswith("Alpha Clinic: your Massage is booked for ")
    assert text["Body"].endswith(f"Manage it: {manage_url(booking)}")
    assert Message.objects.get(channel=Channel.SMS).attachments == []


def test_a_booking_cancelled_before_its_event_ran_is_not_confirmed(
    workspace_a,
    owner,
    service,
    client_contact,
    providers,
    stand_in,
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = book(workspace_a, service, client_contact, owner)
        booking_set_status(booking=booking, status=Booking.Status.CANCELLED, actor=owner)

    run = AutomationRun.objects.get(
        rule__kind=Rule.Kind.BOOKING_CONFIRMATION, event__kind=Event.Kind.BOOKING_CREATED
    )
    assert (run.outcome, run.reason) == (SKIPPED, "The booking is cancelled.")
    assert emails_sent(stand_in) == []
    assert not Reminder.objects.filter(status=Reminder.Status.PLANNED).exists()


# --- Booking forms ------------------------------------------------------------------------------


def test_a_booking_is_sent_its_services_forms_once(
    workspace_a, owner, service, client_contact, providers, stand_in, after_commit
):
    FormTemplateFactory(workspace=workspace_a, name="Intake", booking_types=[service])
    FormTemplateFactory(workspace=workspace_a, name="Consent", booking_types=[service])
    FormTemplateFactory(
        workspace=workspace_a, name="Archived", booking_types=[service], is_active=False
    )
    FormTemplateFactory(workspace=workspace_a, name="Other service")

    booking = after_commit(book, workspace_a, service, client_contact, owner)

    run = run_of(Rule.Kind.BOOKING_FORMS, booking=booking)
    assert (run.outcome, run.reason) == (DONE, "Sent Consent, Intake.")
    submissions = FormSubmission.objects.filter(booking=booking)
    assert sorted(s.template_name for s in submissions) == ["Consent", "Intake"]
    assert {s.source for s in submissions} == {FormSubmission.Source.BOOKING}
    assert sorted(e["subject"] for e in emails_sent(stand_in)) == [
        "Alpha Clinic: please fill in Consent",
        "Alpha Clinic: please fill in Intake",
        "Booked: Massage on Thursday 6 March",
    ]

    # Redelivered: the run stands and nothing is sent again.
    event = Event.objects.get(kind=Event.Kind.BOOKING_CREATED)
    Event.objects.filter(pk=event.pk).update(dispatched_at=None)
    after_commit(engine.event_dispatch, event.pk)
    assert FormSubmission.objects.filter(booking=booking).count() == 2
    assert len(emails_sent(stand_in)) == 3


def test_the_forms_handler_run_again_skips_the_forms_already_sent(
    workspace_a, owner, service, client_contact, providers, after_commit
):
    from automation.handlers.messages import booking_forms

    FormTemplateFactory(workspace=workspace_a, name="Intake", booking_types=[service])
    booking = after_commit(book, workspace_a, service, client_contact, owner)
    event = Event.objects.get(kind=Event.Kind.BOOKING_CREATED)
    rule = rules_for(workspace_a)[Rule.Kind.BOOKING_FORMS]

    result = after_commit(booking_forms, event, rule)

    assert (result.outcome, result.reason) == (SKIPPED, "Its forms were already sent.")
    assert FormSubmission.objects.filter(booking=booking).count() == 1
    assert Message.objects.filter(sender_reference__startswith="form:").count() == 1


def test_a_service_without_forms_is_a_skipped_forms_run(
    workspace_a, owner, service, client_contact, providers, after_commit
):
    booking = after_commit(book, workspace_a, service, client_contact, owner)

    run = run_of(Rule.Kind.BOOKING_FORMS, booking=booking)
    assert (run.outcome, run.reason) == (SKIPPED, "No forms are linked to Massage.")


def test_forms_for_a_contact_who_cannot_be_reached_are_skipped_with_the_reason(
    workspace_a, owner, service, providers, stand_in, after_commit
):
    FormTemplateFactory(workspace=workspace_a, name="Intake", booking_types=[service])
    contact = ContactFactory(workspace=workspace_a, email="", phone="+447700900558")

    booking = after_commit(book, workspace_a, service, contact, owner)

    run = run_of(Rule.Kind.BOOKING_FORMS, booking=booking)
    assert run.outcome == SKIPPED
    assert run.reason == "Not sent: Intake (This contact cannot be reached by email or SMS.)."
    assert not FormSubmission.objects.exists()


# --- Reminders planned by booking events ---------------------------------------------------------


def test_booking_events_plan_replan_and_cancel_the_reminder(
    workspace_a, owner, service, client_contact, providers, after_commit
):
    booking = after_commit(book, workspace_a, service, client_contact, owner, days=3)
    reminder = Reminder.objects.get(booking=booking)
    assert reminder.due_at == booking.start - timedelta(hours=24)
    planned = run_of(Rule.Kind.BOOKING_REMINDER, event__kind=Event.Kind.BOOKING_CREATED)
    assert planned.outcome == DONE
    assert planned.reason == "Reminder planned for Wednesday 5 March, 12:00."

    new_start = booking.start + timedelta(days=2)
    after_commit(
        booking_reschedule, booking=booking, start=new_start, actor=owner, enforce_rules=False
    )
    reminder.refresh_from_db()
    assert (reminder.status, reminder.booking_start) == (Reminder.Status.PLANNED, new_start)
    assert run_of(
        Rule.Kind.BOOKING_REMINDER, event__kind=Event.Kind.BOOKING_RESCHEDULED
    ).reason.startswith("Reminder planned for ")

    after_commit(booking_set_status, booking=booking, status=Booking.Status.CANCELLED, actor=owner)
    reminder.refresh_from_db()
    assert reminder.status == Reminder.Status.CANCELLED
    cancelled = run_of(Rule.Kind.BOOKING_REMINDER, event__kind=Event.Kind.BOOKING_STATUS_CHANGED)
    assert (cancelled.outcome, cancelled.reason) == (DONE, "No reminder: the booking is cancelled.")


# --- Pause on staff reply, and resume ---------------------------------------------------------


def test_a_staff_reply_pauses_automation_until_a_staff_member_resumes_it(
    workspace_a, owner, staff, service, client_contact, providers, stand_in, after_commit
):
    FormTemplateFactory(workspace=workspace_a, name="Intake", booking_types=[service])
    conversation = conversation_for_contact(workspace=workspace_a, contact=client_contact)
    after_commit(message_send, conversation=conversation, body="Hello Dana!", actor=staff)

    conversation.refresh_from_db()
    assert conversation.automation_paused
    paused = run_of(Rule.Kind.PAUSE_ON_REPLY)
    assert (paused.outcome, paused.contact_id) == (DONE, client_contact.pk)
    assert paused.reason == (
        "Automation paused for this conversation until a staff member resumes it."
    )

    first = after_commit(book, workspace_a, service, client_contact, owner, days=3)
    for kind in (Rule.Kind.BOOKING_CONFIRMATION, Rule.Kind.BOOKING_FORMS):
        run = run_of(kind, booking=first)
        assert (run.outcome, run.reason) == (SKIPPED, PAUSED_REASON)
    assert [e["subject"] for e in emails_sent(stand_in)] == ["Message from Alpha Clinic"]

    conversation_set_automation(conversation=conversation, paused=False, actor=staff)
    second = after_commit(book, workspace_a, service, client_contact, owner, days=5)

    assert run_of(Rule.Kind.BOOKING_CONFIRMATION, booking=second).outcome == SENT
    assert run_of(Rule.Kind.BOOKING_FORMS, booking=second).outcome == DONE
    assert len(emails_sent(stand_in)) == 3  # the reply, the confirmation, the form


def test_with_pause_on_reply_off_a_staff_reply_leaves_automation_running(
    workspace_a, owner, staff, service, client_contact, providers, stand_in, after_commit
):
    rule_update(
        rule=rules_for(workspace_a)[Rule.Kind.PAUSE_ON_REPLY], actor=owner, is_enabled=False
    )
    conversation = conversation_for_contact(workspace=workspace_a, contact=client_contact)
    after_commit(message_send, conversation=conversation, body="Hello Dana!", actor=staff)

    booking = after_commit(book, workspace_a, service, client_contact, owner)

    conversation.refresh_from_db()
    assert not conversation.automation_paused
    assert run_of(Rule.Kind.PAUSE_ON_REPLY).reason == "This rule is switched off."
    assert run_of(Rule.Kind.BOOKING_CONFIRMATION, booking=booking).outcome == SENT


def test_a_pause_run_for_a_conversation_resumed_before_it_ran_says_it_is_not_paused(
    workspace_a, staff, client_contact, providers, django_capture_on_commit_callbacks
):
    conversation = conversation_for_contact(workspace=workspace_a, contact=client_contact)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        message_send(conversation=conversation, body="Hello Dana!", actor=staff)
    conversation_set_automation(conversation=conversation, paused=False, actor=staff)

    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()

    run = run_of(Rule.Kind.PAUSE_ON_REPLY)
    assert (run.outcome, run.contact_id) == (SKIPPED, client_contact.pk)
    assert run.reason == "Automation was not paused: the conversation was resumed, or is gone."


def test_a_booking_created_event_reads_its_booking_once_for_its_three_rules(
    workspace_a, owner, service, client_contact, providers, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False):
        booking = book(workspace_a, service, client_contact, owner)
    event = Event.objects.get(kind=Event.Kind.BOOKING_CREATED)
    rules_for(workspace_a)
    booking_reads = []

    def note(execute, sql, params, many, context):
        if 'FROM "bookings_booking"' in sql and '"bookings_booking"."id" =' in sql:
            booking_reads.append(sql)
        return execute(sql, params, many, context)

    from django.db import connection

    with connection.execute_wrapper(note):
        engine.event_dispatch(event.pk)

    # One read with its workspace, service and contact joined; the runs' subject check is the
    # other (an exists()).
    assert len([sql for sql in booking_reads if "JOIN" in sql]) == 1
    assert AutomationRun.objects.filter(booking=booking).count() == 3


def test_a_run_about_a_gone_booking_does_not_name_another_workspaces_contact(
    workspace_a, workspace_b, owner
):
    from automation.handlers.messages import booking_confirmation

    theirs = ContactFactory(workspace=workspace_b)
    event = Event.objects.create(
        workspace=workspace_a,
        kind=Event.Kind.BOOKING_CREATED,
        subject_type="booking",
        subject_id=999_999,
        payload={"contact_id": theirs.pk},
    )

    result = booking_confirmation(event, rules_for(workspace_a)[Rule.Kind.BOOKING_CONFIRMATION])

    assert (result.outcome, result.contact_id) == (SKIPPED, None)
    assert result.reason == "The booking no longer exists."


def test_automation_of_one_workspace_never_writes_to_another(
    workspace_a, workspace_b, owner, outsider, providers, stand_in, after_commit
):
    after_commit(contact_create, workspace=workspace_b, actor=outsider, email="b@b.example")

    run = AutomationRun.objects.get()
    assert run.workspace_id == workspace_b.pk
    assert run.rule.workspace_id == workspace_b.pk
    assert Contact.objects.get(pk=run.contact_id).workspace_id == workspace_b.pk
    assert stand_in.requests == []  # workspace A's providers are not B's

"""The messages rules send (automation.messages): rendered from the rule's texts in the
workspace's time zone, on a channel the contact can be reached on, never to a conversation a
staff member has taken over."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from automation.messages import (
    NO_CHANNEL_REASON,
    PAUSED_REASON,
    Skip,
    booking_context,
    message_draft,
    paused_reason,
    send_automated,
)
from automation.models import AutomationRun, Rule
from automation.rules import rules_for
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.tests.factories import ContactFactory
from messaging.models import Channel, Conversation, Message
from messaging.tests.factories import ConversationFactory

pytestmark = pytest.mark.django_db

SENT = AutomationRun.Outcome.SENT
SKIPPED = AutomationRun.Outcome.SKIPPED


@pytest.fixture
def welcome(workspace_a) -> Rule:
    return rules_for(workspace_a)[Rule.Kind.WELCOME]


@pytest.fixture
def booking(workspace_a):
    booking_type = BookingTypeFactory(
        workspace=workspace_a, name="Massage", location="Room 2", duration_minutes=45
    )
    contact = ContactFactory(workspace=workspace_a, name="Dana Client", email="dana@example.org")
    # 09:00 UTC in June is 10:00 in London (BST).
    return BookingFactory(
        workspace=workspace_a,
        booking_type=booking_type,
        contact=contact,
        start=datetime(2031, 6, 2, 9, 0, tzinfo=UTC),
    )


def test_booking_context_reads_in_the_workspace_time_zone(booking):
    assert booking_context(booking) == {
        "service": "Massage",
        "start_local": "Monday 2 June, 10:00",
        "end_local": "Monday 2 June, 10:45",
        "date": "Monday 2 June",
        "time": "10:00",
        "location": "Room 2",
    }


def test_booking_context_of_an_online_service_gives_its_video_link(workspace_a):
    booking_type = BookingTypeFactory(workspace=workspace_a, video_link="https://meet.example/x")
    booking = BookingFactory(workspace=workspace_a, booking_type=booking_type)

    assert booking_context(booking)["location"] == "https://meet.example/x"


def test_welcome_email_is_rendered_and_queued_as_the_rule(workspace_a, welcome):
    contact = ContactFactory(workspace=workspace_a, name="Dana Client", email="dana@example.org")

    result = send_automated(rule=welcome, contact=contact, context={})

    message = Message.objects.get()
    assert result.outcome == SENT
    assert (result.contact_id, result.message_id) == (contact.pk, message.pk)
    assert message.channel == Channel.EMAIL
    assert message.to_address == "dana@example.org"
    assert message.subject == "Welcome to Alpha Clinic"
    assert message.body.startswith("Hi Dana,")
    assert message.sender_kind == Message.SenderKind.AUTOMATION
    assert message.sender_reference == f"rule:{welcome.pk}"
    assert message.status == Message.Status.QUEUED


def test_a_contact_with_only_a_consenting_phone_is_sent_the_sms_text(workspace_a, welcome):
    contact = ContactFactory(
        workspace=workspace_a, name="Sam", email="", phone="+447700900555", sms_consent=True
    )

    result = send_automated(
        rule=welcome,
        contact=contact,
        context={},
        attachments=[{"filename": "a.txt", "content_type": "text/plain", "content": "x"}],
    )

    message = Message.objects.get(pk=result.message_id)
    assert message.channel == Channel.SMS
    assert message.to_address == "+447700900555"
    assert message.subject == ""
    assert message.body == "Hi Sam, thanks for contacting Alpha Clinic. Reply here any time."
    assert message.attachments == []  # an SMS carries none


def test_a_contact_who_cannot_be_reached_is_skipped_with_the_reason(workspace_a, welcome):
    contact = ContactFactory(workspace=workspace_a, email="", phone="+447700900556")

    result = send_automated(rule=welcome, contact=contact, context={})

    assert result.outcome == SKIPPED
    assert result.reason == NO_CHANNEL_REASON == "No email address, and no phone with SMS consent."
    assert result.contact_id == contact.pk
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()  # a skip writes nothing


def test_a_paused_conversation_is_skipped_with_the_reason(workspace_a, welcome):
    conversation = ConversationFactory(
        contact=ContactFactory(workspace=workspace_a), automation_paused=True
    )

    result = send_automated(rule=welcome, contact=conversation.contact, context={})

    assert result.outcome == SKIPPED
    assert result.reason == PAUSED_REASON
    assert paused_reason(workspace_a, conversation.contact) == PAUSED_REASON
    assert not Message.objects.exists()


def test_paused_reason_is_empty_for_a_contact_automation_may_write_to(workspace_a):
    contact = ContactFactory(workspace=workspace_a)
    assert paused_reason(workspace_a, contact) == ""
    ConversationFactory(contact=contact)
    assert paused_reason(workspace_a, contact) == ""


def test_an_empty_text_for_the_channel_is_skipped_not_sent(workspace_a, welcome):
    welcome.sms_body = "   "
    contact = ContactFactory(workspace=workspace_a, email="", sms_consent=True)

    result = send_automated(rule=welcome, contact=contact, context={})

    assert result.outcome == SKIPPED
    assert result.reason == "The rule's message for SMS is empty."


def test_a_channel_the_contact_cannot_use_is_skipped_saying_why(workspace_a, welcome):
    contact = ContactFactory(workspace=workspace_a, sms_consent=False)

    result = send_automated(rule=welcome, contact=contact, context={}, channel=Channel.SMS)

    assert result.outcome == SKIPPED
    assert result.reason == "This contact has no phone number or has not agreed to SMS."


def test_the_draft_renders_booking_variables_and_lists_email_attachments(workspace_a, booking):
    rule = rules_for(workspace_a)[Rule.Kind.BOOKING_CONFIRMATION]
    ics = {"filename": "booking.ics", "content_type": "text/calendar", "content": "BEGIN"}

    draft = message_draft(
        rule=rule,
        contact=booking.contact,
        context={"booking": booking_context(booking), "link": "https://x.example/m"},
        attachments=[ics],
    )

    assert draft.subject == "Booked: Massage on Monday 2 June"
    assert "Your Massage is booked for Monday 2 June, 10:00 at Room 2." in draft.body
    assert "To reschedule or cancel: https://x.example/m" in draft.body
    assert draft.attachment_names == ["booking.ics"]
    assert not Conversation.objects.exists()


def test_a_contact_of_another_workspace_is_refused(workspace_b, welcome):
    from careops.errors import InvalidInput

    stranger = ContactFactory(workspace=workspace_b)

    with pytest.raises(InvalidInput):
        message_draft(rule=welcome, contact=stranger, context={})


def test_skip_carries_its_reason():
    assert Skip("because").reason == "because"

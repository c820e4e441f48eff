"""What a person writes through the contact form arrives in the inbox as their message."""

from __future__ import annotations

import pytest
from django.db import transaction

from contacts.models import Contact
from contacts.services import contact_form_submit
from contacts.tests.factories import ContactFactory
from messaging.models import Channel, Conversation, Message
from messaging.tests.factories import ConversationFactory

# Clients reach a workspace through its public pages only once it is live.
pytestmark = pytest.mark.usefixtures("live_workspace_a")


def test_a_contact_form_submission_is_stored_as_an_inbound_message(workspace_a):
    contact = contact_form_submit(
        workspace=workspace_a,
        name="Ann Lee",
        email="ann@example.org",
        subject="Opening hours",
        message="Are you open on Sundays?",
    )

    message = Message.objects.get()
    assert message.workspace == workspace_a
    assert message.conversation.contact == contact
    assert (message.direction, message.status, message.channel) == (
        "inbound",
        "received",
        "email",
    )
    assert message.sender_kind == Message.SenderKind.CONTACT
    assert (message.subject, message.body) == ("Opening hours", "Are you open on Sundays?")
    assert message.from_address == "ann@example.org"
    assert message.conversation.unread_count == 1


def test_a_submission_without_a_subject_is_titled_contact_form(workspace_a):
    contact_form_submit(workspace=workspace_a, email="ann@example.org", message="Hello")

    assert Message.objects.get().subject == "Contact form"


def test_a_submission_with_only_a_phone_number_is_answered_by_text(workspace_a):
    contact_form_submit(workspace=workspace_a, phone="+447700900123", message="Call me back")

    message = Message.objects.get()
    assert message.channel == Channel.SMS
    assert message.from_address == "+447700900123"


def test_a_returning_client_writes_into_their_existing_conversation(workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="ann@example.org")
    conversation = ConversationFactory(contact=contact, unread_count=2)

    contact_form_submit(workspace=workspace_a, email="ann@example.org", message="Me again")

    conversation.refresh_from_db()
    assert Message.objects.get().conversation == conversation
    assert conversation.unread_count == 3
    assert conversation.last_message_preview.endswith("Me again")


def test_the_message_is_stored_in_the_submission_transaction(workspace_a):
    with pytest.raises(RuntimeError), transaction.atomic():
        contact_form_submit(workspace=workspace_a, email="ann@example.org", message="Hello")
        raise RuntimeError("the request failed after the submission")

    assert not Contact.objects.exists()
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()

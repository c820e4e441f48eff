from __future__ import annotations

import factory
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from messaging.models import Channel, Conversation, Integration, Message, MessageTemplate
from messaging.services import message_receive


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    contact = factory.SubFactory(ContactFactory)
    workspace = factory.SelfAttribute("contact.workspace")


class MessageFactory(factory.django.DjangoModelFactory):
    """An inbound email by default; pass direction/status for outbound ones."""

    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    workspace = factory.SelfAttribute("conversation.workspace")
    direction = Message.Direction.INBOUND
    channel = Channel.EMAIL
    status = Message.Status.RECEIVED
    sender_kind = Message.SenderKind.CONTACT
    subject = "Question"
    body = factory.Faker("sentence")


class IntegrationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Integration

    channel = Channel.EMAIL
    provider = "console"
    priority = factory.Sequence(lambda n: n + 1)
    from_address = "clinic@example.com"
    credentials = factory.LazyFunction(dict)


class MessageTemplateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = MessageTemplate

    name = factory.Sequence(lambda n: f"Template {n}")
    body = "Hello {{ contact.first_name }}"


def conversation_with_inbound(
    workspace, *, contact=None, channel="email", body="Hello there", **contact_fields
) -> Conversation:
    """A conversation opened the way a real one is: the contact wrote in."""
    contact = contact or ContactFactory(workspace=workspace, **contact_fields)
    message, _ = message_receive(workspace=workspace, contact=contact, channel=channel, body=body)
    return message.conversation


def failed_outbound(conversation, error="smtp: 550 mailbox unavailable") -> Message:
    """A staff reply that every provider refused, waiting for a retry."""
    return MessageFactory(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.FAILED,
        sender_kind=Message.SenderKind.STAFF,
        to_address=conversation.contact.email,
        error=error,
        attempts=1,
        failed_at=timezone.now(),
    )


# --- Integrations whose provider is the local stand-in (messaging/tests/stand_in.py) ---------


def resend_on(stand_in, workspace, *, priority=1, api_key="re_live_key_1234", **fields):
    return IntegrationFactory(
        workspace=workspace,
        provider="resend",
        channel=Channel.EMAIL,
        priority=priority,
        from_address="hello@alpha.example",
        credentials={"api_key": api_key, "api_url": stand_in.url + "/resend/"},
        **fields,
    )


def sendgrid_on(stand_in, workspace, *, priority=2) -> Integration:
    return IntegrationFactory(
        workspace=workspace,
        provider="sendgrid",
        channel=Channel.EMAIL,
        priority=priority,
        from_address="hello@alpha.example",
        credentials={"api_key": "SG.secret-key", "api_url": stand_in.url + "/sendgrid/v3/"},
    )


def twilio_on(stand_in, workspace, *, priority=1, prefix="twilio-a", sid="AC1") -> Integration:
    """Twilio at {stand_in}/{prefix}: two prefixes make two accounts that fail separately."""
    return IntegrationFactory(
        workspace=workspace,
        provider="twilio",
        channel=Channel.SMS,
        priority=priority,
        from_address="+447700900999",
        credentials={
            "account_sid": sid,
            "auth_token": "token",
            "api_base_url": f"{stand_in.url}/{prefix}",
        },
    )

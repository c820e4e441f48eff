from __future__ import annotations

import factory

from contacts.tests.factories import ContactFactory
from messaging.models import Channel, Conversation, Integration, Message, MessageTemplate


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

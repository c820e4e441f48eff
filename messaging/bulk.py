"""Outbound messages queued in bulk: messaging.services.message_send for many messages at once,
for senders other than staff (automation's reminders sweep), in a few queries whatever their
number, their delivery handed over in batches (messaging.delivery.deliveries_queue)."""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from django.db import transaction
from django.utils import timezone

from careops.db import rows_update
from messaging.models import Conversation, Message
from messaging.services import message_preview, outbound_message

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class NewOutbound:
    """An outbound message decided and rendered by its sender: the channel chosen (consent
    checked), the address taken from the contact, the body not empty, an email's subject set."""

    contact: object  # contacts.Contact
    conversation: Conversation | None  # the contact's, or None: opened by messages_queue
    channel: str
    to: str
    subject: str
    body: str
    attachments: list[dict] = field(default_factory=list)
    sender_reference: str = ""


def messages_queue(
    outbound: list[NewOutbound], *, sender_kind: str = Message.SenderKind.AUTOMATION
) -> list[Message]:
    """Queue outbound messages in their contacts' conversations (opening those missing) and
    hand them to delivery after commit, messaging.delivery.DELIVERY_BATCH to a task:
    message_send for many messages at once, in a few queries whatever their number, for
    senders other than staff (no reply pause, no staff_replied). Returns the messages, in
    order. Call it inside the transaction that records why they were sent."""
    from messaging.delivery import deliveries_queue  # delivery imports this module

    if not outbound:
        return []
    now = timezone.now()
    conversations = _conversations_open(outbound)
    messages = Message.objects.bulk_create(
        [
            outbound_message(
                workspace_id=item.contact.workspace_id,
                conversation=conversations[item.contact.pk],
                channel=item.channel,
                to=item.to,
                subject=item.subject,
                body=item.body.strip(),
                sender_kind=sender_kind,
                sender_reference=item.sender_reference,
                attachments=item.attachments,
                now=now,
            )
            for item in outbound
        ]
    )
    latest = {message.conversation_id: message for message in messages}
    rows_update(
        [
            Conversation(
                pk=pk,
                last_message_at=now,
                last_message_preview=message_preview(message),
                updated_at=now,
            )
            for pk, message in sorted(latest.items())
        ],
        ["last_message_at", "last_message_preview", "updated_at"],
    )
    ids = [message.pk for message in messages]
    transaction.on_commit(lambda: deliveries_queue(ids))
    log.info("messages_queued", count=len(messages), sender=sender_kind)
    return messages


def _conversations_open(outbound: list[NewOutbound]) -> dict[int, Conversation]:
    """Each contact's conversation (by contact id): the one given, or the one stored, or a new
    one (a concurrent open of the same contact's wins the unique constraint; its row is used)."""
    conversations = {
        item.contact.pk: item.conversation for item in outbound if item.conversation is not None
    }
    missing = {
        item.contact.pk: item.contact for item in outbound if item.contact.pk not in conversations
    }
    # In the order of their ids: concurrent batches opening the same contacts' conversations
    # wait for each other rather than deadlock.
    contacts = [missing[pk] for pk in sorted(missing)]
    if contacts:
        Conversation.objects.bulk_create(
            [Conversation(workspace_id=c.workspace_id, contact=c) for c in contacts],
            ignore_conflicts=True,
        )
        conversations.update(contacts_conversations(contacts))
    return conversations


def contacts_conversations(contacts) -> dict[int, Conversation]:
    """The contacts' conversations, by contact id (those who have one): one query."""
    if not contacts:
        return {}
    return {
        conversation.contact_id: conversation
        for conversation in Conversation.objects.filter(
            workspace_id__in={contact.workspace_id for contact in contacts},
            contact_id__in=[contact.pk for contact in contacts],
        )
    }

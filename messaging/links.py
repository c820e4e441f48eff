"""Messaging's part of a contact: messages on the timeline, and the conversation on merge."""

from __future__ import annotations

from django.db.models import F
from django.urls import reverse

from contacts.links import ContactLink, TimelineEntry, register_contact_link
from contacts.models import Contact
from messaging.models import Conversation, Message
from workspaces.models import Area


def _timeline(contact: Contact, limit: int) -> list[TimelineEntry]:
    messages = (
        Message.objects.for_workspace(contact.workspace_id)
        .filter(conversation__contact=contact)
        .order_by("-created_at", "-pk")[:limit]
    )
    return [
        TimelineEntry(
            kind="message",
            at=m.created_at,
            title=f"{m.get_direction_display()} {m.get_channel_display()}",
            detail=(m.subject + ": " if m.subject else "") + m.body[:200],
            url=reverse("inbox-conversation", args=[m.conversation_id]),
            meta={"id": m.pk, "direction": m.direction, "channel": m.channel, "status": m.status},
        )
        for m in messages
    ]


def _reassign(source: Contact, target: Contact) -> int:
    """Fold the source's conversation into the target's: its messages move, counts add up."""
    old = Conversation.objects.filter(workspace_id=source.workspace_id, contact=source).first()
    if old is None:
        return 0
    new = Conversation.objects.filter(workspace_id=target.workspace_id, contact=target).first()
    if new is None:
        old.contact = target
        old.save(update_fields=["contact", "updated_at"])
        return old.messages.count()
    moved = Message.objects.filter(conversation=old).update(conversation=new)
    latest = max(filter(None, [old.last_message_at, new.last_message_at]), default=None)
    Conversation.objects.filter(pk=new.pk).update(
        unread_count=F("unread_count") + old.unread_count,
        last_message_at=latest,
        last_message_preview=(
            old.last_message_preview
            if old.last_message_at and old.last_message_at == latest
            else new.last_message_preview
        ),
        automation_paused=new.automation_paused or old.automation_paused,
    )
    old.delete()
    return moved


register_contact_link(ContactLink("messages", _timeline, _reassign, area=Area.INBOX))

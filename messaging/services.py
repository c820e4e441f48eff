"""Writes for the inbox: conversations, messages in and out, reading and pausing.

Delivery itself (providers, fallback, retries) lives in messaging.delivery; this module queues
an outbound message and hands it over after commit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import structlog
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from careops.errors import Conflict, InvalidInput
from careops.queue import enqueue_on_commit
from contacts.models import Contact
from messaging.models import Channel, Conversation, InboxNotice, Message
from messaging.signals import staff_replied

log = structlog.get_logger(__name__)

PREVIEW_LENGTH = 160


def _always(workspace: Any) -> bool:
    return True


# Whether a staff reply pauses automation in a workspace. The automation app registers its
# rule's switch here (messaging imports no automation); until it does, a reply always pauses.
_PAUSE_CHECK: dict[str, Callable[[Any], bool]] = {"check": _always}


def set_pause_on_staff_reply(check: Callable[[Any], bool]) -> None:
    _PAUSE_CHECK["check"] = check


def pause_on_staff_reply(workspace) -> bool:
    return _PAUSE_CHECK["check"](workspace)


class NoChannel(InvalidInput):
    code = "no_channel"
    default_message = "This contact cannot be reached by email or SMS."


def inbound_email_address(workspace) -> str:
    """Where clients' emails to the workspace arrive: outbound email sets it as Reply-To, and the
    inbound webhook finds the workspace by it."""
    return f"{workspace.slug}@{settings.INBOUND_EMAIL_DOMAIN}"


def conversation_for_contact(*, workspace, contact: Contact) -> Conversation:
    """The contact's one conversation, opened on first use (safe against a concurrent open)."""
    conversation = Conversation.objects.for_workspace(workspace).filter(contact=contact).first()
    if conversation is not None:
        return conversation
    try:
        with transaction.atomic():
            return Conversation.objects.create(workspace=workspace, contact=contact)
    except IntegrityError:
        return Conversation.objects.for_workspace(workspace).get(contact=contact)


def message_preview(message: Message) -> str:
    text = " ".join(
        (message.subject + " " + message.body if message.subject else message.body).split()
    )
    return text[:PREVIEW_LENGTH]


def message_receive(
    *,
    workspace,
    contact: Contact,
    channel: str,
    body: str,
    subject: str = "",
    provider: str = "",
    provider_message_id: str = "",
    from_address: str = "",
    to_address: str = "",
) -> tuple[Message, bool]:
    """Store a message the contact sent. Idempotent on the provider's message id: a webhook
    delivered twice stores one message. Returns (message, created)."""
    conversation = conversation_for_contact(workspace=workspace, contact=contact)
    if provider_message_id:
        existing = (
            Message.objects.for_workspace(workspace)
            .filter(provider=provider, provider_message_id=provider_message_id)
            .first()
        )
        if existing is not None:
            return existing, False
    message = Message(
        workspace=workspace,
        conversation=conversation,
        direction=Message.Direction.INBOUND,
        channel=channel,
        status=Message.Status.RECEIVED,
        subject=subject[:255],
        body=body,
        sender_kind=Message.SenderKind.CONTACT,
        provider=provider,
        provider_message_id=provider_message_id,
        from_address=from_address,
        to_address=to_address,
    )
    try:
        with transaction.atomic():
            message.save()
            Conversation.objects.filter(pk=conversation.pk).update(
                unread_count=F("unread_count") + 1,
                last_message_at=message.created_at,
                last_message_preview=message_preview(message),
                last_inbound_channel=channel,
                status=Conversation.Status.OPEN,
                updated_at=timezone.now(),
            )
    except IntegrityError:
        # The same provider message raced in through a duplicate webhook: keep the first.
        return Message.objects.for_workspace(workspace).get(
            provider=provider, provider_message_id=provider_message_id
        ), False
    log.info("message_received", message_id=message.pk, channel=channel)
    return message, True


def reachable_channels(contact: Contact, conversation: Conversation | None = None) -> list[str]:
    """The channels a message may go out on: an address, and for SMS consent (or the contact
    having texted in, which is consent to be answered)."""
    channels = []
    if contact.email:
        channels.append(Channel.EMAIL)
    texted_in = conversation is not None and conversation.last_inbound_channel == Channel.SMS
    if contact.phone and (contact.sms_consent or texted_in):
        channels.append(Channel.SMS)
    return channels


def choose_channel(
    contact: Contact, conversation: Conversation | None, requested: str | None
) -> str:
    """The requested channel if the contact can be reached on it; otherwise the channel the
    contact last wrote on, then email, then SMS."""
    usable = reachable_channels(contact, conversation)
    if requested:
        if requested not in Channel.values:
            raise InvalidInput(fields={"channel": ["Choose email or sms."]})
        if requested not in usable:
            reason = (
                "This contact has no email address."
                if requested == Channel.EMAIL
                else "This contact has no phone number or has not agreed to SMS."
            )
            raise NoChannel(fields={"channel": [reason]})
        return requested
    preferred = conversation.last_inbound_channel if conversation else ""
    if preferred in usable:
        return preferred
    if not usable:
        raise NoChannel(fields={"channel": [NoChannel.default_message]})
    return usable[0]


def message_send(
    *,
    conversation: Conversation,
    body: str,
    actor=None,
    channel: str | None = None,
    subject: str = "",
    sender_kind: str = Message.SenderKind.STAFF,
    sender_reference: str = "",
    attachments: list[dict] | None = None,
) -> Message:
    """Queue an outbound message in the conversation and hand it to delivery after commit.

    A staff member's reply pauses automation for the conversation (a person has taken over)
    unless the workspace turned that off, and sends `staff_replied`. `attachments` go with an
    email only: [{"filename", "content_type", "content"}] (text).
    """
    body = (body or "").strip()
    if not body:
        raise InvalidInput(fields={"body": ["Write a message."]})
    contact = conversation.contact
    channel = choose_channel(contact, conversation, channel)
    if channel == Channel.SMS:
        subject = ""
    elif not subject.strip():
        subject = f"Message from {conversation.workspace.name}"
    now = timezone.now()
    with transaction.atomic():
        message = outbound_message(
            workspace_id=conversation.workspace_id,
            conversation=conversation,
            channel=channel,
            to=contact.email if channel == Channel.EMAIL else contact.phone,
            subject=subject,
            body=body,
            sender_kind=sender_kind,
            sender_user=actor if sender_kind == Message.SenderKind.STAFF else None,
            sender_reference=sender_reference,
            attachments=attachments,
            now=now,
        )
        message.save(force_insert=True)
        updates = {
            "last_message_at": now,
            "last_message_preview": message_preview(message),
            "updated_at": now,
        }
        if sender_kind == Message.SenderKind.STAFF:
            updates["unread_count"] = 0
            if pause_on_staff_reply(conversation.workspace):
                updates.update(automation_paused=True, automation_paused_at=now)
        Conversation.objects.filter(pk=conversation.pk).update(**updates)
        if sender_kind == Message.SenderKind.STAFF:
            staff_replied.send(sender=Message, message=message, conversation=conversation)
        _queue_delivery(message)
    for name in ("last_message_at", "automation_paused", "unread_count"):
        if name in updates:
            setattr(conversation, name, updates[name])
    log.info("message_queued", message_id=message.pk, channel=channel, sender=sender_kind)
    return message


def outbound_message(
    *,
    workspace_id: int,
    conversation: Conversation,
    channel: str,
    to: str,
    subject: str,
    body: str,
    sender_kind: str,
    sender_reference: str,
    attachments: list[dict] | None,
    now,
    sender_user=None,
) -> Message:
    """An outbound message, not yet stored, as message_send and messaging.bulk store it:
    queued and due now; a subject and attachments for an email only."""
    email = channel == Channel.EMAIL
    return Message(
        workspace_id=workspace_id,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        channel=channel,
        status=Message.Status.QUEUED,
        subject=subject.strip()[:255] if email else "",
        body=body,
        sender_kind=sender_kind,
        sender_user=sender_user,
        sender_reference=sender_reference,
        to_address=to,
        next_attempt_at=now,
        attachments=list(attachments or []) if email else [],
    )


def _queue_delivery(message: Message) -> None:
    from messaging.tasks import message_deliver

    enqueue_on_commit(message_deliver, message.pk)


def message_retry(*, message: Message, actor=None) -> Message:
    """Send a failed message again now (the inbox's retry button).

    The provider's id of the failed send is cleared: it names that send, and a late or
    replayed callback about it (a "delivered" sent before the bounce) must not mark the new
    send done before it is made, which would leave it never sent.

    A message a worker is sending right now (its automatic retry: see messaging.delivery) is
    refused, as a second send could go out beside it. A mark left by a send cut short is
    cleared: staff decide it goes again, through the integration that may have it, with its
    key, where that integration honours keys (unconfirmed_key), as after a lost answer."""
    from messaging.delivery import sending_limit

    if message.direction != Message.Direction.OUTBOUND or message.status != Message.Status.FAILED:
        raise Conflict("Only a failed outbound message can be retried.")
    now = timezone.now()
    cut_short_before = now - sending_limit()
    if message.sending_since is not None and message.sending_since > cut_short_before:
        raise Conflict("This message is being sent: retry it if that fails.")
    with transaction.atomic():
        updated = (
            Message.objects.filter(pk=message.pk, status=Message.Status.FAILED)
            .filter(Q(sending_since__isnull=True) | Q(sending_since__lte=cut_short_before))
            .update(
                status=Message.Status.QUEUED,
                next_attempt_at=now,
                error="",
                provider_message_id="",
                sending_since=None,
                updated_at=now,
            )
        )
        if updated:
            _queue_delivery(message)
    message.refresh_from_db()
    log.info("message_retry_requested", message_id=message.pk, actor=getattr(actor, "pk", None))
    return message


def conversation_mark_read(*, conversation: Conversation) -> Conversation:
    Conversation.objects.filter(pk=conversation.pk).update(unread_count=0)
    conversation.unread_count = 0
    return conversation


def conversation_set_automation(
    *, conversation: Conversation, paused: bool, actor=None
) -> Conversation:
    """Pause or resume automations for one conversation (owners and staff)."""
    conversation.automation_paused = paused
    conversation.automation_paused_at = timezone.now() if paused else None
    conversation.save(update_fields=["automation_paused", "automation_paused_at", "updated_at"])
    log.info(
        "conversation_automation_set",
        conversation_id=conversation.pk,
        paused=paused,
        actor=getattr(actor, "pk", None),
    )
    return conversation


_UNCHANGED = object()


def conversation_update(
    *, conversation: Conversation, actor=None, status=_UNCHANGED, assigned_to=_UNCHANGED
) -> Conversation:
    """Close or reopen a conversation, or (un)assign it to a member of its workspace.

    `assigned_to` is a user, a user id, or None; anyone outside the workspace is refused with a
    field error rather than stored.
    """
    from workspaces.models import Membership

    fields = []
    if status is not _UNCHANGED:
        if status not in Conversation.Status.values:
            raise InvalidInput(fields={"status": ["Use open or closed."]})
        conversation.status = status
        fields.append("status")
    if assigned_to is not _UNCHANGED:
        user_id = getattr(assigned_to, "pk", assigned_to)
        if user_id is None:
            conversation.assigned_to = None
        else:
            membership = (
                Membership.objects.for_workspace(conversation.workspace_id)
                .select_related("user")
                .filter(user_id=user_id)
                .first()
            )
            if membership is None:
                raise InvalidInput(fields={"assigned_to": ["Choose a member of this workspace."]})
            conversation.assigned_to = membership.user
        fields.append("assigned_to")
    if fields:
        conversation.save(update_fields=[*fields, "updated_at"])
        log.info(
            "conversation_updated",
            conversation_id=conversation.pk,
            fields=fields,
            actor=getattr(actor, "pk", None),
        )
    return conversation


def conversation_template_render(
    *, conversation: Conversation, template_id: int, actor=None
) -> tuple[str, str]:
    """A canned reply: one of the workspace's message templates rendered for the conversation's
    contact, signed by the staff member. Returns (subject, body)."""
    from messaging.models import MessageTemplate
    from messaging.rendering import template_context, template_render

    template = (
        MessageTemplate.objects.for_workspace(conversation.workspace_id)
        .filter(pk=template_id)
        .first()
    )
    if template is None:
        raise InvalidInput(fields={"template_id": ["Choose a message template of this workspace."]})
    context = template_context(
        contact=conversation.contact, workspace=conversation.workspace, staff=actor
    )
    return template_render(template, context)


def conversation_reply(
    *,
    conversation: Conversation,
    actor,
    body: str = "",
    channel: str | None = None,
    subject: str = "",
    template_id: int | None = None,
) -> Message:
    """A staff member's reply from the inbox (page or API). A canned reply (`template_id`)
    fills the body and subject left blank; the reply pauses automation (see message_send)."""
    if template_id is not None:
        rendered_subject, rendered_body = conversation_template_render(
            conversation=conversation, template_id=template_id, actor=actor
        )
        body = (body or "").strip() or rendered_body
        subject = (subject or "").strip() or rendered_subject
    return message_send(
        conversation=conversation, body=body, actor=actor, channel=channel, subject=subject
    )


# --- Notices to the owners ------------------------------------------------------------------


def notice_post(
    *, workspace, source: str, title: str, body: str = "", url: str = ""
) -> tuple[InboxNotice, bool]:
    """Put a note at the top of the owners' inbox, once per source: posting the same source
    again (a retried task, the next sweep) returns the notice already there, open or closed
    (a notice an owner marked done is not reopened). Returns (notice, created)."""
    workspace_id = getattr(workspace, "pk", workspace)
    notice, created = InboxNotice.objects.get_or_create(
        workspace_id=workspace_id,
        source=source,
        defaults={"title": title[:255], "body": body[:500], "url": url[:255]},
    )
    if created:
        log.info("inbox_notice_posted", notice_id=notice.pk, source=source)
    return notice, created


def notices_post_many(notices: list[dict]) -> None:
    """notice_post for many at once (any workspaces; dicts of notice_post's arguments, the
    workspace as `workspace_id`), in one query; those already posted are left alone."""
    if not notices:
        return
    InboxNotice.objects.bulk_create(
        [
            InboxNotice(
                workspace_id=n["workspace_id"],
                source=n["source"],
                title=n["title"][:255],
                body=n.get("body", "")[:500],
                url=n.get("url", "")[:255],
            )
            for n in notices
        ],
        ignore_conflicts=True,
    )


def notice_close(*, notice: InboxNotice, actor=None) -> InboxNotice:
    """An owner dealt with it (Done). Idempotent: the first close is the one recorded."""
    now = timezone.now()
    InboxNotice.objects.filter(pk=notice.pk, closed_at__isnull=True).update(
        closed_at=now, closed_by=actor, updated_at=now
    )
    notice.refresh_from_db(fields=["closed_at", "closed_by", "updated_at"])
    log.info("inbox_notice_closed", notice_id=notice.pk, user_id=getattr(actor, "pk", None))
    return notice


def notices_close_source(*, workspace, source: str) -> int:
    """The cause is gone: close the source's notice if it is open. Returns how many closed."""
    return notices_close_sources([(getattr(workspace, "pk", workspace), source)])


def notices_close_sources(sources: list[tuple[int, str]]) -> int:
    """notices_close_source for many (workspace id, source) pairs at once, in one query."""
    if not sources:
        return 0
    match = Q()
    for workspace_id, source in sources:
        match |= Q(workspace_id=workspace_id, source=source)
    now = timezone.now()
    closed = InboxNotice.objects.filter(match, closed_at__isnull=True).update(
        closed_at=now, updated_at=now
    )
    if closed:
        log.info("inbox_notices_closed", count=closed)
    return closed

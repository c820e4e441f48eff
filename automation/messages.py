"""The messages rules send: rendered from the rule's texts for the contact, on the channel the
contact can be reached on, unless a staff member has taken the conversation over.

`message_draft` decides and renders without writing anything (the dry run shows it);
`send_automated` queues the draft through messaging and says what happened as a RunResult;
`sends_automated` does that for many at once (the reminders sweep), in a few queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from automation.engine import RunResult
from automation.models import AutomationRun, Rule
from careops.errors import InvalidInput
from messaging.bulk import NewOutbound, contacts_conversations, messages_queue
from messaging.models import Channel, Conversation
from messaging.rendering import template_context, template_render
from messaging.services import NoChannel, choose_channel, reachable_channels

PAUSED_REASON = "Automation is paused for this conversation: a staff member replied."
NO_CHANNEL_REASON = "No email address, and no phone with SMS consent."
EMPTY_REASON = "The rule's message for {channel} is empty."

# How a booking's times read in a message (the template editor's sample uses the same shape).
LOCAL_FORMAT = "l j F, H:i"
DATE_FORMAT = "l j F"
TIME_FORMAT = "H:i"


class Skip(Exception):
    """The rule does nothing for this contact, for `reason`."""

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)


@dataclass(frozen=True)
class Draft:
    channel: str
    to: str
    subject: str
    body: str
    attachments: list[dict] = field(default_factory=list)

    @property
    def attachment_names(self) -> list[str]:
        return [a["filename"] for a in self.attachments]


def booking_context(booking) -> dict[str, str]:
    """The `booking` variables of a message, in the workspace's time zone. Reads
    booking.booking_type and booking.workspace."""
    workspace = booking.workspace
    booking_type = booking.booking_type
    return {
        "service": booking_type.name,
        "start_local": workspace.local_text(booking.start, LOCAL_FORMAT),
        "end_local": workspace.local_text(booking.end, LOCAL_FORMAT),
        "date": workspace.local_text(booking.start, DATE_FORMAT),
        "time": workspace.local_text(booking.start, TIME_FORMAT),
        "location": booking_type.location or booking_type.video_link,
    }


def _conversation(workspace, contact) -> Conversation | None:
    """The contact's conversation if there is one (opening one is a write; the dry run may not)."""
    return Conversation.objects.for_workspace(workspace).filter(contact=contact).first()


def paused_reason(workspace, contact) -> str:
    """Why automation leaves this contact alone (a staff member took the conversation over), or
    "" when it does not."""
    conversation = _conversation(workspace, contact)
    if conversation is not None and conversation.automation_paused:
        return PAUSED_REASON
    return ""


_LOOK_UP = object()  # message_draft: find the contact's conversation itself


def _texts(rule: Rule, channel: str) -> SimpleNamespace:
    if channel == Channel.SMS:
        return SimpleNamespace(subject="", body=rule.sms_body)
    return SimpleNamespace(subject=rule.subject, body=rule.body)


def message_draft(
    *,
    rule: Rule,
    contact,
    context: dict[str, Any],
    attachments: list[dict] | None = None,
    channel: str | None = None,
    conversation: Conversation | object | None = _LOOK_UP,
    prefer_channel: str | None = None,
) -> Draft:
    """What the rule would send the contact now; Skip(reason) when it would send nothing.

    `context` holds the template variables beyond contact and workspace (booking, form, link).
    Writes nothing. Reads rule.workspace and, unless given (None: there is none yet), the
    contact's conversation. `prefer_channel` is used when the contact can be reached on it
    (a form's reminder follows the form); otherwise the channel is chosen as for any message."""
    workspace = rule.workspace
    if contact.workspace_id != rule.workspace_id:
        raise InvalidInput(fields={"contact_id": ["Choose a contact of this workspace."]})
    if conversation is _LOOK_UP:
        conversation = _conversation(workspace, contact)
    if conversation is not None and conversation.automation_paused:
        raise Skip(PAUSED_REASON)
    if not channel and prefer_channel in reachable_channels(contact, conversation):
        channel = prefer_channel
    try:
        channel = choose_channel(contact, conversation, channel)
    except NoChannel as exc:
        if channel:  # a channel the caller insisted on: say why that one cannot be used
            raise Skip(" ".join(exc.fields.get("channel", [])) or NO_CHANNEL_REASON) from None
        raise Skip(NO_CHANNEL_REASON) from None
    variables = template_context(contact=contact, workspace=workspace, **context)
    subject, body = template_render(_texts(rule, channel), variables)
    if not body:
        raise Skip(EMPTY_REASON.format(channel="SMS" if channel == Channel.SMS else "email"))
    # An SMS has no subject; an email always has one (as message_send would make it).
    subject = (subject or f"Message from {workspace.name}") if channel == Channel.EMAIL else ""
    return Draft(
        channel=channel,
        to=contact.email if channel == Channel.EMAIL else contact.phone,
        subject=subject,
        body=body,
        attachments=list(attachments or []) if channel == Channel.EMAIL else [],
    )


@dataclass(frozen=True)
class AutomatedSend:
    """One message a rule sends a contact (see send_automated)."""

    rule: Rule
    contact: Any
    context: dict[str, Any]
    booking: Any = None
    attachments: list[dict] | None = None
    channel: str | None = None
    prefer_channel: str | None = None


def send_automated(
    *,
    rule: Rule,
    contact,
    context: dict[str, Any],
    booking=None,
    attachments: list[dict] | None = None,
    channel: str | None = None,
) -> RunResult:
    """Queue the rule's message to the contact (delivery follows the commit), or say why not:
    a conversation a staff member took over, a contact who cannot be reached, an empty text.
    Call it inside the transaction that records the run (the engine's savepoint)."""
    send = AutomatedSend(rule, contact, context, booking, attachments, channel)
    return sends_automated([send])[0]


def sends_automated(sends: list[AutomatedSend]) -> list[RunResult]:
    """send_automated for each, in order, with one query for the contacts' conversations and
    the messages queued together (messaging.bulk.messages_queue): whatever their number, a
    few queries, and their delivery handed over in batches. Each is decided on its own, as
    send_automated decides it. Reads each rule.workspace."""
    skipped = AutomationRun.Outcome.SKIPPED
    # Decided before a conversation is opened for the contact: a skip writes nothing.
    conversations = contacts_conversations([send.contact for send in sends])
    results: list[RunResult | None] = []
    queued: list[tuple[int, AutomatedSend, Draft]] = []
    for index, send in enumerate(sends):
        contact = send.contact
        booking_id = getattr(send.booking, "pk", None)
        try:
            draft = message_draft(
                rule=send.rule,
                contact=contact,
                context=send.context,
                attachments=send.attachments,
                channel=send.channel,
                conversation=conversations.get(contact.pk),
                prefer_channel=send.prefer_channel,
            )
        except Skip as skip:
            results.append(
                RunResult(skipped, skip.reason, contact_id=contact.pk, booking_id=booking_id)
            )
            continue
        results.append(None)
        queued.append((index, send, draft))
    messages = messages_queue(
        [
            NewOutbound(
                contact=send.contact,
                conversation=conversations.get(send.contact.pk),
                channel=draft.channel,
                to=draft.to,
                subject=draft.subject,
                body=draft.body,
                attachments=draft.attachments,
                sender_reference=f"rule:{send.rule.pk}",
            )
            for _, send, draft in queued
        ]
    )
    for (index, send, draft), message in zip(queued, messages, strict=True):
        results[index] = RunResult(
            AutomationRun.Outcome.SENT,
            f"Sent by {Channel(draft.channel).label} to {draft.to}.",
            contact_id=send.contact.pk,
            booking_id=getattr(send.booking, "pk", None),
            message_id=message.pk,
        )
    return results  # type: ignore[return-value]  # every None was filled in above

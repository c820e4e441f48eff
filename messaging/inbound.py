"""What providers tell us: messages clients send (SMS through Twilio, email through anymail's
inbound webhooks) and the delivery status of the messages we sent.

Webhooks call these after they have verified the provider's signature; nothing here trusts
the request, only the parsed values.
"""

from __future__ import annotations

import hashlib
import html
import re
from email.headerregistry import Address

import nh3
import structlog
from django.conf import settings
from django.utils import timezone

from careops.errors import InvalidInput
from contacts.models import Contact, normalize_email
from contacts.services import contact_upsert
from messaging.models import STATUS_RANK, Channel, Integration, Message
from messaging.services import message_receive
from workspaces.models import Workspace

log = structlog.get_logger(__name__)

# What is stored when a message carries no text (a picture, an attachment only).
EMPTY_BODY = "(no text)"
EMAIL_MAX_LENGTH = 254

# Twilio's MessageStatus values we act on, in our words. The rest (queued, sending,
# accepted, scheduled, read, canceled, ...) say nothing our status does not already say.
TWILIO_STATUSES = {
    "sent": Message.Status.SENT,
    "delivered": Message.Status.DELIVERED,
    "undelivered": Message.Status.FAILED,
    "failed": Message.Status.FAILED,
}

# anymail's normalized tracking event types we act on. queued and sent are what our own
# delivery recorded when the ESP accepted the message; opens, clicks, deferrals and complaints
# do not change whether it arrived.
ANYMAIL_EVENT_STATUSES = {
    "delivered": Message.Status.DELIVERED,
    "bounced": Message.Status.FAILED,
    "rejected": Message.Status.FAILED,
    "failed": Message.Status.FAILED,
}


def sms_receive(
    *, integration: Integration, from_number: str, to_number: str, body: str, sid: str
) -> tuple[Message, bool]:
    """Store a text a client sent to the integration's number in the client's conversation,
    creating the contact for a new number. Idempotent on Twilio's MessageSid.

    Texting in is consent to be answered (reachable_channels reads it from the conversation),
    not consent to marketing: sms_consent is left as it was."""
    if not sid:
        raise InvalidInput(fields={"MessageSid": ["This field is required."]})
    if not from_number:
        raise InvalidInput(fields={"From": ["This field is required."]})
    workspace = integration.workspace
    try:
        contact, _ = contact_upsert(
            workspace=workspace, phone=from_number, source=Contact.Source.INBOUND_MESSAGE
        )
    except InvalidInput as exc:
        # contact_upsert names its field "phone"; the client should hear the parameter's name.
        raise InvalidInput(fields={"From": exc.fields.get("phone", [exc.message])}) from exc
    return message_receive(
        workspace=workspace,
        contact=contact,
        channel=Channel.SMS,
        body=(body or "").strip() or EMPTY_BODY,
        provider="twilio",
        provider_message_id=sid[:255],
        from_address=contact.phone,
        to_address=(to_number or "")[:254],
    )


def _addresses(message, header: str) -> list[Address]:
    try:
        return list(message.get_address_header(header))
    except (TypeError, ValueError, IndexError):
        return []  # a malformed header names no one we could match


def _recipient_addresses(message) -> list[str]:
    """Every address the email was sent to, the envelope's first (the ESP's route knows it
    best; a Bcc appears nowhere else)."""
    found = [message.envelope_recipient or ""]
    for header in ("To", "Cc", "Delivered-To", "X-Original-To"):
        found += [address.addr_spec for address in _addresses(message, header)]
    seen: list[str] = []
    for address in found:
        address = (address or "").strip().lower()
        if "@" in address and address not in seen:
            seen.append(address)
    return seen


def inbound_email_workspace(addresses: list[str]) -> tuple[Workspace | None, str]:
    """The workspace an email was written to, and the address that named it.

    <slug>@INBOUND_EMAIL_DOMAIN (or <slug>+anything@, which some mail clients keep from a
    Reply-To) names the workspace; otherwise an address that is exactly one workspace's email
    integration sender (a client writing to the clinic's own address routed to the ESP)."""
    domain = settings.INBOUND_EMAIL_DOMAIN.lower()
    for address in addresses:
        local, _, address_domain = address.rpartition("@")
        if address_domain != domain:
            continue
        slug = local.split("+", 1)[0]
        workspace = Workspace.objects.filter(slug=slug).first()
        if workspace is not None:
            return workspace, address
    for address in addresses:
        workspace_ids = set(
            Integration.objects.filter(
                channel=Channel.EMAIL, is_active=True, from_address__iexact=address
            ).values_list("workspace_id", flat=True)
        )
        # Two workspaces sending from one address cannot tell whose client wrote.
        if len(workspace_ids) == 1:
            return Workspace.objects.get(pk=workspace_ids.pop()), address
    return None, ""


# Where an HTML email breaks a line: the text keeps the break.
_HTML_BREAKS = re.compile(r"<br\s*/?>|</(?:p|div|li|tr|h[1-6]|blockquote|pre)\s*>", re.IGNORECASE)
_BLANK_LINES = re.compile(r"\n\s*\n(?:\s*\n)+")
# Elements whose content is code or metadata, not what the sender wrote.
HIDDEN_TAGS = {"head", "script", "style", "template", "title"}


def html_text(markup: str) -> str:
    """The text of an HTML email, as the inbox stores and shows it (escaped, like any text).

    nh3 (a real HTML parser, unlike strip_tags) keeps no tag at all, drops what <script> and
    <style> hold instead of leaving their code in the text, and comments; the entities it
    writes for the text's own <, > and & are then read back into characters."""
    cleaned = nh3.clean(
        _HTML_BREAKS.sub("\n", markup), tags=set(), attributes={}, clean_content_tags=HIDDEN_TAGS
    )
    text = "\n".join(line.strip() for line in html.unescape(cleaned).splitlines())
    return _BLANK_LINES.sub("\n\n", text)


def _email_text(message) -> str:
    text = message.text
    if not (text and text.strip()) and message.html:
        text = html_text(message.html)
    return (text or "").strip() or EMPTY_BODY


def _inbound_email_id(message, sender: str, recipients: list[str]) -> str:
    """What makes an inbound email one message: its Message-ID header, or without one (some
    mailers and scripts send none) a digest of its sender, recipients, date, subject and text, so
    that an ESP delivering the webhook twice still stores it once."""
    header = (message["Message-ID"] or "").strip()
    if header:
        return header[:255]
    parts = (sender, ",".join(recipients), message["Date"] or "", message.subject or "")
    digest = hashlib.sha256("\n".join((*parts, _email_text(message))).encode()).hexdigest()
    return f"<{digest}@no-message-id.careops>"


# Senders that are mail systems, not people (RFC 5321 postmaster; bounce senders).
MACHINE_SENDERS = frozenset({"mailer-daemon", "postmaster"})


def _is_automated(message, address: str) -> bool:
    """An email a machine sent: marked Auto-Submitted (RFC 3834) or from a mail system."""
    auto_submitted = (message["Auto-Submitted"] or "no").strip().lower()
    return auto_submitted != "no" or address.split("@")[0].lower() in MACHINE_SENDERS


def email_receive(*, message, provider: str) -> Message | None:
    """Store an email a client sent (an anymail AnymailInboundMessage) in their conversation:
    the workspace is found by the address it was sent to, the contact by the sender's address,
    so a reply lands in the thread of everything else that client wrote.

    Idempotent on the Message-ID header. An email no workspace was addressed by, or with no
    usable sender, is logged and dropped (None): there is nothing to store it under."""
    recipients = _recipient_addresses(message)
    workspace, to_address = inbound_email_workspace(recipients)
    senders = _addresses(message, "From")
    sender = senders[0] if senders else None
    if workspace is None:
        log.warning(
            "inbound_email_unknown_workspace",
            recipients=recipients,
            sender=sender.addr_spec if sender else "",
            provider=provider,
        )
        return None
    # Longer than an email field holds: not an address a reply could reach.
    if sender is None or not sender.addr_spec or len(sender.addr_spec) > EMAIL_MAX_LENGTH:
        log.warning("inbound_email_no_sender", workspace_id=workspace.pk, provider=provider)
        return None
    if _is_automated(message, sender.addr_spec) and not (
        Contact.objects.for_workspace(workspace)
        .filter(email=normalize_email(sender.addr_spec))
        .exists()
    ):
        # Bounces, vacation replies and mailing-list robots of people who are not clients would
        # each become a contact; from a known client an automatic reply still lands in the thread.
        log.info(
            "inbound_email_automated_dropped",
            workspace_id=workspace.pk,
            sender=sender.addr_spec,
            auto_submitted=message["Auto-Submitted"] or "",
        )
        return None
    try:
        contact, _ = contact_upsert(
            workspace=workspace,
            email=sender.addr_spec,
            name=sender.display_name[: Contact._meta.get_field("name").max_length],
            source=Contact.Source.INBOUND_MESSAGE,
        )
    except InvalidInput as exc:
        log.warning(
            "inbound_email_bad_sender",
            workspace_id=workspace.pk,
            sender=sender.addr_spec,
            errors=exc.fields,
        )
        return None
    stored, created = message_receive(
        workspace=workspace,
        contact=contact,
        channel=Channel.EMAIL,
        body=_email_text(message),
        subject=" ".join((message.subject or "").split()),
        provider=provider,
        provider_message_id=_inbound_email_id(message, sender.addr_spec, recipients),
        from_address=contact.email,
        to_address=to_address,
    )
    if not created:
        log.info("inbound_email_duplicate", message_id=stored.pk, provider=provider)
    return stored


def message_status_update(
    *,
    provider: str,
    provider_message_id: str,
    status: str,
    error: str = "",
    workspace=None,
    integration: Integration | None = None,
    message_id: int | None = None,
) -> Message | None:
    """Record what the provider says became of an outbound message: sent, delivered or failed.

    Status only moves forward (messaging.models.STATUS_RANK): callbacks arrive late, twice and
    out of order, and a late "sent" must not undo "delivered", nor a bounce reported after
    delivery turn it into a failure. The conditional UPDATE makes that hold under concurrent
    callbacks too. Without a workspace the message is looked up across workspaces (an ESP's
    message ids are global). An unknown message is logged and ignored (None).

    A message whose send lost the provider's answer (failed, "may have been sent": see
    messaging.delivery) has no provider id to be found by. Twilio's status callback URL names
    our message (`message_id`, signed by the `integration` it came to): a callback for it proves
    that integration took the text, which then takes the SID and moves on from sent."""
    if status not in (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.FAILED):
        raise ValueError(f"Not a provider status: {status!r}")
    messages = Message.objects.filter(
        direction=Message.Direction.OUTBOUND,
        provider=provider,
        provider_message_id=provider_message_id,
    )
    if workspace is not None:
        messages = messages.for_workspace(workspace)
    message = messages.first() if provider_message_id else None
    if message is None and provider_message_id and integration and message_id is not None:
        message = _unconfirmed_settle(integration, message_id, provider, provider_message_id)
    if message is None:
        log.info(
            "message_status_unknown_message",
            provider=provider,
            provider_message_id=provider_message_id,
            status=status,
        )
        return None
    now = timezone.now()
    changes: dict = {"status": status, "updated_at": now}
    if status == Message.Status.SENT:
        changes["sent_at"] = message.sent_at or now
    elif status == Message.Status.DELIVERED:
        changes.update(delivered_at=now, error="")
    else:
        # The carrier or the recipient's server refused it: sending it again would be refused
        # again, so the retry sweep leaves it alone.
        changes.update(failed_at=now, error=error or "The provider reported a failure.")
        changes["next_attempt_at"] = None
    earlier = [s for s, rank in STATUS_RANK.items() if rank < STATUS_RANK[status]]
    moved = Message.objects.filter(pk=message.pk, status__in=earlier).update(**changes)
    if moved:
        log.info(
            "message_status_updated",
            message_id=message.pk,
            provider=provider,
            status=status,
            previous=message.status,
        )
        message.refresh_from_db()
    else:
        log.info(
            "message_status_not_moved",
            message_id=message.pk,
            provider=provider,
            status=status,
            current=message.status,
        )
    return message


def _unconfirmed_settle(
    integration: Integration, message_id: int, provider: str, provider_message_id: str
) -> Message | None:
    """The message the integration may have sent, now known sent under this id; None if the
    callback names no such message."""
    now = timezone.now()
    settled = Message.objects.filter(
        pk=message_id,
        workspace=integration.workspace,
        direction=Message.Direction.OUTBOUND,
        unconfirmed_integration=integration,
        provider_message_id="",
    ).update(
        status=Message.Status.SENT,
        provider=provider,
        provider_message_id=provider_message_id,
        from_address=integration.from_address,
        sent_at=now,
        error="",
        failed_at=None,
        next_attempt_at=None,
        unconfirmed_integration=None,
        unconfirmed_key="",
        updated_at=now,
    )
    if not settled:
        return None
    log.info(
        "message_unconfirmed_settled",
        message_id=message_id,
        provider=provider,
        provider_message_id=provider_message_id,
    )
    return Message.objects.get(pk=message_id)

"""Signal receivers of messaging: anymail's inbound emails and delivery events, and the
message a person wrote through a workspace's contact form."""

from __future__ import annotations

from anymail.signals import inbound as anymail_inbound
from anymail.signals import tracking as anymail_tracking
from django.dispatch import receiver

from contacts.signals import contact_form_submitted
from messaging.inbound import ANYMAIL_EVENT_STATUSES, email_receive, message_status_update
from messaging.models import Channel
from messaging.services import message_receive


@receiver(anymail_inbound, dispatch_uid="messaging.email_received")
def email_received(sender, event, esp_name: str, **kwargs) -> None:
    email_receive(message=event.message, provider=esp_name.lower())


@receiver(anymail_tracking, dispatch_uid="messaging.email_tracked")
def email_tracked(sender, event, esp_name: str, **kwargs) -> None:
    status = ANYMAIL_EVENT_STATUSES.get(event.event_type)
    if status is None or not event.message_id:
        return
    message_status_update(
        provider=esp_name.lower(),
        provider_message_id=str(event.message_id),
        status=status,
        error=event.description or event.mta_response or event.reject_reason or "",
    )


@receiver(contact_form_submitted, dispatch_uid="messaging.contact_form_message")
def contact_form_message(sender, workspace, contact, subject: str, body: str, **kwargs) -> None:
    # Answered by email when the person gave an address; a phone number alone is a request to
    # be answered by text.
    message_receive(
        workspace=workspace,
        contact=contact,
        channel=Channel.EMAIL if contact.email else Channel.SMS,
        body=body,
        subject=(subject or "").strip() or "Contact form",
        from_address=contact.email or contact.phone,
    )

"""anymail's email webhooks: inbound replies and delivery events, parsed by anymail's own views
and accepted only with the webhook secret (and Mailgun's signature)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pytest
from django.urls import reverse
from structlog.testing import capture_logs

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import Channel, Conversation, Message
from messaging.tests.factories import ConversationFactory, MessageFactory

SECRET = "anymail-user:anymail-pass"
SIGNING_KEY = "mailgun-signing-key-0123456789"
AUTH = "Basic " + base64.b64encode(SECRET.encode()).decode()
SENDGRID_INBOUND = "/webhooks/anymail/sendgrid/inbound/"
SENDGRID_TRACKING = "/webhooks/anymail/sendgrid/tracking/"
MAILGUN_INBOUND = "/webhooks/anymail/mailgun/inbound_mime/"

# anymail warns on every SendGrid request that it no longer tests against SendGrid's service.
pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")


@pytest.fixture(autouse=True)
def anymail_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def raw_headers(
    *,
    sender: str = "Jane Client <jane@example.org>",
    to: str = "alpha-clinic@inbound.careops.local",
    subject: str = "Re: Your appointment",
    message_id: str = "<reply-1@mail.example.org>",
) -> str:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\n"
        f"Message-ID: {message_id}\r\nDate: Tue, 25 Nov 2025 10:00:00 +0000\r\n"
    )


def sendgrid_inbound(text: str = "Thursday suits me better.", **headers) -> dict:
    """SendGrid's default (parsed) Inbound Parse form."""
    head = raw_headers(**headers)
    return {
        "headers": head,
        "text": text,
        "html": f"<p>{text}</p>",
        "from": headers.get("sender", "Jane Client <jane@example.org>"),
        "to": headers.get("to", "alpha-clinic@inbound.careops.local"),
        "subject": headers.get("subject", "Re: Your appointment"),
        "charsets": json.dumps({"text": "utf-8", "html": "utf-8", "subject": "utf-8"}),
        "envelope": json.dumps(
            {
                "from": "jane@example.org",
                "to": [headers.get("to", "alpha-clinic@inbound.careops.local")],
            }
        ),
        "spam_score": "0.1",
    }


def post_inbound(client, data: dict, auth: str | None = AUTH):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(SENDGRID_INBOUND, data, **extra)


def post_tracking(client, events: list[dict], auth: str | None = AUTH):
    extra = {"HTTP_AUTHORIZATION": auth} if auth else {}
    return client.post(
        SENDGRID_TRACKING, json.dumps(events), content_type="application/json", **extra
    )


def outbound_email(workspace, message_id: str = "5e0b9a1c-0000-4000-8000-000000000001"):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace))
    return MessageFactory(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.SENT,
        sender_kind=Message.SenderKind.STAFF,
        provider="sendgrid",
        provider_message_id=message_id,
    )


def sendgrid_event(event: str, anymail_id: str, **extra) -> dict:
    return {
        "event": event,
        "email": "client@example.org",
        "timestamp": int(time.time()),
        "anymail_id": anymail_id,
        "sg_event_id": f"evt-{event}",
        "sg_message_id": "sg.1",
        **extra,
    }


# --- Inbound ----------------------------------------------------------------------------------


def test_an_inbound_email_is_stored_in_the_workspace_its_address_names(client, workspace_a):
    response = post_inbound(client, sendgrid_inbound())

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.workspace == workspace_a
    assert (message.direction, message.channel, message.status) == ("inbound", "email", "received")
    assert message.subject == "Re: Your appointment"
    assert message.body == "Thursday suits me better."
    assert (message.provider, message.provider_message_id) == (
        "sendgrid",
        "<reply-1@mail.example.org>",
    )
    assert message.from_address == "jane@example.org"
    assert message.to_address == "alpha-clinic@inbound.careops.local"
    contact = message.conversation.contact
    assert (contact.email, contact.name, contact.source) == (
        "jane@example.org",
        "Jane Client",
        Contact.Source.INBOUND_MESSAGE,
    )
    assert message.conversation.unread_count == 1


def test_a_reply_is_threaded_into_the_senders_existing_conversation(client, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="jane@example.org", name="Jane")
    conversation = ConversationFactory(contact=contact)
    MessageFactory(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.DELIVERED,
        sender_kind=Message.SenderKind.STAFF,
    )

    post_inbound(client, sendgrid_inbound(sender="JANE <Jane@Example.org>"))

    assert Contact.objects.filter(workspace=workspace_a).count() == 1
    reply = Message.objects.get(direction=Message.Direction.INBOUND)
    assert reply.conversation == conversation
    conversation.refresh_from_db()
    assert conversation.unread_count == 1
    assert conversation.last_inbound_channel == Channel.EMAIL


def test_a_plus_address_names_the_workspace_too(client, workspace_a, workspace_b):
    post_inbound(client, sendgrid_inbound(to="bravo-salon+ticket-42@inbound.careops.local"))

    assert Message.objects.get().workspace == workspace_b


def test_a_raw_mime_inbound_email_is_stored(client, workspace_a):
    mime = raw_headers() + "Content-Type: text/plain; charset=utf-8\r\n\r\nSee you then.\r\n"

    response = post_inbound(client, {"email": mime})

    assert response.status_code == 200
    assert Message.objects.get().body == "See you then."


def test_an_inbound_email_with_wrong_basic_auth_is_rejected_and_stores_nothing(client, workspace_a):
    wrong = "Basic " + base64.b64encode(b"anymail-user:guess").decode()

    response = post_inbound(client, sendgrid_inbound(), auth=wrong)

    assert response.status_code == 400
    assert not Message.objects.exists()
    assert not Contact.objects.exists()


def test_an_inbound_email_without_basic_auth_is_rejected(client, workspace_a):
    response = post_inbound(client, sendgrid_inbound(), auth=None)

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_without_a_webhook_secret_every_anymail_webhook_is_forbidden(client, workspace_a, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": "", "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}

    with capture_logs() as logs:
        inbound = post_inbound(client, sendgrid_inbound(), auth=None)
        tracking = post_tracking(client, [sendgrid_event("delivered", "x")], auth=None)

    assert inbound.status_code == tracking.status_code == 403
    assert not Message.objects.exists()
    assert [entry["event"] for entry in logs].count("anymail_webhook_secret_missing") == 2


def test_a_duplicate_inbound_email_stores_one_message(client, workspace_a):
    post_inbound(client, sendgrid_inbound())
    response = post_inbound(client, sendgrid_inbound())

    assert response.status_code == 200
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_an_email_to_no_known_workspace_is_logged_and_dropped(client, workspace_a):
    with capture_logs() as logs:
        response = post_inbound(client, sendgrid_inbound(to="nobody@inbound.careops.local"))

    assert response.status_code == 200
    assert not Message.objects.exists()
    assert not Contact.objects.exists()
    dropped = [entry for entry in logs if entry["event"] == "inbound_email_unknown_workspace"]
    assert dropped[0]["recipients"] == ["nobody@inbound.careops.local"]
    assert dropped[0]["sender"] == "jane@example.org"


def test_a_payload_that_is_not_sendgrids_format_is_a_bad_request(client, workspace_a):
    response = post_inbound(client, {"subject": "hello"})

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_a_get_on_an_anymail_webhook_is_not_allowed(client):
    response = client.get(SENDGRID_INBOUND, HTTP_AUTHORIZATION=AUTH)

    assert response.status_code == 405


def test_anymail_urls_keep_their_names():
    assert reverse("anymail:sendgrid_inbound_webhook") == SENDGRID_INBOUND
    assert reverse("anymail:mailgun_tracking_webhook") == "/webhooks/anymail/mailgun/tracking/"


# --- Mailgun: basic auth and an HMAC signature --------------------------------------------------


def mailgun_inbound(signing_key: str = SIGNING_KEY) -> dict:
    timestamp, token = str(int(time.time())), "a" * 50
    signature = hmac.new(
        signing_key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    mime = (
        raw_headers(message_id="<mg-1@mail.example.org>")
        + "Content-Type: text/plain; charset=utf-8\r\n\r\nRunning late, sorry.\r\n"
    )
    return {
        "body-mime": mime,
        "recipient": "alpha-clinic@inbound.careops.local",
        "sender": "jane@example.org",
        "timestamp": timestamp,
        "token": token,
        "signature": signature,
    }


def test_a_signed_mailgun_inbound_email_is_stored(client, workspace_a):
    response = client.post(MAILGUN_INBOUND, mailgun_inbound(), HTTP_AUTHORIZATION=AUTH)

    assert response.status_code == 200
    message = Message.objects.get()
    assert message.workspace == workspace_a
    assert (message.provider, message.body) == ("mailgun", "Running late, sorry.")


def test_a_mailgun_inbound_email_with_a_wrong_signature_is_rejected(client, workspace_a):
    response = client.post(
        MAILGUN_INBOUND, mailgun_inbound(signing_key="not-the-key"), HTTP_AUTHORIZATION=AUTH
    )

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_mailgun_webhooks_are_forbidden_without_a_signing_key(client, workspace_a, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": ""}

    response = client.post(
        MAILGUN_INBOUND, mailgun_inbound(signing_key=""), HTTP_AUTHORIZATION=AUTH
    )

    assert response.status_code == 403
    assert not Message.objects.exists()


# --- Tracking ---------------------------------------------------------------------------------


def test_a_delivered_event_marks_the_email_delivered(client, workspace_a):
    message = outbound_email(workspace_a)

    response = post_tracking(client, [sendgrid_event("delivered", message.provider_message_id)])

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at is not None


def test_a_bounce_marks_the_email_failed_with_the_servers_reason(client, workspace_a):
    message = outbound_email(workspace_a)
    bounce = sendgrid_event(
        "bounce", message.provider_message_id, reason="550 5.1.1 No such user", status="5.1.1"
    )

    post_tracking(client, [bounce])

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error == "550 5.1.1 No such user"
    assert message.failed_at is not None


def test_a_dropped_email_is_failed(client, workspace_a):
    message = outbound_email(workspace_a)

    post_tracking(
        client, [sendgrid_event("dropped", message.provider_message_id, reason="Bounced Address")]
    )

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED


def test_events_out_of_order_leave_the_email_delivered(client, workspace_a):
    message = outbound_email(workspace_a)
    pid = message.provider_message_id

    post_tracking(client, [sendgrid_event("delivered", pid), sendgrid_event("processed", pid)])
    post_tracking(client, [sendgrid_event("delivered", pid)])
    post_tracking(client, [sendgrid_event("open", pid)])

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_an_event_for_an_unknown_email_is_ignored(client, workspace_a):
    message = outbound_email(workspace_a)

    response = post_tracking(client, [sendgrid_event("delivered", "someone-elses-id")])

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_an_event_for_another_providers_message_id_is_ignored(client, workspace_a):
    message = outbound_email(workspace_a)
    Message.objects.filter(pk=message.pk).update(provider="postmark")

    post_tracking(client, [sendgrid_event("delivered", message.provider_message_id)])

    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_tracking_event_with_wrong_basic_auth_changes_nothing(client, workspace_a):
    message = outbound_email(workspace_a)
    wrong = "Basic " + base64.b64encode(b"x:y").decode()

    response = post_tracking(
        client, [sendgrid_event("bounce", message.provider_message_id)], auth=wrong
    )

    assert response.status_code == 400
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_tracking_payload_that_is_not_json_is_a_bad_request(client):
    response = client.post(
        SENDGRID_TRACKING, "not json", content_type="application/json", HTTP_AUTHORIZATION=AUTH
    )

    assert response.status_code == 400

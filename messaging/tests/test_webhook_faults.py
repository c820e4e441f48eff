"""Webhooks duplicated, replayed, out of order and forged: nothing stored twice, no status moved
back, nothing stored from a forgery.

test_webhooks_twilio.py and test_webhooks_email.py cover the plain cases (a duplicate inbound
text or email, a late "sent" after "delivered", bad signatures and credentials); these are the
ones around them. Replays: neither Twilio's signature nor anymail's basic auth carries a time
(and anymail does not check the age of Mailgun's signed timestamp), so a signed request can be
replayed at any time; what makes that harmless is that every webhook is idempotent.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from urllib.parse import urlencode

import pytest
from django.conf import settings
from twilio.request_validator import RequestValidator

from messaging.models import Channel, Conversation, Message
from messaging.services import conversation_mark_read, message_retry
from messaging.tests.factories import IntegrationFactory
from messaging.tests.test_webhooks_email import (
    AUTH,
    MAILGUN_INBOUND,
    SECRET,
    SIGNING_KEY,
    outbound_email,
    post_inbound,
    post_tracking,
    raw_headers,
    sendgrid_event,
    sendgrid_inbound,
)
from messaging.tests.test_webhooks_twilio import (
    FORM,
    TOKEN,
    inbound,
    outbound_sms,
    post_signed,
    sms_url,
    status_params,
    status_url,
)

pytestmark = pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning")

MAILGUN_TRACKING = "/webhooks/anymail/mailgun/tracking/"
A_DAY = 24 * 3600


@pytest.fixture(autouse=True)
def anymail_secret(settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": SECRET, "MAILGUN_WEBHOOK_SIGNING_KEY": SIGNING_KEY}


def twilio_integration(workspace, token=TOKEN, sid="AC0000", number="+447700900000"):
    return IntegrationFactory(
        workspace=workspace,
        channel=Channel.SMS,
        provider="twilio",
        from_address=number,
        credentials={"account_sid": sid, "auth_token": token},
    )


@pytest.fixture
def twilio(workspace_a):
    return twilio_integration(workspace_a)


def unconfirmed_sms(workspace, integration) -> Message:
    """A text whose send lost Twilio's answer (messaging.delivery): failed, "may have been
    sent", no SID, the integration that may have it noted."""
    message = outbound_sms(workspace, sid="", status=Message.Status.FAILED)
    Message.objects.filter(pk=message.pk).update(
        provider="",
        error="twilio: no answer within 15 s (ReadTimeout): it may have been sent; not retried",
        attempts=1,
        unconfirmed_integration=integration,
    )
    message.refresh_from_db()
    return message


def callback_url(integration, message: Message) -> str:
    return f"{status_url(integration)}?message={message.pk}"


# --- Inbound texts: duplicated and replayed ---------------------------------------------------


@pytest.mark.django_db
def test_an_old_inbound_text_replayed_after_staff_read_it_is_not_unread_again(client, twilio):
    post_signed(client, sms_url(twilio), inbound())
    conversation = Conversation.objects.get()
    conversation_mark_read(conversation=conversation)

    response = post_signed(client, sms_url(twilio), inbound())

    assert response.status_code == 200
    assert Message.objects.count() == 1
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


@pytest.mark.django_db
def test_an_inbound_text_signed_for_one_workspace_replayed_to_another_is_forbidden(
    client, twilio, workspace_b
):
    other = twilio_integration(workspace_b, token="twilio-auth-token-bravo", sid="AC9999")
    signature = RequestValidator(TOKEN).compute_signature(
        settings.SITE_URL + sms_url(twilio), inbound()
    )

    response = client.post(
        sms_url(other), urlencode(inbound()), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=signature
    )

    assert response.status_code == 403
    assert not Message.objects.exists()


@pytest.mark.django_db
def test_an_inbound_text_signature_replayed_to_the_status_url_is_forbidden(
    client, twilio, workspace_a
):
    message = outbound_sms(workspace_a)
    params = status_params("SM9000", "failed", ErrorCode="30008")
    signed_for_sms = RequestValidator(TOKEN).compute_signature(
        settings.SITE_URL + sms_url(twilio), params
    )

    response = client.post(
        status_url(twilio),
        urlencode(params),
        content_type=FORM,
        HTTP_X_TWILIO_SIGNATURE=signed_for_sms,
    )

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


# --- Status callbacks: out of order, replayed ---------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("first", "then", "final"),
    [
        ("delivered", "undelivered", Message.Status.DELIVERED),
        ("undelivered", "delivered", Message.Status.FAILED),
        ("failed", "sent", Message.Status.FAILED),
        ("delivered", "sent", Message.Status.DELIVERED),
    ],
)
def test_the_first_final_status_wins_over_later_callbacks(
    client, twilio, workspace_a, first, then, final
):
    message = outbound_sms(workspace_a)
    post_signed(client, status_url(twilio), status_params("SM9000", first, ErrorCode="30003"))
    message.refresh_from_db()
    settled = (message.status, message.error, message.delivered_at, message.failed_at)

    response = post_signed(client, status_url(twilio), status_params("SM9000", then))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == final
    assert (message.status, message.error, message.delivered_at, message.failed_at) == settled


@pytest.mark.django_db
def test_a_late_callback_about_a_failed_send_does_not_mark_its_retry_done(
    client, twilio, workspace_a
):
    message = outbound_sms(workspace_a)
    post_signed(client, status_url(twilio), status_params("SM9000", "undelivered"))
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED

    message_retry(message=message)  # queued; its delivery runs once this test's data commits
    for replayed in ("sent", "delivered"):
        response = post_signed(client, status_url(twilio), status_params("SM9000", replayed))
        assert response.status_code == 200

    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED  # still to be sent, not taken for done
    assert message.provider_message_id == ""
    assert message.delivered_at is None


@pytest.mark.django_db
def test_a_status_callback_whose_message_parameter_was_changed_is_forbidden(
    client, twilio, workspace_a
):
    mine = unconfirmed_sms(workspace_a, twilio)
    params = status_params("SM5555", "delivered")
    signature = RequestValidator(TOKEN).compute_signature(
        settings.SITE_URL + f"{status_url(twilio)}?message=1", params
    )

    response = client.post(
        callback_url(twilio, mine),
        urlencode(params),
        content_type=FORM,
        HTTP_X_TWILIO_SIGNATURE=signature,
    )

    assert response.status_code == 403
    mine.refresh_from_db()
    assert (mine.status, mine.provider_message_id) == (Message.Status.FAILED, "")


# --- A text whose send lost Twilio's answer, settled by Twilio's callbacks ----------------------


@pytest.mark.django_db
def test_twilios_callback_settles_a_text_whose_send_lost_the_answer(client, twilio, workspace_a):
    message = unconfirmed_sms(workspace_a, twilio)

    sent = post_signed(client, callback_url(twilio, message), status_params("SM5555", "sent"))
    delivered = post_signed(
        client, callback_url(twilio, message), status_params("SM5555", "delivered")
    )

    assert sent.status_code == delivered.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert (message.provider, message.provider_message_id) == ("twilio", "SM5555")
    assert message.from_address == "+447700900000"
    assert message.error == ""
    assert message.sent_at is not None and message.delivered_at is not None
    assert (message.unconfirmed_integration, message.next_attempt_at) == (None, None)


@pytest.mark.django_db
def test_an_undelivered_callback_settles_it_failed_with_twilios_reason(client, twilio, workspace_a):
    message = unconfirmed_sms(workspace_a, twilio)

    post_signed(
        client,
        callback_url(twilio, message),
        status_params("SM5555", "undelivered", ErrorCode="30003", ErrorMessage="Unreachable"),
    )

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.provider_message_id == "SM5555"
    assert message.error == "Twilio error 30003: Unreachable"


@pytest.mark.django_db
def test_a_callback_cannot_give_a_sid_to_a_message_that_has_one(client, twilio, workspace_a):
    message = outbound_sms(workspace_a, sid="SM9000")

    post_signed(client, callback_url(twilio, message), status_params("SM5555", "delivered"))

    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Message.Status.SENT, "SM9000")


@pytest.mark.django_db
def test_another_workspaces_integration_cannot_settle_a_message(
    client, twilio, workspace_a, workspace_b
):
    message = unconfirmed_sms(workspace_a, twilio)
    other = twilio_integration(workspace_b, token="twilio-auth-token-bravo", sid="AC9999")

    response = post_signed(
        client,
        callback_url(other, message),
        status_params("SM5555", "delivered"),
        token="twilio-auth-token-bravo",
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert (message.status, message.provider_message_id) == (Message.Status.FAILED, "")


# --- Email: inbound replayed, tracking out of order, forgeries ----------------------------------


def without_message_id(data: dict) -> dict:
    head = "".join(
        line + "\r\n"
        for line in data["headers"].split("\r\n")
        if line and not line.startswith("Message-ID")
    )
    return {**data, "headers": head}


@pytest.mark.django_db
def test_an_inbound_email_without_a_message_id_delivered_twice_is_stored_once(client, workspace_a):
    first = post_inbound(client, without_message_id(sendgrid_inbound()))
    second = post_inbound(client, without_message_id(sendgrid_inbound()))

    assert first.status_code == second.status_code == 200
    message = Message.objects.get()
    assert message.provider_message_id.endswith("@no-message-id.careops>")
    assert Conversation.objects.get().unread_count == 1


@pytest.mark.django_db
def test_two_different_emails_without_a_message_id_are_both_stored(client, workspace_a):
    post_inbound(client, without_message_id(sendgrid_inbound("Thursday suits me.")))
    post_inbound(client, without_message_id(sendgrid_inbound("Actually, Friday.")))

    assert Message.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("events", "final"),
    [
        (["delivered", "bounce"], Message.Status.DELIVERED),
        (["bounce", "delivered"], Message.Status.FAILED),
        (["bounce", "processed", "bounce"], Message.Status.FAILED),
    ],
)
def test_tracking_events_in_any_order_never_move_an_email_back(client, workspace_a, events, final):
    message = outbound_email(workspace_a)
    pid = message.provider_message_id

    for event in events:
        post_tracking(client, [sendgrid_event(event, pid, reason="550 5.1.1 No such user")])
    post_tracking(client, [sendgrid_event(e, pid, reason="x") for e in events])  # the batch again

    message.refresh_from_db()
    assert message.status == final
    if final == Message.Status.FAILED:
        assert message.error == "550 5.1.1 No such user"


def mailgun_signature(timestamp: str, token: str, key: str = SIGNING_KEY) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def mailgun_event(event: str, message_id: str, *, key: str = SIGNING_KEY) -> dict:
    timestamp, token = str(int(time.time())), "b" * 50
    return {
        "signature": {
            "timestamp": timestamp,
            "token": token,
            "signature": mailgun_signature(timestamp, token, key),
        },
        "event-data": {
            "event": event,
            "timestamp": float(timestamp),
            "id": "evt-1",
            "recipient": "client@example.org",
            "message": {"headers": {"message-id": message_id}},
        },
    }


def mailgun_sent(workspace) -> Message:
    message = outbound_email(workspace, message_id="<20251125.1@mg.alpha.example>")
    Message.objects.filter(pk=message.pk).update(provider="mailgun")
    return message


@pytest.mark.django_db
def test_a_mailgun_tracking_event_with_a_forged_signature_changes_nothing(client, workspace_a):
    message = mailgun_sent(workspace_a)
    forged = mailgun_event("failed", "20251125.1@mg.alpha.example", key="guessed-key")

    response = client.post(
        MAILGUN_TRACKING,
        json.dumps(forged),
        content_type="application/json",
        HTTP_AUTHORIZATION=AUTH,
    )

    assert response.status_code == 400
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


@pytest.mark.django_db
def test_a_signed_mailgun_delivery_event_replayed_later_changes_nothing_more(client, workspace_a):
    message = mailgun_sent(workspace_a)
    event = json.dumps(mailgun_event("delivered", "20251125.1@mg.alpha.example"))

    first = client.post(
        MAILGUN_TRACKING, event, content_type="application/json", HTTP_AUTHORIZATION=AUTH
    )
    message.refresh_from_db()
    delivered_at = message.delivered_at
    replay = client.post(
        MAILGUN_TRACKING, event, content_type="application/json", HTTP_AUTHORIZATION=AUTH
    )

    assert first.status_code == replay.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at == delivered_at


@pytest.mark.django_db
def test_an_old_signed_mailgun_inbound_email_replayed_is_stored_once(client, workspace_a):
    timestamp, token = str(int(time.time()) - A_DAY), "c" * 50
    mime = (
        raw_headers(message_id="<mg-old@mail.example.org>")
        + "Content-Type: text/plain; charset=utf-8\r\n\r\nRunning late, sorry.\r\n"
    )
    data = {
        "body-mime": mime,
        "recipient": "alpha-clinic@inbound.careops.local",
        "sender": "jane@example.org",
        "timestamp": timestamp,
        "token": token,
        "signature": mailgun_signature(timestamp, token),
    }

    responses = [client.post(MAILGUN_INBOUND, data, HTTP_AUTHORIZATION=AUTH) for _ in range(2)]

    assert [r.status_code for r in responses] == [200, 200]
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1

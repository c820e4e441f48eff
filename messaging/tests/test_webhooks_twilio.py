"""Twilio's webhooks: inbound texts and status callbacks, signed with the integration's token."""

from __future__ import annotations

import threading
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.db import connection, transaction
from django.urls import reverse
from twilio.request_validator import RequestValidator

from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import Channel, Conversation, Message
from messaging.services import reachable_channels
from messaging.tests.factories import ConversationFactory, IntegrationFactory, MessageFactory
from tests.processes import wait_for

TOKEN = "twilio-auth-token-alpha"
FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def twilio(workspace_a):
    return IntegrationFactory(
        workspace=workspace_a,
        channel=Channel.SMS,
        provider="twilio",
        from_address="+447700900000",
        credentials={"account_sid": "AC0000", "auth_token": TOKEN},
    )


@pytest.fixture
def twilio_b(workspace_b):
    return IntegrationFactory(
        workspace=workspace_b,
        channel=Channel.SMS,
        provider="twilio",
        from_address="+447700900999",
        credentials={"account_sid": "AC9999", "auth_token": "twilio-auth-token-bravo"},
    )


def sms_url(integration) -> str:
    return reverse("webhook-twilio-sms", args=[integration.webhook_key])


def status_url(integration) -> str:
    return reverse("webhook-twilio-status", args=[integration.webhook_key])


def post_signed(client, path: str, params: dict, token: str = TOKEN, **headers):
    """Post as Twilio does: a form, signed over the public URL it was configured with."""
    signature = RequestValidator(token).compute_signature(settings.SITE_URL + path, params)
    return client.post(
        path, urlencode(params), content_type=FORM, HTTP_X_TWILIO_SIGNATURE=signature, **headers
    )


def inbound(sid: str = "SM0001", body: str = "Can I move my appointment?", **extra) -> dict:
    return {
        "MessageSid": sid,
        "AccountSid": "AC0000",
        "From": "+447700900123",
        "To": "+447700900000",
        "Body": body,
        "NumMedia": "0",
        **extra,
    }


def outbound_sms(workspace, sid: str = "SM9000", status=Message.Status.SENT) -> Message:
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace))
    return MessageFactory(
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        channel=Channel.SMS,
        status=status,
        sender_kind=Message.SenderKind.STAFF,
        subject="",
        provider="twilio",
        provider_message_id=sid,
    )


def status_params(sid: str, status: str, **extra) -> dict:
    return {"MessageSid": sid, "MessageStatus": status, "AccountSid": "AC0000", **extra}


# --- Inbound texts ----------------------------------------------------------------------------


def test_signed_inbound_sms_is_stored_in_the_workspace_conversation_of_a_new_contact(
    client, twilio, workspace_a, django_assert_max_num_queries
):
    # integration; contact lookup by phone, insert and its automation event (savepoint pair);
    # conversation lookup and insert (savepoint pair); duplicate check; message insert and
    # conversation update (savepoint pair)
    with django_assert_max_num_queries(15):
        response = post_signed(client, sms_url(twilio), inbound())

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert b"<Response/>" in response.content
    contact = Contact.objects.get(workspace=workspace_a, phone="+447700900123")
    assert contact.source == Contact.Source.INBOUND_MESSAGE
    message = Message.objects.get()
    assert message.workspace == workspace_a
    assert message.conversation.contact == contact
    assert (message.direction, message.channel, message.status) == ("inbound", "sms", "received")
    assert message.body == "Can I move my appointment?"
    assert (message.provider, message.provider_message_id) == ("twilio", "SM0001")
    assert (message.from_address, message.to_address) == ("+447700900123", "+447700900000")
    conversation = message.conversation
    assert conversation.unread_count == 1
    assert conversation.last_inbound_channel == Channel.SMS


def test_inbound_sms_from_a_known_client_lands_in_their_existing_conversation(
    client, twilio, workspace_a
):
    contact = ContactFactory(workspace=workspace_a, phone="+447700900123")
    conversation = ConversationFactory(contact=contact)

    post_signed(client, sms_url(twilio), inbound())

    assert Contact.objects.filter(workspace=workspace_a).count() == 1
    assert Message.objects.get().conversation == conversation


def test_texting_in_is_consent_to_be_answered_but_not_marketing_consent(client, twilio):
    post_signed(client, sms_url(twilio), inbound())

    contact = Contact.objects.get()
    assert contact.sms_consent is False
    conversation = Conversation.objects.get(contact=contact)
    assert Channel.SMS in reachable_channels(contact, conversation)


def test_inbound_sms_with_an_invalid_signature_is_forbidden_and_stores_nothing(client, twilio):
    response = client.post(
        sms_url(twilio), urlencode(inbound()), content_type=FORM, HTTP_X_TWILIO_SIGNATURE="Zm9v"
    )

    assert response.status_code == 403
    assert not Message.objects.exists()
    assert not Contact.objects.exists()


def test_inbound_sms_without_a_signature_is_forbidden(client, twilio):
    response = client.post(sms_url(twilio), urlencode(inbound()), content_type=FORM)

    assert response.status_code == 403
    assert not Message.objects.exists()


def test_inbound_sms_with_tampered_parameters_is_forbidden(client, twilio):
    signature = RequestValidator(TOKEN).compute_signature(
        settings.SITE_URL + sms_url(twilio), inbound()
    )
    response = client.post(
        sms_url(twilio),
        urlencode(inbound(body="Please delete my records")),
        content_type=FORM,
        HTTP_X_TWILIO_SIGNATURE=signature,
    )

    assert response.status_code == 403
    assert not Message.objects.exists()


def test_inbound_sms_signed_with_another_workspaces_token_is_forbidden(client, twilio, twilio_b):
    response = post_signed(client, sms_url(twilio), inbound(), token="twilio-auth-token-bravo")

    assert response.status_code == 403
    assert not Message.objects.exists()


def test_inbound_sms_reaches_the_workspace_whose_key_is_in_the_url(
    client, twilio, twilio_b, workspace_b
):
    response = post_signed(client, sms_url(twilio_b), inbound(), token="twilio-auth-token-bravo")

    assert response.status_code == 200
    assert Message.objects.get().workspace == workspace_b


def test_inbound_sms_to_an_unknown_key_is_not_found(client, twilio):
    path = reverse("webhook-twilio-sms", args=["no-such-key"])

    response = post_signed(client, path, inbound())

    assert response.status_code == 404
    assert not Message.objects.exists()


def test_inbound_sms_to_a_deactivated_integration_is_not_found(client, twilio):
    twilio.is_active = False
    twilio.save()

    response = post_signed(client, sms_url(twilio), inbound())

    assert response.status_code == 404


def test_an_integration_without_an_auth_token_refuses_every_request(client, twilio):
    twilio.credentials = {"account_sid": "AC0000"}
    twilio.save()

    response = post_signed(client, sms_url(twilio), inbound())

    assert response.status_code == 403


def test_webhooks_answer_only_post(client, twilio):
    assert client.get(sms_url(twilio)).status_code == 405
    assert client.get(status_url(twilio)).status_code == 405


def test_a_duplicate_inbound_sms_webhook_stores_one_message(client, twilio):
    first = post_signed(client, sms_url(twilio), inbound())
    second = post_signed(client, sms_url(twilio), inbound())

    assert first.status_code == second.status_code == 200
    assert Message.objects.count() == 1
    assert Conversation.objects.get().unread_count == 1


def test_inbound_sms_from_a_number_that_is_not_a_phone_number_is_a_bad_request(client, twilio):
    response = post_signed(client, sms_url(twilio), inbound(From="not-a-number"))

    assert response.status_code == 400
    assert b"From" in response.content
    assert not Message.objects.exists()


def test_inbound_sms_without_a_message_sid_is_a_bad_request(client, twilio):
    params = inbound()
    del params["MessageSid"]

    response = post_signed(client, sms_url(twilio), params)

    assert response.status_code == 400
    assert not Message.objects.exists()


def test_inbound_mms_without_text_is_stored_with_a_placeholder(client, twilio):
    post_signed(client, sms_url(twilio), inbound(body="", NumMedia="1"))

    assert Message.objects.get().body == "(no text)"


def test_the_signature_is_checked_against_site_url_not_the_host_the_proxy_forwards(
    client, twilio, settings
):
    settings.SITE_URL = "https://app.careops.example"
    settings.ALLOWED_HOSTS = ["*"]
    path = sms_url(twilio)
    signed_for_internal_host = RequestValidator(TOKEN).compute_signature(
        "http://web:8000" + path, inbound()
    )

    refused = client.post(
        path,
        urlencode(inbound()),
        content_type=FORM,
        HTTP_HOST="web:8000",
        HTTP_X_TWILIO_SIGNATURE=signed_for_internal_host,
    )
    accepted = post_signed(client, path, inbound(), HTTP_HOST="web:8000")

    assert refused.status_code == 403
    assert accepted.status_code == 200


# --- Status callbacks ---------------------------------------------------------------------------


def test_sent_then_delivered_marks_the_message_delivered(client, twilio, workspace_a):
    message = outbound_sms(workspace_a, status=Message.Status.QUEUED)

    post_signed(client, status_url(twilio), status_params("SM9000", "sent"))
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.sent_at is not None

    response = post_signed(client, status_url(twilio), status_params("SM9000", "delivered"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at is not None


def test_a_late_sent_callback_does_not_undo_delivered(client, twilio, workspace_a):
    message = outbound_sms(workspace_a)
    post_signed(client, status_url(twilio), status_params("SM9000", "delivered"))

    response = post_signed(client, status_url(twilio), status_params("SM9000", "sent"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED


def test_a_duplicate_delivered_callback_changes_nothing(client, twilio, workspace_a):
    message = outbound_sms(workspace_a)
    post_signed(client, status_url(twilio), status_params("SM9000", "delivered"))
    message.refresh_from_db()
    first_delivered_at = message.delivered_at

    response = post_signed(client, status_url(twilio), status_params("SM9000", "delivered"))

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.delivered_at == first_delivered_at


def test_undelivered_with_an_error_code_marks_the_message_failed_with_the_error(
    client, twilio, workspace_a
):
    message = outbound_sms(workspace_a)

    response = post_signed(
        client, status_url(twilio), status_params("SM9000", "undelivered", ErrorCode="30003")
    )

    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.failed_at is not None
    assert "30003" in message.error
    assert message.next_attempt_at is None


def test_a_failure_reported_after_delivery_is_ignored(client, twilio, workspace_a):
    message = outbound_sms(workspace_a, status=Message.Status.DELIVERED)

    post_signed(client, status_url(twilio), status_params("SM9000", "failed", ErrorCode="30008"))

    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED
    assert message.error == ""


def test_a_status_callback_for_an_unknown_sid_answers_200(client, twilio):
    response = post_signed(client, status_url(twilio), status_params("SMnope", "delivered"))

    assert response.status_code == 200


def test_statuses_we_do_not_track_are_ignored(client, twilio, workspace_a):
    message = outbound_sms(workspace_a)

    for twilio_status in ("queued", "sending", "accepted", "read", "canceled"):
        response = post_signed(client, status_url(twilio), status_params("SM9000", twilio_status))
        assert response.status_code == 200

    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_status_callback_cannot_touch_another_workspaces_message(
    client, twilio, twilio_b, workspace_b
):
    other = outbound_sms(workspace_b, sid="SM9000")

    response = post_signed(client, status_url(twilio), status_params("SM9000", "delivered"))

    assert response.status_code == 200
    other.refresh_from_db()
    assert other.status == Message.Status.SENT


def test_a_status_callback_with_a_bad_signature_is_forbidden_and_changes_nothing(
    client, twilio, workspace_a
):
    message = outbound_sms(workspace_a)

    response = client.post(
        status_url(twilio),
        urlencode(status_params("SM9000", "failed")),
        content_type=FORM,
        HTTP_X_TWILIO_SIGNATURE="bad",
    )

    assert response.status_code == 403
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_a_status_callback_without_a_status_is_a_bad_request(client, twilio):
    response = post_signed(client, status_url(twilio), {"MessageSid": "SM9000"})

    assert response.status_code == 400


def lock_waiters() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'")
        return cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_a_status_callback_that_beats_the_senders_commit_waits_for_it(client, twilio, workspace_a):
    message = outbound_sms(workspace_a, sid="", status=Message.Status.QUEUED)
    locked, committed = threading.Event(), threading.Event()

    def sender():
        # A worker mid-send: it holds the row lock, has stored the SID, not yet committed.
        try:
            with transaction.atomic():
                Message.objects.select_for_update().get(pk=message.pk)
                Message.objects.filter(pk=message.pk).update(
                    status=Message.Status.SENT, provider="twilio", provider_message_id="SM7777"
                )
                locked.set()
                # Commit only once the callback is seen waiting on this lock.
                wait_for(lambda: lock_waiters() > 0, timeout=5, what="the callback to wait")
            committed.set()
        finally:
            connection.close()

    worker = threading.Thread(target=sender)
    worker.start()
    assert locked.wait(5)
    response = post_signed(
        client,
        f"{status_url(twilio)}?message={message.pk}",
        {"MessageSid": "SM7777", "MessageStatus": "delivered"},
    )
    worker.join(5)

    assert committed.is_set()
    assert response.status_code == 200
    message.refresh_from_db()
    assert message.status == Message.Status.DELIVERED

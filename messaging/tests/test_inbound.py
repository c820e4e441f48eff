"""The inbound services the webhooks call: routing an email to its workspace, storing texts,
and moving an outbound message's status only forward."""

from __future__ import annotations

import pytest
from anymail.inbound import AnymailInboundMessage
from django.utils import timezone
from structlog.testing import capture_logs

from careops.errors import InvalidInput
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.inbound import email_receive, message_status_update, sms_receive
from messaging.models import Channel, Message
from messaging.tests.factories import ConversationFactory, IntegrationFactory, MessageFactory


def email(
    to: str = "alpha-clinic@inbound.careops.local",
    sender: str = "Sam Client <sam@example.org>",
    text: str | None = "Hello there",
    html: str | None = None,
    message_id: str = "<m-1@example.org>",
    **headers,
) -> AnymailInboundMessage:
    return AnymailInboundMessage.construct(
        from_email=sender,
        to=to,
        subject="Question",
        text=text,
        html=html,
        headers={"Message-ID": message_id, **headers},
    )


def outbound(workspace, *, status=Message.Status.SENT, provider="postmark", pid="pm-1"):
    return MessageFactory(
        conversation=ConversationFactory(contact=ContactFactory(workspace=workspace)),
        direction=Message.Direction.OUTBOUND,
        status=status,
        sender_kind=Message.SenderKind.AUTOMATION,
        provider=provider,
        provider_message_id=pid,
    )


# --- email_receive ----------------------------------------------------------------------------


def test_an_email_to_a_workspaces_sending_address_reaches_that_workspace(workspace_a):
    IntegrationFactory(
        workspace=workspace_a,
        channel=Channel.EMAIL,
        provider="postmark",
        from_address="Hi@Alpha.example",
    )

    stored = email_receive(message=email(to="hi@alpha.example"), provider="postmark")

    assert stored.workspace == workspace_a
    assert stored.to_address == "hi@alpha.example"


def test_a_sending_address_two_workspaces_share_reaches_neither(workspace_a, workspace_b):
    for workspace in (workspace_a, workspace_b):
        IntegrationFactory(
            workspace=workspace, channel=Channel.EMAIL, from_address="desk@shared.example"
        )

    assert email_receive(message=email(to="desk@shared.example"), provider="postmark") is None
    assert not Message.objects.exists()


def test_the_inbound_domain_address_wins_over_other_recipients(workspace_a, workspace_b):
    message = email(
        to="someone@else.example, bravo-salon@inbound.careops.local",
        Cc="alpha-clinic@elsewhere.example",
    )

    stored = email_receive(message=message, provider="postmark")

    assert stored.workspace == workspace_b


def test_the_envelope_recipient_finds_a_bcc_address(workspace_a):
    message = email(to="friend@example.net")
    message.envelope_recipient = "alpha-clinic@inbound.careops.local"

    assert email_receive(message=message, provider="mailgun").workspace == workspace_a


def test_an_html_only_email_is_stored_as_text(workspace_a):
    message = email(text=None, html="<p>Can I <b>book</b> Friday?</p>")

    assert email_receive(message=message, provider="postmark").body == "Can I book Friday?"


def test_an_email_with_a_sender_that_is_not_an_address_is_dropped(workspace_a):
    with capture_logs() as logs:
        stored = email_receive(message=email(sender="undisclosed-recipients:;"), provider="x")

    assert stored is None
    assert not Contact.objects.exists()
    assert any(entry["event"].startswith("inbound_email_") for entry in logs)


@pytest.mark.parametrize(
    ("sender", "headers"),
    [
        ("Mail Delivery System <MAILER-DAEMON@mx.example.net>", {}),
        ("postmaster@example.net", {}),
        ("Newsletter <news@shop.example>", {"Auto-Submitted": "auto-generated"}),
    ],
)
def test_an_automated_email_from_a_stranger_makes_no_contact(workspace_a, sender, headers):
    stored = email_receive(message=email(sender=sender, **headers), provider="x")

    assert stored is None
    assert not Contact.objects.exists()


def test_a_known_clients_automatic_reply_still_lands_in_their_thread(workspace_a):
    ContactFactory(workspace=workspace_a, email="sam@example.org")

    stored = email_receive(
        message=email(**{"Auto-Submitted": "auto-replied", "text": "I am on holiday."}),
        provider="x",
    )

    assert stored is not None
    assert stored.body == "I am on holiday."


def test_an_inbound_email_does_not_grant_email_marketing_consent(workspace_a):
    email_receive(message=email(), provider="postmark")

    assert Contact.objects.get().email_consent is False


# --- sms_receive ------------------------------------------------------------------------------


def test_a_national_number_is_stored_in_e164(workspace_a, settings):
    settings.PHONE_DEFAULT_REGION = "GB"
    integration = IntegrationFactory(
        workspace=workspace_a, channel=Channel.SMS, provider="twilio", from_address="+447700900000"
    )

    message, created = sms_receive(
        integration=integration,
        from_number="07700 900123",
        to_number="+447700900000",
        body=" Hi ",
        sid="SM1",
    )

    assert created
    assert message.from_address == "+447700900123"
    assert message.body == "Hi"
    assert Contact.objects.get().phone == "+447700900123"


def test_an_sms_without_a_sender_is_invalid(workspace_a):
    integration = IntegrationFactory(workspace=workspace_a, channel=Channel.SMS, provider="twilio")

    with pytest.raises(InvalidInput) as exc:
        sms_receive(integration=integration, from_number="", to_number="", body="x", sid="SM1")

    assert "From" in exc.value.fields


# --- message_status_update --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "reported", "end"),
    [
        (Message.Status.QUEUED, Message.Status.SENT, Message.Status.SENT),
        (Message.Status.QUEUED, Message.Status.DELIVERED, Message.Status.DELIVERED),
        (Message.Status.SENT, Message.Status.DELIVERED, Message.Status.DELIVERED),
        (Message.Status.SENT, Message.Status.FAILED, Message.Status.FAILED),
        (Message.Status.DELIVERED, Message.Status.SENT, Message.Status.DELIVERED),
        (Message.Status.DELIVERED, Message.Status.FAILED, Message.Status.DELIVERED),
        (Message.Status.FAILED, Message.Status.DELIVERED, Message.Status.FAILED),
        (Message.Status.FAILED, Message.Status.SENT, Message.Status.FAILED),
    ],
)
def test_a_status_only_moves_forward(workspace_a, start, reported, end):
    message = outbound(workspace_a, status=start)

    message_status_update(provider="postmark", provider_message_id="pm-1", status=reported)

    message.refresh_from_db()
    assert message.status == end


def test_a_provider_failure_is_not_retried(workspace_a):
    message = outbound(workspace_a)
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())

    message_status_update(
        provider="postmark", provider_message_id="pm-1", status="failed", error="Hard bounce"
    )

    message.refresh_from_db()
    assert (message.status, message.error, message.next_attempt_at) == (
        "failed",
        "Hard bounce",
        None,
    )


def test_without_a_workspace_the_message_is_found_in_any_workspace(workspace_a, workspace_b):
    message = outbound(workspace_b)

    updated = message_status_update(
        provider="postmark", provider_message_id="pm-1", status="delivered"
    )

    assert updated == message
    assert updated.status == Message.Status.DELIVERED


def test_a_workspace_limits_the_lookup_to_its_messages(workspace_a, workspace_b):
    outbound(workspace_b)

    assert (
        message_status_update(
            workspace=workspace_a, provider="postmark", provider_message_id="pm-1", status="sent"
        )
        is None
    )


def test_an_inbound_message_never_takes_a_delivery_status(workspace_a):
    MessageFactory(
        conversation=ConversationFactory(contact=ContactFactory(workspace=workspace_a)),
        provider="postmark",
        provider_message_id="pm-1",
    )

    assert (
        message_status_update(provider="postmark", provider_message_id="pm-1", status="delivered")
        is None
    )


def test_an_empty_provider_id_matches_nothing(workspace_a):
    outbound(workspace_a, pid="")

    assert message_status_update(provider="postmark", provider_message_id="", status="sent") is None


def test_a_very_long_display_name_is_shortened_to_fit(workspace_a):
    stored = email_receive(message=email(sender=f"{'N' * 300} <sam@example.org>"), provider="x")

    assert len(stored.conversation.contact.name) == 200

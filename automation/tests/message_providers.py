"""The workspace's email and SMS providers pointed at the stand-in (messaging/tests/stand_in.py),
and what the stand-in was asked to send, for the automation tests."""

from __future__ import annotations

import base64

from messaging.models import Channel, Integration
from messaging.tests.factories import IntegrationFactory

RESEND = "/resend/emails"
TWILIO_SID = "AC1"
TWILIO = f"/twilio/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"


def providers_for(workspace, stand_in) -> tuple[Integration, Integration]:
    """Resend for email and Twilio for SMS, both talking to the stand-in."""
    email = IntegrationFactory(
        workspace=workspace,
        provider="resend",
        channel=Channel.EMAIL,
        priority=1,
        from_address="hello@alpha.example",
        credentials={"api_key": "re_live_key_1234", "api_url": stand_in.url + "/resend/"},
    )
    sms = IntegrationFactory(
        workspace=workspace,
        provider="twilio",
        channel=Channel.SMS,
        priority=1,
        from_address="+447700900999",
        credentials={
            "account_sid": TWILIO_SID,
            "auth_token": "token",
            "api_base_url": f"{stand_in.url}/twilio",
        },
    )
    return email, sms


def emails_sent(stand_in) -> list[dict]:
    """The emails the stand-in received (Resend's JSON payloads)."""
    return [r.json for r in stand_in.requests_to(RESEND)]


def texts_sent(stand_in) -> list[dict]:
    """The SMS the stand-in received (Twilio's form fields)."""
    return [r.form for r in stand_in.requests_to(TWILIO)]


def attachment_text(attachment: dict) -> str:
    return base64.b64decode(attachment["content"]).decode()

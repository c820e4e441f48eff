"""Providers failing, slow or answering garbage, through the real anymail and twilio clients
against the local stand-in: every message ends sent once, or failed with a reason staff can read.

test_delivery.py covers the answered failures (5xx, 4xx, a connection refused: the next provider,
then retries with backoff). Here: the answers that are lost (no answer within the client's
timeout, one cut short, a 2xx that cannot be read), after which the provider may have taken the
message (see messaging.delivery's docstring).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from messaging import delivery, providers
from messaging.models import Channel, Message
from messaging.providers import SendFailed
from messaging.services import message_retry, message_send
from messaging.tasks import messages_retry_due
from messaging.tests.factories import (
    resend_on,
    sendgrid_on,
    twilio_on,
)
from messaging.tests.stand_in import RESEND, SENDGRID, Answer, twilio_path

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

TIMEOUT = 0.5  # the clients' timeout in these tests (providers.SEND_TIMEOUT is 15 s)
SLOW = 1.5  # how late the stand-in answers when it is slow: well past TIMEOUT


@pytest.fixture(autouse=True)
def short_timeout(monkeypatch):
    monkeypatch.setattr(providers, "SEND_TIMEOUT", TIMEOUT)


@pytest.fixture
def sent(conversation, django_capture_on_commit_callbacks):
    """sent(channel) queues a message; its delivery runs after commit, as in production."""

    def _send(channel=Channel.EMAIL) -> Message:
        with django_capture_on_commit_callbacks(execute=True):
            message = message_send(
                conversation=conversation,
                body="See you on Monday at 10.",
                subject="Your visit" if channel == Channel.EMAIL else "",
                channel=channel,
            )
        message.refresh_from_db()
        return message

    return _send


def sweep_at(moment) -> int:
    with time_machine.travel(moment, tick=False):
        return messages_retry_due()


# --- Timeouts: the client gives up, the provider may have taken it ------------------------------


def test_every_provider_call_gives_up_after_the_send_timeout(workspace_a, stand_in, sent):
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, Answer(delay=SLOW))

    started = time.monotonic()
    message = sent()

    assert time.monotonic() - started < SLOW
    assert message.status == Message.Status.FAILED
    assert f"no answer within {TIMEOUT} s (ReadTimeout)" in message.error


def test_a_resend_timeout_goes_to_no_other_provider_and_the_retry_reuses_its_key(
    workspace_a, stand_in, sent
):
    resend = resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, Answer(delay=SLOW))  # Resend takes it; its answer comes too late
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        message = sent()

    assert message.status == Message.Status.FAILED
    assert message.error.startswith("resend: no answer within")
    assert "may have been sent" in message.error
    assert message.next_attempt_at == start + timedelta(minutes=1)
    assert (message.unconfirmed_integration, message.unconfirmed_key) == (
        resend,
        f"careops-message-{message.pk}-1",
    )
    assert stand_in.requests_to(SENDGRID) == []  # it would have been a second copy

    assert sweep_at(start + timedelta(minutes=2)) == 1

    message.refresh_from_db()
    first, retry = stand_in.requests_to(RESEND)
    assert first.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"]
    assert len(stand_in.sent_to(RESEND)) == 1  # Resend answered the retry from its memory
    assert stand_in.requests_to(SENDGRID) == []
    assert message.status == Message.Status.SENT
    assert message.provider == "resend"
    assert message.provider_message_id == "stand-in-1"  # the email Resend took the first time
    assert message.attempts == 2
    assert (message.unconfirmed_integration, message.unconfirmed_key) == (None, "")
    assert message.error == ""


def test_a_resend_timeout_where_resend_took_nothing_is_sent_by_the_retry(
    workspace_a, stand_in, sent
):
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, Answer(503, {"message": "overloaded"}, delay=SLOW))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = sent()
    assert message.status == Message.Status.FAILED

    assert sweep_at(start + timedelta(minutes=2)) == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(stand_in.sent_to(RESEND)) == 1


def test_after_a_lost_answer_resend_failing_again_keeps_the_fallback_out_until_the_last_attempt(
    workspace_a, stand_in, sent, settings
):
    settings.MESSAGE_MAX_ATTEMPTS = 3
    resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(
        RESEND,
        Answer(503, {"message": "overloaded"}, delay=SLOW),  # too late to tell it took nothing
        (503, {"message": "down"}),
        (503, {"message": "down"}),
    )
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        message = sent()

    now += timedelta(minutes=1)
    with time_machine.travel(now, tick=False):
        assert delivery.message_deliver(message.pk) == "retrying"
    message.refresh_from_db()
    assert message.error == (
        'resend: HTTP 503 {"message": "down"}; an earlier attempt may have been sent; '
        "retried through this integration alone, which knows a repeat by its idempotency key"
    )
    assert message.next_attempt_at == now + timedelta(minutes=5)

    now += timedelta(minutes=5)
    with time_machine.travel(now, tick=False):
        assert delivery.message_deliver(message.pk) == "failed"
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 3
    assert message.next_attempt_at is None
    assert message.error.endswith("; an earlier attempt may have been sent; out of attempts")
    assert stand_in.requests_to(SENDGRID) == []
    keys = {r.headers["Idempotency-Key"] for r in stand_in.requests_to(RESEND)}
    assert keys == {f"careops-message-{message.pk}-1"}


def test_staff_retrying_a_message_whose_answer_was_lost_does_not_send_it_twice(
    workspace_a, stand_in, sent, settings, django_capture_on_commit_callbacks
):
    settings.MESSAGE_MAX_ATTEMPTS = 1
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, Answer(delay=SLOW))
    message = sent()
    assert (message.status, message.next_attempt_at) == (Message.Status.FAILED, None)

    with django_capture_on_commit_callbacks(execute=True):
        message_retry(message=message)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(stand_in.sent_to(RESEND)) == 1


def test_a_lost_answer_from_an_integration_since_switched_off_is_left_to_staff(
    workspace_a, stand_in, sent, django_capture_on_commit_callbacks
):
    resend = resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, Answer(delay=SLOW))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = sent()
    resend.is_active = False
    resend.save()

    assert sweep_at(start + timedelta(minutes=2)) == 1

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.next_attempt_at is None
    assert "no longer active" in message.error
    assert stand_in.requests_to(SENDGRID) == []

    with django_capture_on_commit_callbacks(execute=True):
        message_retry(message=message)  # staff: the client did not get it

    message.refresh_from_db()
    assert (message.status, message.provider) == (Message.Status.SENT, "sendgrid")


def test_a_sendgrid_timeout_fails_the_message_without_fallback_or_retry(
    workspace_a, stand_in, sent
):
    sendgrid_on(stand_in, workspace_a, priority=1)
    resend_on(stand_in, workspace_a, priority=2)
    stand_in.script(SENDGRID, Answer(202, delay=SLOW))  # SendGrid took it
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        message = sent()

    assert message.status == Message.Status.FAILED
    assert message.error.startswith("sendgrid: no answer within")
    assert "may have been sent" in message.error
    assert "not retried automatically, so that it is not sent twice" in message.error
    assert message.next_attempt_at is None
    assert message.unconfirmed_key == ""  # SendGrid knows no idempotency key
    assert stand_in.requests_to(RESEND) == []
    assert sweep_at(start + timedelta(hours=6)) == 0
    assert len(stand_in.sent_to(SENDGRID)) == 1


def test_a_twilio_timeout_is_not_sent_through_the_second_account_nor_retried(
    workspace_a, stand_in, sent
):
    primary = twilio_on(stand_in, workspace_a)
    twilio_on(stand_in, workspace_a, priority=2, prefix="twilio-b", sid="AC2")
    stand_in.script(twilio_path(), Answer(201, delay=SLOW))
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        message = sent(Channel.SMS)

    assert message.status == Message.Status.FAILED
    assert message.error.startswith("twilio: no answer within")
    assert message.next_attempt_at is None
    assert message.unconfirmed_integration == primary
    assert stand_in.requests_to(twilio_path("twilio-b", "AC2")) == []
    assert sweep_at(start + timedelta(hours=6)) == 0
    assert len(stand_in.sent_to(twilio_path())) == 1


# --- Garbage: a yes we cannot read ------------------------------------------------------------


GARBLED = {
    "not JSON": Answer(200, raw=b"<html><body>OK</body></html>"),
    "JSON of another shape": Answer(200, {"ok": True}),
    "cut short": Answer(200, truncated=True),
    "empty": Answer(200, raw=b""),
}


@pytest.mark.parametrize("answer", GARBLED.values(), ids=GARBLED.keys())
def test_resend_answering_garbage_is_retried_through_resend_alone_and_sent_once(
    workspace_a, stand_in, sent, answer
):
    resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, answer)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = sent()

    assert message.status == Message.Status.FAILED
    assert "may have been sent" in message.error
    assert message.next_attempt_at is not None
    assert stand_in.requests_to(SENDGRID) == []

    assert sweep_at(start + timedelta(minutes=2)) == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.provider == "resend"
    assert len(stand_in.sent_to(RESEND)) == 1
    assert stand_in.requests_to(SENDGRID) == []


TWILIO_GARBLED = {
    "not JSON": Answer(201, raw=b"<Response>queued</Response>"),
    "no SID": Answer(201, {"status": "queued"}),
    "cut short": Answer(201, truncated=True),
}


@pytest.mark.parametrize("answer", TWILIO_GARBLED.values(), ids=TWILIO_GARBLED.keys())
def test_twilio_answering_garbage_fails_the_text_without_sending_it_again(
    workspace_a, stand_in, sent, answer
):
    twilio_on(stand_in, workspace_a)
    twilio_on(stand_in, workspace_a, priority=2, prefix="twilio-b", sid="AC2")
    stand_in.script(twilio_path(), answer)

    message = sent(Channel.SMS)

    assert message.status == Message.Status.FAILED
    assert message.error.startswith("twilio: ")
    assert "may have been sent" in message.error
    assert message.next_attempt_at is None
    assert stand_in.requests_to(twilio_path("twilio-b", "AC2")) == []
    assert len(stand_in.sent_to(twilio_path())) == 1


# --- Answered failures, for Twilio as for email (test_delivery.py) ------------------------------


@pytest.mark.parametrize("status", [500, 503])
def test_a_twilio_outage_falls_back_to_the_second_account_and_sends_once(
    workspace_a, stand_in, sent, status
):
    twilio_on(stand_in, workspace_a)
    twilio_on(stand_in, workspace_a, priority=2, prefix="twilio-b", sid="AC2")
    stand_in.script(twilio_path(), (status, {"code": 20500, "message": "Internal", "status": 500}))

    message = sent(Channel.SMS)

    assert message.status == Message.Status.SENT
    assert stand_in.sent_to(twilio_path()) == []
    assert len(stand_in.sent_to(twilio_path("twilio-b", "AC2"))) == 1


def test_a_twilio_outage_is_retried_with_backoff_and_sent_once(workspace_a, stand_in, sent):
    twilio_on(stand_in, workspace_a)
    stand_in.script(twilio_path(), (503, {"code": 20503, "message": "Unavailable", "status": 503}))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = sent(Channel.SMS)
    assert message.status == Message.Status.FAILED
    assert message.error.startswith("twilio: HTTP 503 error 20503")
    assert message.next_attempt_at == start + timedelta(minutes=1)

    assert sweep_at(start + timedelta(minutes=2)) == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(stand_in.sent_to(twilio_path())) == 1


# --- A worker dying after the provider took the message (more in test_delivery_crash.py) --------


def test_a_worker_dying_after_resend_took_the_email_does_not_send_it_twice(
    workspace_a, stand_in, sent, monkeypatch
):
    resend_on(stand_in, workspace_a)

    def die(*args, **kwargs):
        raise RuntimeError("the worker died before recording the send")

    start = timezone.now()
    with monkeypatch.context() as patched, time_machine.travel(start, tick=False):
        patched.setattr(delivery, "_succeed", die)
        message = sent()
    # Marked as being sent before Resend was called; the answer was never recorded.
    assert (message.status, message.attempts, message.sending_since) == ("queued", 0, start)

    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert delivery.message_deliver(message.pk) == "skipped"  # it may still be sending
    past_the_limit = start + delivery.sending_limit() + timedelta(seconds=1)
    with time_machine.travel(past_the_limit, tick=False):
        assert delivery.message_deliver(message.pk) == "retrying"  # as a lost answer
    assert sweep_at(past_the_limit + timedelta(minutes=1)) == 1

    first, redo = stand_in.requests_to(RESEND)
    assert first.headers["Idempotency-Key"] == redo.headers["Idempotency-Key"]
    assert len(stand_in.sent_to(RESEND)) == 1
    message.refresh_from_db()
    assert (message.status, message.attempts) == (Message.Status.SENT, 2)
    assert message.provider_message_id == "stand-in-1"


# --- check() ------------------------------------------------------------------------------------


def test_checking_a_provider_that_does_not_answer_gives_up_after_the_timeout(workspace_a, stand_in):
    integration = resend_on(stand_in, workspace_a)
    stand_in.script("/resend/domains", Answer(delay=SLOW))

    started = time.monotonic()
    with pytest.raises(SendFailed, match="ReadTimeout"):
        providers.sender_for_integration(integration).check()

    assert time.monotonic() - started < SLOW

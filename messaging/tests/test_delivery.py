"""Delivery through the real anymail and twilio clients, against a local HTTP stand-in."""

from __future__ import annotations

import contextlib
import json
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone

from careops.celery import app as celery_app
from contacts.tests.factories import ContactFactory
from messaging import delivery
from messaging.models import Channel, Integration, Message
from messaging.services import message_send
from messaging.tasks import message_deliver, messages_retry_due
from messaging.tasks import messages_deliver as messages_deliver_task
from messaging.tests.factories import (
    ConversationFactory,
    IntegrationFactory,
    resend_on,
    sendgrid_on,
    twilio_on,
)
from messaging.tests.stand_in import RESEND, SENDGRID, twilio_path

pytestmark = [
    pytest.mark.django_db,
    # anymail warns that it no longer officially supports SendGrid; we use it knowingly.
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

DEAD_URL = "http://127.0.0.1:1/"  # nothing listens on port 1


def send(conversation, channel=Channel.EMAIL, django_capture_on_commit_callbacks=None, **kw):
    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(
            conversation=conversation,
            body="See you on Monday at 10.",
            subject="Your visit" if channel == Channel.EMAIL else "",
            channel=channel,
            **kw,
        )
    message.refresh_from_db()
    return message


@pytest.fixture
def sent(conversation, django_capture_on_commit_callbacks):
    """send(channel=...) queues a message in the conversation; delivery runs after commit."""

    def _send(channel=Channel.EMAIL):
        return send(conversation, channel, django_capture_on_commit_callbacks)

    return _send


# --- Email ------------------------------------------------------------------------------------


def test_email_goes_out_through_resend_with_subject_body_sender_and_reply_to(
    workspace_a, stand_in, sent
):
    integration = resend_on(stand_in, workspace_a)

    message = sent()

    (request,) = stand_in.requests_to(RESEND)
    assert request.headers["Authorization"] == "Bearer re_live_key_1234"
    assert request.headers["Idempotency-Key"] == f"careops-message-{message.pk}-1"
    assert request.json["to"] == ["dana@example.org"]
    assert request.json["from"] == "Alpha Clinic <hello@alpha.example>"
    assert request.json["subject"] == "Your visit"
    assert request.json["text"] == "See you on Monday at 10."
    assert request.json["reply_to"] == ["alpha-clinic@inbound.careops.local"]
    assert message.status == Message.Status.SENT
    assert message.provider == "resend"
    assert message.provider_message_id.startswith("stand-in-")
    assert message.from_address == "hello@alpha.example"
    assert message.attempts == 1
    assert message.sent_at is not None
    assert message.next_attempt_at is None
    integration.refresh_from_db()
    assert integration.last_success_at is not None


def test_resend_failing_with_503_falls_back_to_sendgrid(workspace_a, stand_in, sent):
    primary = resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, (503, {"message": "Service unavailable"}))

    message = sent()

    assert len(stand_in.requests_to(RESEND)) == 1
    (request,) = stand_in.requests_to(SENDGRID)
    assert request.headers["Authorization"] == "Bearer SG.secret-key"
    assert request.json["personalizations"][0]["to"] == [{"email": "dana@example.org"}]
    assert request.json["subject"] == "Your visit"
    assert message.status == Message.Status.SENT
    assert message.provider == "sendgrid"
    assert message.provider_message_id  # anymail's generated id, sent as a custom arg
    primary.refresh_from_db()
    assert "HTTP 503" in primary.last_error
    assert primary.last_error_at is not None


def test_mailgun_and_postmark_send_through_their_anymail_backends(workspace_a, stand_in, sent):
    IntegrationFactory(
        workspace=workspace_a,
        provider="mailgun",
        priority=1,
        credentials={
            "api_key": "mg-key",
            "sender_domain": "mg.alpha.example",
            "api_url": stand_in.url + "/mailgun/v3/",
        },
    )
    IntegrationFactory(
        workspace=workspace_a,
        provider="postmark",
        priority=2,
        credentials={"api_key": "pm-token", "api_url": stand_in.url + "/postmark/"},
    )
    stand_in.script("/mailgun/v3/mg.alpha.example/messages", (502, {"message": "Bad gateway"}))
    stand_in.script(
        "/postmark/email",
        (200, {"To": "dana@example.org", "MessageID": "pm-1", "ErrorCode": 0, "Message": "OK"}),
    )

    message = sent()

    assert len(stand_in.requests_to("/mailgun/v3/mg.alpha.example/messages")) == 1
    (request,) = stand_in.requests_to("/postmark/email")
    assert request.headers["X-Postmark-Server-Token"] == "pm-token"
    assert request.json["To"] == "dana@example.org"
    assert request.json["TextBody"] == "See you on Monday at 10."
    assert message.status == Message.Status.SENT
    assert message.provider == "postmark"
    assert message.provider_message_id == "pm-1"
    assert message.error == ""


@pytest.mark.parametrize("status", [401, 403, 429, 500])
def test_a_broken_account_or_an_overloaded_provider_moves_on_to_the_next(
    workspace_a, stand_in, sent, status
):
    resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, (status, {"message": "API key is invalid"}))

    message = sent()

    assert message.status == Message.Status.SENT
    assert message.provider == "sendgrid"


def test_a_network_error_moves_on_to_the_next_provider(workspace_a, stand_in, sent):
    IntegrationFactory(
        workspace=workspace_a,
        provider="resend",
        priority=1,
        credentials={"api_key": "re_key", "api_url": DEAD_URL},
    )
    sendgrid_on(stand_in, workspace_a)

    message = sent()

    assert message.status == Message.Status.SENT
    assert message.provider == "sendgrid"
    assert Integration.objects.get(priority=1).last_error.startswith("ConnectionError")


def test_all_providers_failing_leaves_it_failed_with_every_error_and_a_retry_time(
    workspace_a, stand_in, sent
):
    resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, (503, {"message": "down"}))
    stand_in.script(SENDGRID, (500, {"errors": [{"message": "oops"}]}))

    with time_machine.travel(timezone.now(), tick=False):
        message = sent()

        assert message.status == Message.Status.FAILED
        assert message.error.startswith("resend: HTTP 503")
        assert "; sendgrid: HTTP 500" in message.error
        assert message.attempts == 1
        assert message.failed_at == timezone.now()
        assert message.next_attempt_at == timezone.now() + timedelta(minutes=1)


def test_the_retry_sweep_sends_a_failed_message_once_its_time_comes(workspace_a, stand_in, sent):
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, (503, {"message": "down"}))
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        message = sent()
    assert message.status == Message.Status.FAILED

    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert messages_retry_due() == 0  # not yet due
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert messages_retry_due() == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 2
    assert message.error == ""
    first, second = stand_in.requests_to(RESEND)
    assert first.headers["Idempotency-Key"] != second.headers["Idempotency-Key"]


def test_retries_back_off_and_stop_after_the_last_attempt(workspace_a, stand_in, sent, settings):
    settings.MESSAGE_MAX_ATTEMPTS = 3
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, *[(503, {"message": "down"})] * 3)
    now = timezone.now()
    with time_machine.travel(now, tick=False):
        message = sent()
    assert message.next_attempt_at == now + timedelta(minutes=1)

    now += timedelta(minutes=1)
    with time_machine.travel(now, tick=False):
        assert message_deliver(message.pk) == "retrying"
    message.refresh_from_db()
    assert (message.attempts, message.next_attempt_at) == (2, now + timedelta(minutes=5))

    now += timedelta(minutes=5)
    with time_machine.travel(now, tick=False):
        assert message_deliver(message.pk) == "failed"
        assert messages_retry_due() == 0
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.attempts == 3
    assert message.next_attempt_at is None
    assert message.error.startswith("resend: HTTP 503")


def test_a_refused_recipient_fails_at_once_without_fallback_or_retry(workspace_a, stand_in, sent):
    primary = resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(
        RESEND,
        (422, {"name": "validation_error", "message": "Invalid `to` field. Use email@x.com"}),
    )

    message = sent()

    assert message.status == Message.Status.FAILED
    assert message.error.startswith("resend: HTTP 422")
    assert "Invalid `to` field" in message.error
    assert message.next_attempt_at is None
    assert stand_in.requests_to(SENDGRID) == []
    primary.refresh_from_db()
    assert primary.last_error == ""  # the recipient's fault, not the integration's


def test_a_400_about_the_sender_domain_is_the_integrations_fault_and_falls_back(
    workspace_a, stand_in, sent
):
    resend_on(stand_in, workspace_a)
    sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, (400, {"message": "The alpha.example domain is not verified."}))

    message = sent()

    assert message.status == Message.Status.SENT
    assert message.provider == "sendgrid"


def test_email_without_integrations_goes_through_the_platform_email_backend(sent):
    message = sent()

    assert message.status == Message.Status.SENT
    assert message.provider == "default"
    (email,) = mail.outbox  # pytest-django's locmem backend
    assert email.to == ["dana@example.org"]
    assert email.subject == "Your visit"
    assert email.body == "See you on Monday at 10."
    assert email.reply_to == ["alpha-clinic@inbound.careops.local"]


def test_inactive_integrations_are_not_used(workspace_a, stand_in, sent):
    resend_on(stand_in, workspace_a, is_active=False)
    sendgrid_on(stand_in, workspace_a)

    message = sent()

    assert stand_in.requests_to(RESEND) == []
    assert message.provider == "sendgrid"


def test_a_console_integration_where_console_is_not_allowed_refuses_to_pretend(
    workspace_a, stand_in, sent, settings
):
    settings.MESSAGING_ALLOW_CONSOLE = False
    IntegrationFactory(workspace=workspace_a, provider="console", priority=1)

    message = sent()

    assert message.status == Message.Status.FAILED
    assert "console providers are disabled" in message.error
    assert mail.outbox == []


# --- SMS ----------------------------------------------------------------------------------------


def test_sms_goes_out_through_twilio_with_a_status_callback(workspace_a, stand_in, sent, settings):
    integration = twilio_on(stand_in, workspace_a)

    message = sent(Channel.SMS)

    (request,) = stand_in.requests_to(twilio_path("twilio-a", "AC1"))
    assert request.form["To"] == "+447700900123"
    assert request.form["From"] == "+447700900999"
    assert request.form["Body"] == "See you on Monday at 10."
    assert request.form["StatusCallback"] == (
        f"{settings.SITE_URL}/webhooks/twilio/{integration.webhook_key}/status?message={message.pk}"
    )
    assert request.headers["Authorization"].startswith("Basic ")
    assert message.status == Message.Status.SENT
    assert message.provider == "twilio"
    assert message.provider_message_id.startswith("SM")
    assert message.from_address == "+447700900999"


def test_twilio_21211_invalid_number_fails_at_once_without_retry(workspace_a, stand_in, sent):
    twilio_on(stand_in, workspace_a)
    twilio_on(stand_in, workspace_a, priority=2, prefix="twilio-b", sid="AC2")
    stand_in.script(
        twilio_path("twilio-a", "AC1"),
        (
            400,
            {
                "code": 21211,
                "message": "The 'To' number is not a valid phone number.",
                "status": 400,
            },
        ),
    )

    message = sent(Channel.SMS)

    assert message.status == Message.Status.FAILED
    assert message.error.startswith("twilio: HTTP 400 error 21211")
    assert message.next_attempt_at is None
    assert stand_in.requests_to(twilio_path("twilio-b", "AC2")) == []


def test_twilio_primary_failing_falls_back_to_the_second_twilio_account(
    workspace_a, stand_in, sent
):
    primary = twilio_on(stand_in, workspace_a)
    twilio_on(stand_in, workspace_a, priority=2, prefix="twilio-b", sid="AC2")
    stand_in.script(
        twilio_path("twilio-a", "AC1"),
        (401, {"code": 20003, "message": "Authenticate", "status": 401}),
    )

    message = sent(Channel.SMS)

    assert message.status == Message.Status.SENT
    assert len(stand_in.requests_to(twilio_path("twilio-b", "AC2"))) == 1
    primary.refresh_from_db()
    assert "error 20003" in primary.last_error


def test_sms_without_integrations_goes_to_the_console_provider(sent, settings):
    settings.SMS_DEFAULT_PROVIDER = "console"

    message = sent(Channel.SMS)

    assert message.status == Message.Status.SENT
    assert message.provider == "console"


def test_platform_twilio_sends_sms_for_workspaces_without_integrations(stand_in, sent, settings):
    settings.SMS_DEFAULT_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID = "AC_platform"
    settings.TWILIO_AUTH_TOKEN = "tok"
    settings.TWILIO_FROM_NUMBER = "+447700900000"
    settings.TWILIO_API_BASE_URL = stand_in.url + "/platform"

    message = sent(Channel.SMS)

    (request,) = stand_in.requests_to(twilio_path("platform", "AC_platform"))
    assert request.form["From"] == "+447700900000"
    assert "StatusCallback" not in request.form  # no integration, no webhook key
    assert message.status == Message.Status.SENT
    assert message.provider == "twilio"


# --- Idempotency and outages --------------------------------------------------------------------


def test_delivering_twice_sends_once(workspace_a, stand_in, sent):
    resend_on(stand_in, workspace_a)
    message = sent()

    assert message_deliver(message.pk) == "skipped"

    assert len(stand_in.requests_to(RESEND)) == 1
    message.refresh_from_db()
    assert message.attempts == 1


@pytest.mark.django_db(transaction=True)
def test_a_message_another_worker_is_sending_is_skipped(workspace_a, stand_in, sent):
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, (503, {"message": "down"}))
    message = sent()  # failed; make it due again
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())

    locked, release = threading.Event(), threading.Event()

    def other_worker():
        with transaction.atomic():
            Message.objects.select_for_update().get(pk=message.pk)
            locked.set()
            release.wait(10)
        connection.close()

    worker = threading.Thread(target=other_worker)
    worker.start()
    locked.wait(10)
    try:
        assert delivery.message_deliver(message.pk) == "skipped"
    finally:
        release.set()
        worker.join()
    assert len(stand_in.requests_to(RESEND)) == 1


@contextlib.contextmanager
def broker_outage():
    """Publishing goes to a broker nobody listens on, as when Redis is down."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.task_always_eager
    conf.broker_url, conf.task_always_eager = "redis://127.0.0.1:1/0", False
    celery_app._pool = celery_app.amqp._producer_pool = None
    try:
        yield
    finally:
        conf.broker_url, conf.task_always_eager = saved
        celery_app._pool = celery_app.amqp._producer_pool = None


def test_a_broker_outage_at_send_time_leaves_it_queued_and_the_sweep_sends_it(
    workspace_a, stand_in, sent
):
    resend_on(stand_in, workspace_a)
    start = timezone.now()
    with time_machine.travel(start, tick=False), broker_outage():
        message = sent()
    assert message.status == Message.Status.QUEUED
    assert stand_in.requests_to(RESEND) == []

    with time_machine.travel(start + timedelta(seconds=30), tick=False):
        assert messages_retry_due() == 0  # the publish may yet come through
    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert messages_retry_due() == 1

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(stand_in.requests_to(RESEND)) == 1


def test_the_sweep_ignores_inbound_sent_and_exhausted_messages(workspace_a, conversation):
    from messaging.tests.factories import MessageFactory

    old = timezone.now() - timedelta(hours=1)
    MessageFactory(conversation=conversation, created_at=old)  # inbound
    for status, next_attempt_at in [("sent", None), ("failed", None), ("delivered", None)]:
        MessageFactory(
            conversation=conversation,
            direction="outbound",
            status=status,
            sender_kind="staff",
            created_at=old,
            next_attempt_at=next_attempt_at,
        )

    assert delivery.messages_due_ids() == []


# --- Batches ------------------------------------------------------------------------------------


class KeepAliveResend:
    """Resend's email endpoint over HTTP/1.1 keep-alive, noting the client port of each request:
    one port, one connection."""

    def __init__(self) -> None:
        self.ports: list[int] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body without waiting for an ACK

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                server.ports.append(self.client_address[1])
                payload = json.dumps({"id": f"keep-alive-{len(server.ports)}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def keep_alive_resend():
    provider = KeepAliveResend()
    yield provider
    provider.server.shutdown()
    provider.server.server_close()


def queued_messages(workspace, count: int) -> list[Message]:
    """Outbound emails queued to `count` contacts, not handed to delivery (the test's
    transaction never commits)."""
    return [
        message_send(
            conversation=ConversationFactory(
                contact=ContactFactory(workspace=workspace, email=f"client-{n}@example.org")
            ),
            body="See you on Monday at 10.",
            subject="Your visit",
        )
        for n in range(count)
    ]


def test_a_batch_goes_out_over_one_connection_reading_the_integrations_and_health_once(
    workspace_a, keep_alive_resend, django_assert_max_num_queries
):
    integration = IntegrationFactory(
        workspace=workspace_a,
        provider="resend",
        priority=1,
        credentials={"api_key": "re_key", "api_url": keep_alive_resend.url + "/"},
    )
    messages = queued_messages(workspace_a, 3)

    # 17 queries: the workspace's email integrations, once; for each message a savepoint, the
    # message locked (its workspace joined), marked as being sent, the release, then after the
    # send its outcome; the integration's health.
    with django_assert_max_num_queries(17):
        outcomes = delivery.messages_deliver([m.pk for m in messages])

    assert outcomes == dict.fromkeys([m.pk for m in messages], "sent")
    assert len(keep_alive_resend.ports) == 3
    assert len(set(keep_alive_resend.ports)) == 1
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}
    integration.refresh_from_db()
    assert integration.last_success_at is not None


def test_a_message_that_crashes_does_not_hold_back_the_rest_of_its_batch(
    workspace_a, stand_in, monkeypatch
):
    resend_on(stand_in, workspace_a)
    first, broken, last = queued_messages(workspace_a, 3)
    real_outgoing = delivery.outgoing_for

    def outgoing_for(message):
        if message.pk == broken.pk:
            raise ValueError("unreadable attachment")
        return real_outgoing(message)

    monkeypatch.setattr(delivery, "outgoing_for", outgoing_for)

    outcomes = delivery.messages_deliver([first.pk, broken.pk, last.pk])

    assert outcomes == {first.pk: "sent", broken.pk: "crashed", last.pk: "sent"}
    broken.refresh_from_db()
    assert (broken.status, broken.attempts) == (Message.Status.QUEUED, 0)  # the sweep's again
    assert sorted(r.json["to"][0] for r in stand_in.requests_to(RESEND)) == [
        "client-0@example.org",
        "client-2@example.org",
    ]


def test_a_delivery_task_past_its_budget_hands_the_rest_to_a_task_of_its_own(
    workspace_a, stand_in, monkeypatch
):
    resend_on(stand_in, workspace_a)
    messages = queued_messages(workspace_a, 3)
    ids = [m.pk for m in messages]
    monkeypatch.setattr(delivery, "DELIVERY_BUDGET_SECONDS", 0)  # one message a task
    tasks_run: list[list[int]] = []
    real_delay = messages_deliver_task.delay

    def delay(message_ids):
        tasks_run.append(list(message_ids))
        return real_delay(message_ids)

    monkeypatch.setattr(messages_deliver_task, "delay", delay)

    messages_deliver_task(ids)

    assert tasks_run == [ids[1:], ids[2:]]
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}
    assert len(stand_in.requests_to(RESEND)) == 3


def test_the_retry_sweep_hands_due_messages_over_in_batches(workspace_a, stand_in, monkeypatch):
    resend_on(stand_in, workspace_a)
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        messages = queued_messages(workspace_a, 5)  # never handed over: as after an outage
    monkeypatch.setattr(delivery, "DELIVERY_BATCH", 2)
    tasks_run: list[list[int]] = []
    real_delay = messages_deliver_task.delay

    def delay(message_ids):
        tasks_run.append(list(message_ids))
        return real_delay(message_ids)

    monkeypatch.setattr(messages_deliver_task, "delay", delay)

    with time_machine.travel(start + timedelta(minutes=2), tick=False):
        assert messages_retry_due() == 5

    assert [len(batch) for batch in tasks_run] == [2, 2, 1]
    assert sorted(pk for batch in tasks_run for pk in batch) == sorted(m.pk for m in messages)
    assert set(Message.objects.values_list("status", flat=True)) == {Message.Status.SENT}
    assert len(stand_in.requests_to(RESEND)) == 5

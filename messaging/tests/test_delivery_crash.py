"""A worker dying in the middle of a send (SIGKILL, the OOM killer, the task's time limit), played
in process: the provider is called and takes the message, then the worker stops before another
line of delivery runs. What it committed before the call (the message marked as being sent)
is all that is left, as after a real kill: tests/test_faults_infrastructure.py kills real workers.

The mark makes the send's outcome a lost answer (see messaging.delivery's docstring): skipped by
other workers while the send may still be running, then retried through the same provider with
the same key where it honours keys (Resend), failed for staff elsewhere (SendGrid, Twilio).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
import time_machine
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.utils import timezone

from careops.errors import Conflict
from messaging import delivery, providers, services
from messaging.models import Channel, Message
from messaging.services import message_retry, message_send
from messaging.tests.factories import resend_on, sendgrid_on, twilio_on
from messaging.tests.stand_in import RESEND, SENDGRID, Answer
from tests.processes import wait_for

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

TWILIO = "/twilio-a/2010-04-01/Accounts/AC1/Messages.json"
SLOW = 1.5  # seconds a provider takes to answer, when it is slow
# Past any mark a live worker may hold: the task's hard time limit, and the clocks' margin.
PAST_THE_LIMIT = delivery.sending_limit() + timedelta(seconds=1)


class WorkerKilled(BaseException):
    """The worker's death: nothing of delivery runs after it (not an Exception: no handler
    of delivery's catches it, as none runs after a SIGKILL)."""


@pytest.fixture
def kill_mid_send(monkeypatch):
    """kill_mid_send(provider): that provider's next send reaches it (and is taken), then the
    worker dies before delivery reads the answer. Returns the message's row as it was then."""

    def arm(provider: str) -> dict:
        at_death: dict = {}
        for cls in (providers.AnymailSender, providers.TwilioSender):

            def send(self, outgoing, real_send=cls.send):
                result = real_send(self, outgoing)
                if self.key != provider or at_death:
                    return result
                at_death.update(Message.objects.filter(pk=outgoing.message_id).values().get())
                raise WorkerKilled

            monkeypatch.setattr(cls, "send", send)
        return at_death

    return arm


def queued(conversation, channel=Channel.EMAIL) -> Message:
    """A message queued as message_send stores it; not handed to delivery (the test's
    transaction never commits): the test delivers it."""
    return message_send(
        conversation=conversation,
        body="See you on Monday at 10.",
        subject="Your visit" if channel == Channel.EMAIL else "",
        channel=channel,
    )


def deliver_and_die(message: Message) -> None:
    with pytest.raises(WorkerKilled):
        delivery.message_deliver(message.pk)
    message.refresh_from_db()


def deliver_at(moment, message: Message) -> str:
    with time_machine.travel(moment, tick=False):
        outcome = delivery.message_deliver(message.pk)
    message.refresh_from_db()
    return outcome


def due_at(moment) -> list[int]:
    with time_machine.travel(moment, tick=False):
        return delivery.messages_due_ids()


# --- The mark, and the workers that find it -----------------------------------------------------


def test_a_mark_is_trusted_for_as_long_as_a_delivery_task_may_run():
    # No delivery task has a limit of its own: the hard limit of every task, and a margin for
    # the clocks of two workers.
    assert delivery.sending_limit() == (
        timedelta(seconds=django_settings.CELERY_TASK_TIME_LIMIT) + delivery.CLOCK_SKEW
    )


CUT_SHORT_FAILED_FOR_STAFF = {
    "sendgrid": (Channel.EMAIL, SENDGRID),
    "twilio": (Channel.SMS, TWILIO),
}


@pytest.mark.parametrize(
    ("provider", "channel", "path"),
    [(key, *value) for key, value in CUT_SHORT_FAILED_FOR_STAFF.items()],
    ids=CUT_SHORT_FAILED_FOR_STAFF.keys(),
)
def test_a_send_cut_short_where_the_provider_knows_no_key_is_failed_for_staff_not_sent_again(
    workspace_a, stand_in, conversation, kill_mid_send, provider, channel, path
):
    if channel == Channel.EMAIL:
        integration = sendgrid_on(stand_in, workspace_a, priority=1)
        resend_on(stand_in, workspace_a, priority=2)
        fallback = RESEND
    else:
        integration = twilio_on(stand_in, workspace_a)
        twilio_on(stand_in, workspace_a, priority=2, prefix="twilio-b", sid="AC2")
        fallback = "/twilio-b/2010-04-01/Accounts/AC2/Messages.json"
    message = queued(conversation, channel)
    at_death = kill_mid_send(provider)
    start = timezone.now()

    with time_machine.travel(start, tick=False):
        deliver_and_die(message)

    # Marked and committed before the provider was called: the death did not undo it.
    assert at_death["sending_since"] == start
    assert at_death["unconfirmed_integration_id"] == integration.pk
    assert at_death["unconfirmed_key"] == ""  # nothing to ask the provider with
    assert (message.status, message.attempts, message.sending_since) == ("queued", 0, start)

    # While the send may still be running (the task's hard limit is not past), another worker
    # (the task redelivered, the sweep) leaves it alone.
    hard_limit = start + timedelta(seconds=django_settings.CELERY_TASK_TIME_LIMIT)
    assert deliver_at(hard_limit, message) == "skipped"
    assert due_at(start + timedelta(minutes=2)) == []
    assert len(stand_in.requests_to(path)) == 1

    # Past it, the worker is dead, and the provider may have the message.
    assert due_at(start + PAST_THE_LIMIT) == [message.pk]
    assert deliver_at(start + PAST_THE_LIMIT, message) == "failed"

    assert message.status == Message.Status.FAILED
    assert message.error == f"{provider}: {delivery.CUT_SHORT}; {delivery.UNCONFIRMED_STOP}"
    assert "it may have been sent" in message.error
    assert (message.attempts, message.next_attempt_at, message.sending_since) == (1, None, None)
    assert message.unconfirmed_integration == integration
    assert due_at(start + timedelta(hours=6)) == []
    assert len(stand_in.sent_to(path)) == 1  # the client has at most the one copy
    assert stand_in.requests_to(fallback) == []


def test_a_resend_send_cut_short_is_retried_with_its_key_and_sent_once(
    workspace_a, stand_in, conversation, kill_mid_send
):
    resend = resend_on(stand_in, workspace_a, priority=1)
    sendgrid_on(stand_in, workspace_a, priority=2)
    message = queued(conversation)
    at_death = kill_mid_send("resend")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        deliver_and_die(message)
    key = f"careops-message-{message.pk}-1"
    assert (at_death["unconfirmed_integration_id"], at_death["unconfirmed_key"]) == (resend.pk, key)

    assert deliver_at(start + timedelta(minutes=1), message) == "skipped"
    assert deliver_at(start + PAST_THE_LIMIT, message) == "retrying"

    assert message.status == Message.Status.FAILED
    assert message.error == f"resend: {delivery.CUT_SHORT}; {delivery.UNCONFIRMED_RETRY}"
    assert message.next_attempt_at == start + PAST_THE_LIMIT + timedelta(minutes=1)
    assert (message.unconfirmed_integration, message.unconfirmed_key) == (resend, key)
    assert message.sending_since is None

    assert due_at(message.next_attempt_at) == [message.pk]
    assert deliver_at(message.next_attempt_at, message) == "sent"

    killed, retry = stand_in.requests_to(RESEND)
    assert killed.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == key
    assert len(stand_in.sent_to(RESEND)) == 1  # Resend answered the retry from its memory
    assert stand_in.requests_to(SENDGRID) == []
    assert (message.status, message.attempts) == (Message.Status.SENT, 2)
    assert message.provider_message_id == "stand-in-1"  # the email Resend took before the death
    assert (message.unconfirmed_integration, message.unconfirmed_key) == (None, "")


def test_an_answered_failure_moves_the_mark_to_the_next_provider(
    workspace_a, stand_in, conversation, kill_mid_send
):
    sendgrid_on(stand_in, workspace_a, priority=1)
    resend = resend_on(stand_in, workspace_a, priority=2)
    stand_in.script(SENDGRID, (503, {"errors": [{"message": "overloaded"}]}))
    message = queued(conversation)
    at_death = kill_mid_send("resend")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        deliver_and_die(message)

    # SendGrid answered: it has not got the message, Resend may.
    assert at_death["unconfirmed_integration_id"] == resend.pk
    assert at_death["unconfirmed_key"] == f"careops-message-{message.pk}-1"
    assert at_death["sending_since"] == start

    assert deliver_at(start + PAST_THE_LIMIT, message) == "retrying"
    assert deliver_at(message.next_attempt_at, message) == "sent"
    assert len(stand_in.requests_to(SENDGRID)) == 1  # not tried again: it may not be first
    assert len(stand_in.sent_to(RESEND)) == 1


def test_a_send_cut_short_by_the_soft_time_limit_is_recorded_as_a_lost_answer(
    workspace_a, stand_in, conversation, monkeypatch
):
    sendgrid_on(stand_in, workspace_a, priority=1)
    resend_on(stand_in, workspace_a, priority=2)
    real_send = providers.AnymailSender.send

    def send(self, outgoing):
        real_send(self, outgoing)  # SendGrid takes it; the limit strikes before its answer
        raise SoftTimeLimitExceeded

    monkeypatch.setattr(providers.AnymailSender, "send", send)
    message = queued(conversation)

    with pytest.raises(SoftTimeLimitExceeded):
        delivery.message_deliver(message.pk)

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.error == f"sendgrid: {delivery.CUT_SHORT}; {delivery.UNCONFIRMED_STOP}"
    assert (message.next_attempt_at, message.sending_since) == (None, None)
    assert stand_in.requests_to(RESEND) == []


@pytest.mark.django_db(transaction=True)
def test_a_message_being_sent_is_not_locked_and_a_second_worker_skips_it_at_once(
    workspace_a, stand_in, conversation, monkeypatch
):
    sendgrid_on(stand_in, workspace_a, priority=1)
    stand_in.script(SENDGRID, Answer(202, delay=SLOW))  # inside providers.SEND_TIMEOUT
    monkeypatch.setattr(services, "_queue_delivery", lambda message: None)  # delivered below
    message = queued(conversation)
    outcomes: list[str] = []

    def first_worker():
        outcomes.append(delivery.message_deliver(message.pk))
        connection.close()

    worker = threading.Thread(target=first_worker)
    worker.start()
    try:
        wait_for(lambda: stand_in.requests_to(SENDGRID), timeout=10, what="the first send")
        # No transaction holds the row across the provider's call: a lock is had at once.
        with transaction.atomic():
            Message.objects.select_for_update(nowait=True).get(pk=message.pk)
        started = time.monotonic()
        assert delivery.message_deliver(message.pk) == "skipped"  # marked: being sent
        assert time.monotonic() - started < SLOW
    finally:
        worker.join()

    assert outcomes == ["sent"]
    message.refresh_from_db()
    assert (message.status, message.sending_since) == (Message.Status.SENT, None)
    assert len(stand_in.requests_to(SENDGRID)) == 1


# --- Staff's retry ------------------------------------------------------------------------------


def failed_then_cut_short(message: Message, provider: str, kill_mid_send, start) -> None:
    """The first attempt fails with an answer (scripted by the caller); its automatic retry, a
    minute later, dies mid-send."""
    assert deliver_at(start, message) == "retrying"
    kill_mid_send(provider)
    with time_machine.travel(message.next_attempt_at, tick=False):
        deliver_and_die(message)
    assert message.status == Message.Status.FAILED  # as it was when the retry began
    assert message.sending_since is not None


def test_staff_cannot_retry_a_message_being_sent(
    workspace_a, stand_in, conversation, kill_mid_send, django_capture_on_commit_callbacks
):
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, (503, {"message": "down"}))
    message = queued(conversation)
    start = timezone.now()
    failed_then_cut_short(message, "resend", kill_mid_send, start)

    with (
        time_machine.travel(message.sending_since + timedelta(minutes=1), tick=False),
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(Conflict, match="being sent"),
    ):
        message_retry(message=message)

    assert len(stand_in.requests_to(RESEND)) == 2  # the failure and the send being made


def test_staff_retrying_a_resend_send_cut_short_clears_the_mark_and_sends_it_once(
    workspace_a, stand_in, conversation, kill_mid_send, django_capture_on_commit_callbacks
):
    resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, (503, {"message": "down"}))
    message = queued(conversation)
    start = timezone.now()
    failed_then_cut_short(message, "resend", kill_mid_send, start)
    key = f"careops-message-{message.pk}-2"  # the second attempt's
    assert message.unconfirmed_key == key

    with (
        time_machine.travel(message.sending_since + PAST_THE_LIMIT, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message_retry(message=message)

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.sending_since is None
    _, killed, retry = stand_in.requests_to(RESEND)
    assert killed.headers["Idempotency-Key"] == retry.headers["Idempotency-Key"] == key
    assert len(stand_in.sent_to(RESEND)) == 1


def test_staff_retrying_a_sendgrid_send_cut_short_clears_the_mark_and_sends_it_once(
    workspace_a, stand_in, conversation, kill_mid_send, django_capture_on_commit_callbacks
):
    sendgrid = sendgrid_on(stand_in, workspace_a, priority=1)
    stand_in.script(SENDGRID, (503, {"errors": [{"message": "overloaded"}]}))
    message = queued(conversation)
    start = timezone.now()
    failed_then_cut_short(message, "sendgrid", kill_mid_send, start)
    assert message.unconfirmed_integration == sendgrid

    with (
        time_machine.travel(message.sending_since + PAST_THE_LIMIT, tick=False),
        django_capture_on_commit_callbacks(execute=True),
    ):
        message_retry(message=message)

    message.refresh_from_db()
    assert (message.status, message.provider) == (Message.Status.SENT, "sendgrid")
    assert (message.sending_since, message.unconfirmed_integration) == (None, None)
    # The answered failure, the send cut short, and the one staff asked for.
    assert len(stand_in.requests_to(SENDGRID)) == 3

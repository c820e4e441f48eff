"""Delivering an outbound message: through the workspace's providers in order, with retries.

Every path ends with the message sent, or failed with an error saying why (and, while attempts
remain, a time for the retry sweep to try again): a message is never silently dropped.

Nor sent twice, as far as the providers allow. A provider that fails with an answer (a 5xx, a
401, a connection refused) did not take the message, and the next one is tried. A provider whose
answer is lost (no answer within providers.SEND_TIMEOUT, one cut short, a 2xx we cannot read)
may have taken it: then no other provider is tried, as it would send a second copy, and
  - where the provider honours idempotency keys (Resend), the message is retried with backoff
    through that integration alone, with the key of the attempt whose answer was lost: if the
    provider took it, it answers with that message instead of sending it again;
  - elsewhere (SendGrid, Mailgun, Postmark, Twilio), nothing can ask the provider whether it took
    the message, and a retry could send a second: the message is failed, not retried, with an
    error saying it may have been sent; staff decide (the inbox's retry button sends it again).
The integration that may have it is kept on the message (Message.unconfirmed_integration).

Messages queued in bulk (automation's reminders sweep: messaging.bulk.messages_queue) are
handed to delivery DELIVERY_BATCH to a task (deliveries_queue), and a task delivers its messages
one after the other, each in its own transaction as a lone message is, sharing what they have in
common: the workspace's senders (read once) and their connections to the providers (kept open).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from messaging import providers
from messaging.models import ERROR_MAX_LENGTH, Channel, Integration, Message
from messaging.providers import Outgoing, SendFailed, SendResult
from messaging.services import inbound_email_address

log = structlog.get_logger(__name__)

# Minutes before the 1st, 2nd, 3rd... retry of a message every provider failed to send.
BACKOFF_MINUTES = (1, 5, 15, 60, 180)
# A queued message is the on-commit publish's to hand over for this long; then the sweep's.
QUEUED_GRACE = timedelta(minutes=1)
SWEEP_BATCH = 500
# Messages per delivery task: few enough that both workers of a box share a sweep's sends and a
# crash redoes little, many enough that the task's own cost (publish, receive, ack, logs, the
# senders and their connections) is spread thin.
DELIVERY_BATCH = 50
# A delivery task takes no new message after this long (providers timing out one after the
# other): the rest go to a task of their own, well inside the task time limit.
DELIVERY_BUDGET_SECONDS = 60


class Outcome:
    SENT = "sent"
    FAILED = "failed"  # for good: the message's fault, or out of attempts
    RETRYING = "retrying"  # failed; the sweep tries again at next_attempt_at
    SKIPPED = "skipped"  # not due, already sent, or another worker has it
    # Raised outside the providers (a bug, the database): rolled back, still queued, and the
    # retry sweep hands it over again; the other messages of the batch go on.
    CRASHED = "crashed"


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a message is tried again."""
    index = min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


def _is_due(message: Message, now: datetime) -> bool:
    if message.status == Message.Status.QUEUED:
        return True
    return (
        message.status == Message.Status.FAILED
        and message.next_attempt_at is not None
        and message.next_attempt_at <= now
        and message.attempts < settings.MESSAGE_MAX_ATTEMPTS
    )


def outgoing_for(message: Message) -> Outgoing:
    workspace = message.workspace
    return Outgoing(
        channel=message.channel,
        to=message.to_address,
        subject=message.subject,
        body=message.body,
        reply_to=(inbound_email_address(workspace),),
        sender_name=workspace.name,
        # Per attempt: a redo of an attempt that never got recorded (the worker died after the
        # provider accepted) reuses the key; so does a retry after an attempt whose answer was
        # lost (unconfirmed_key). A retry after a failure the provider answered gets a new one
        # (a key it has sent a message for is answered from its memory for 24 hours).
        idempotency_key=(
            message.unconfirmed_key or f"careops-message-{message.pk}-{message.attempts + 1}"
        ),
        message_id=message.pk,
        attachments=tuple(
            (a["filename"], a["content"], a.get("content_type", "application/octet-stream"))
            for a in (message.attachments or [])
            if message.channel == Channel.EMAIL
        ),
    )


def message_deliver(message_id: int) -> str:
    """Send one queued (or due failed) outbound message; returns the outcome's name."""
    return messages_deliver([message_id])[message_id]


def messages_deliver(
    message_ids: list[int], *, budget_seconds: float | None = None
) -> dict[int, str]:
    """Send queued (or due failed) outbound messages, one after the other, each in its own
    transaction; returns each one's outcome. With a budget, the messages not begun once it is
    spent (the first always is) are left out of the answer, still queued, for the caller to
    hand on.

    Each message row stays locked while its providers are tried, so two workers holding the
    same message (a redelivery, the sweep racing the on-commit publish) cannot both send it:
    the second skips it, and finds it sent once the first commits. A crash mid-batch loses no
    more than a lone delivery would: the messages before it are committed, the one being sent
    is rolled back (its retry reuses the idempotency key), the rest are still queued.

    The senders of a workspace's channel are read once per call and keep their connections open
    across its sends (an integration switched off meanwhile is noticed by the next call).
    """
    started = time.monotonic()
    senders = _Senders()
    # Integrations' health, written at the end, outside any message's transaction: integrations
    # are shared by every message of the workspace, and a row lock on one held across the next
    # provider's HTTP call would queue all other deliveries behind it. Once per integration
    # per call, not per message: a hot row written by every delivery otherwise.
    health = _Health()
    outcomes: dict[int, str] = {}
    try:
        for message_id in message_ids:
            spent = time.monotonic() - started
            if outcomes and budget_seconds is not None and spent > budget_seconds:
                break
            try:
                with transaction.atomic():
                    outcomes[message_id] = _deliver_locked(message_id, senders, health)
            except SoftTimeLimitExceeded:
                raise
            except Exception:
                log.exception("message_deliver_crashed", message_id=message_id)
                outcomes[message_id] = Outcome.CRASHED
    finally:
        senders.close()
        health.record()
    return outcomes


class _Senders:
    """The senders of each (workspace, channel) of a delivery call, read once, their
    connections kept open until close()."""

    def __init__(self) -> None:
        self._senders: dict[tuple[int, str], list[providers.Sender]] = {}

    def of(self, workspace, channel: str) -> list[providers.Sender]:
        key = (workspace.pk, channel)
        if key not in self._senders:
            self._senders[key] = providers.senders_for(workspace, channel)
            for sender in self._senders[key]:
                sender.open()
        return self._senders[key]

    def close(self) -> None:
        for senders in self._senders.values():
            for sender in senders:
                sender.close()


@dataclass
class _Health:
    """Each integration's last success and last error seen by a delivery call, with when."""

    successes: dict[int, datetime] = field(default_factory=dict)
    errors: dict[int, tuple[str, datetime]] = field(default_factory=dict)

    def note(self, integration_id: int | None, error: str, now: datetime) -> None:
        if integration_id is None:
            return
        if error:
            self.errors[integration_id] = (error, now)
        else:
            self.successes[integration_id] = now

    def record(self) -> None:
        for integration_id, (error, at) in self.errors.items():
            Integration.health_record(integration_id, error, at)
        for integration_id, at in self.successes.items():
            Integration.health_record(integration_id, "", at)


def _deliver_locked(message_id: int, senders: _Senders, health: _Health) -> str:
    now = timezone.now()
    message = (
        Message.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("workspace")
        .filter(pk=message_id, direction=Message.Direction.OUTBOUND)
        .first()
    )
    if message is None:
        log.info("message_deliver_skipped", message_id=message_id, reason="absent_or_locked")
        return Outcome.SKIPPED
    if not _is_due(message, now):
        log.info("message_deliver_skipped", message_id=message_id, status=message.status)
        return Outcome.SKIPPED
    if not message.to_address:
        return _fail(message, ["no address to send to"], now=now, retry=False)
    if message.workspace.is_deactivated:
        # Support switched the workspace off: nothing goes to its clients. Failed, not lost:
        # support can retry it (admin) once the workspace is reactivated.
        return _fail(message, ["the workspace is deactivated"], now=now, retry=False)

    outgoing = outgoing_for(message)
    errors: list[str] = []
    candidates = senders.of(message.workspace, message.channel)
    if message.unconfirmed_key:
        # An earlier attempt's answer was lost: only the integration that may have the message
        # can tell, through the key (see the module's docstring).
        candidates = [
            sender
            for sender in candidates
            if sender.integration is not None
            and sender.integration.pk == message.unconfirmed_integration_id
        ]
        if not candidates:
            # Failed for staff to decide; their retry goes through the providers there are.
            message.unconfirmed_key = ""
            return _fail(message, [UNCONFIRMED_GONE], now=now, retry=False)
    for sender in candidates:
        integration_id = sender.integration.pk if sender.integration else None
        log.info(
            "message_send_attempt",
            message_id=message.pk,
            provider=sender.key,
            integration_id=integration_id,
            attempt=message.attempts + 1,
        )
        try:
            result = sender.send(outgoing)
        except SendFailed as exc:
            failure = exc
        except Exception as exc:
            # A bug, not a provider's answer: counted as that provider failing, so the
            # message still ends sent or failed rather than stuck in the queue.
            log.exception("message_send_crashed", message_id=message.pk, provider=sender.key)
            failure = SendFailed(f"unexpected error: {type(exc).__name__}")
        else:
            health.note(integration_id, "", now)
            return _succeed(message, result, now=now)
        log.warning(
            "message_send_failed",
            message_id=message.pk,
            provider=sender.key,
            integration_id=integration_id,
            permanent=failure.permanent,
            error=failure.reason,
        )
        errors.append(f"{sender.key}: {failure.reason}")
        if failure.permanent:
            # The recipient's fault says nothing about the integration's health.
            return _fail(message, errors, now=now, retry=False)
        health.note(integration_id, failure.reason, now)
        if failure.unknown or message.unconfirmed_key:
            return _fail_unconfirmed(message, sender, outgoing, errors, now=now)
    return _fail(message, errors, now=now, retry=True)


UNCONFIRMED_GONE = (
    "an earlier attempt may have been sent through an integration that is no longer active: "
    "not retried, so that it is not sent twice: retry it if the client did not get it"
)
# After the provider's reason (which says "it may have been sent" when this attempt's answer
# was lost), or after "an earlier attempt may have been sent" when an earlier one's was.
UNCONFIRMED_EARLIER = "an earlier attempt may have been sent"
UNCONFIRMED_RETRY = (
    "retried through this integration alone, which knows a repeat by its idempotency key"
)
UNCONFIRMED_EXHAUSTED = "out of attempts"
UNCONFIRMED_STOP = (
    "not retried automatically, so that it is not sent twice: retry it if the client did not get it"
)


def _fail_unconfirmed(
    message: Message,
    sender: providers.Sender,
    outgoing: Outgoing,
    errors: list[str],
    *,
    now: datetime,
) -> str:
    """A failure after an attempt (this one or an earlier) whose answer was lost: the sender may
    have the message. Retried through it alone, with the same key, if it honours keys; not
    retried otherwise."""
    if message.unconfirmed_key:
        errors.append(UNCONFIRMED_EARLIER)
    repeatable = sender.honours_idempotency_key and sender.integration is not None
    message.unconfirmed_integration = sender.integration
    message.unconfirmed_key = outgoing.idempotency_key if repeatable else ""
    if not repeatable:
        errors.append(UNCONFIRMED_STOP)
    elif message.attempts + 1 < settings.MESSAGE_MAX_ATTEMPTS:
        errors.append(UNCONFIRMED_RETRY)
    else:
        errors.append(UNCONFIRMED_EXHAUSTED)
    return _fail(message, errors, now=now, retry=repeatable)


def _succeed(message: Message, result: SendResult, *, now: datetime) -> str:
    message.status = Message.Status.SENT
    message.sent_at = now
    message.provider = result.provider
    message.provider_message_id = result.provider_message_id
    message.from_address = result.from_address
    message.attempts += 1
    message.error = ""
    message.next_attempt_at = None
    message.failed_at = None
    message.unconfirmed_integration = None
    message.unconfirmed_key = ""
    message.save(
        update_fields=[
            "status",
            "sent_at",
            "provider",
            "provider_message_id",
            "from_address",
            "attempts",
            "error",
            "next_attempt_at",
            "failed_at",
            "unconfirmed_integration",
            "unconfirmed_key",
            "updated_at",
        ]
    )
    log.info(
        "message_sent",
        message_id=message.pk,
        provider=result.provider,
        provider_message_id=result.provider_message_id,
    )
    return Outcome.SENT


def _fail(message: Message, errors: list[str], *, now: datetime, retry: bool) -> str:
    message.status = Message.Status.FAILED
    message.error = "; ".join(errors)[:ERROR_MAX_LENGTH]
    message.attempts += 1
    message.failed_at = now
    retry = retry and message.attempts < settings.MESSAGE_MAX_ATTEMPTS
    message.next_attempt_at = now + retry_delay(message.attempts) if retry else None
    message.save(
        update_fields=[
            "status",
            "error",
            "attempts",
            "failed_at",
            "next_attempt_at",
            "unconfirmed_integration",
            "unconfirmed_key",
            "updated_at",
        ]
    )
    log.warning(
        "message_failed",
        message_id=message.pk,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at.isoformat() if retry else None,
        error=message.error,
    )
    return Outcome.RETRYING if retry else Outcome.FAILED


def deliveries_queue(message_ids: list[int]) -> None:
    """Hand stored messages to delivery, DELIVERY_BATCH to a task. A broker outage is logged,
    not raised (the same as careops.queue.enqueue_on_commit): the messages wait in the database
    for the retry sweep."""
    from messaging.tasks import messages_deliver

    for offset in range(0, len(message_ids), DELIVERY_BATCH):
        batch = message_ids[offset : offset + DELIVERY_BATCH]
        try:
            messages_deliver.delay(batch)
        except Exception as exc:
            # The rest would only fail the same way, each after the publish retries.
            log.warning(
                "task_enqueue_failed",
                task=messages_deliver.name,
                messages=len(message_ids) - offset,
                error=str(exc),
            )
            return


def messages_due_ids(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> list[int]:
    """Outbound messages the retry sweep should hand to delivery: failed ones whose retry time
    has come, and queued ones the on-commit publish should have handed over by now (the broker
    was down, or a worker died holding the task)."""
    now = now or timezone.now()
    due = Q(status=Message.Status.FAILED, next_attempt_at__lte=now) | Q(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True),
        status=Message.Status.QUEUED,
        created_at__lt=now - QUEUED_GRACE,
    )
    return list(
        Message.objects.filter(due, direction=Message.Direction.OUTBOUND)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )

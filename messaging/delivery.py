"""Delivering an outbound message: through the workspace's providers in order, with retries.

Every path ends with the message sent, or failed with an error saying why (and, while attempts
remain, a time for the retry sweep to try again): a message is never silently dropped.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
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


class Outcome:
    SENT = "sent"
    FAILED = "failed"  # for good: the message's fault, or out of attempts
    RETRYING = "retrying"  # failed; the sweep tries again at next_attempt_at
    SKIPPED = "skipped"  # not due, already sent, or another worker has it


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
        # provider accepted) reuses the key; a retry after a recorded failure gets a new one.
        idempotency_key=f"careops-message-{message.pk}-{message.attempts + 1}",
        message_id=message.pk,
        attachments=tuple(
            (a["filename"], a["content"], a.get("content_type", "application/octet-stream"))
            for a in (message.attachments or [])
            if message.channel == Channel.EMAIL
        ),
    )


def message_deliver(message_id: int) -> str:
    """Send one queued (or due failed) outbound message; returns the outcome's name.

    The message row stays locked while its providers are tried, so two workers holding the same
    task (a redelivery, the sweep racing the on-commit publish) cannot both send it: the second
    skips it, and finds it sent once the first commits.
    """
    now = timezone.now()
    # (integration id, error or "" for a success), written after commit: integrations are
    # shared by every message of the workspace, and a row lock on one held across the next
    # provider's HTTP call would queue all other deliveries behind it.
    health: list[tuple[int, str]] = []
    with transaction.atomic():
        outcome = _deliver_locked(message_id, now, health)
    _record_health(health, now)
    return outcome


def _deliver_locked(message_id: int, now: datetime, health: list[tuple[int, str]]) -> str:
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
    for sender in providers.senders_for(message.workspace, message.channel):
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
            if integration_id is not None:
                health.append((integration_id, ""))
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
        if integration_id is not None:
            health.append((integration_id, failure.reason))
    return _fail(message, errors, now=now, retry=True)


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


def _record_health(health: list[tuple[int, str]], now: datetime) -> None:
    """Each integration tried: its last success, or its last error."""
    for integration_id, error in health:
        Integration.health_record(integration_id, error, now)


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

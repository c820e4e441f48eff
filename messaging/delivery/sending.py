"""One message's send: whether it is due, what goes to the provider (outgoing_for), the mark
that leases it to the sending worker (_mark, for up to sending_limit()), and the send through
its workspace's providers in order (_deliver, _send), each ending in an outcome's write."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import transaction
from django.utils import timezone

# The package itself: outgoing_for and _succeed are read from it at call time, where tests
# replace them (monkeypatch.setattr(delivery, ...)).
from messaging import delivery, providers
from messaging.delivery.outcomes import (
    CUT_SHORT,
    UNCONFIRMED_GONE,
    Outcome,
    _fail,
    _fail_cut_short,
    _fail_unconfirmed,
)
from messaging.delivery.senders import _Health, _Senders
from messaging.models import Channel, Message
from messaging.providers import Outgoing, SendFailed
from messaging.services import inbound_email_address

# The package's name, as before it was split: the logger_name of every delivery log line.
log = structlog.get_logger("messaging.delivery")


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
        # Per attempt: a retry after an attempt whose answer was lost, or cut short by its
        # worker's death, reuses its key (unconfirmed_key). A retry after a failure the provider
        # answered gets a new one (a key it has sent a message for is answered from its memory
        # for 24 hours).
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


# Workers' clocks may differ by a little: a mark is set by one and judged by another's.
CLOCK_SKEW = timedelta(seconds=30)
# Without a hard time limit, an hour: the broker's visibility timeout, after which a task not
# acknowledged is handed to another worker anyway.
UNLIMITED_TASK = 3600


def sending_limit() -> timedelta:
    """How long a message may be marked as being sent (Message.sending_since) by a worker that is
    alive: no delivery task outlives its hard time limit (the pool kills it), so a mark older than
    that was left by a worker that died mid-send."""
    from messaging import tasks

    seconds = max(
        task.time_limit or task.app.conf.task_time_limit or UNLIMITED_TASK
        for task in (tasks.message_deliver, tasks.messages_deliver)
    )
    return timedelta(seconds=seconds) + CLOCK_SKEW


@dataclass(frozen=True)
class _Mark:
    """A message marked as being sent: its status then (a send changes it only through its
    outcome) and its sending_since, which the writes after the send expect to find unchanged."""

    status: str
    since: datetime


def _deliver(message_id: int, senders: _Senders, health: _Health, *, limit: timedelta) -> str:
    now = timezone.now()
    with transaction.atomic():
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
        if message.sending_since is not None:
            if message.sending_since > now - limit:
                log.info(
                    "message_deliver_skipped",
                    message_id=message_id,
                    reason="being_sent",
                    sending_since=message.sending_since.isoformat(),
                )
                return Outcome.SKIPPED
            return _fail_cut_short(message, senders, now=now)
        if not message.to_address:
            return _fail(message, ["no address to send to"], now=now, retry=False)
        if message.workspace.is_deactivated:
            # Support switched the workspace off: nothing goes to its clients. Failed, not lost:
            # support can retry it (admin) once the workspace is reactivated.
            return _fail(message, ["the workspace is deactivated"], now=now, retry=False)

        outgoing = delivery.outgoing_for(message)
        candidates = senders.of(message.workspace, message.channel)
        if message.unconfirmed_key:
            # An earlier attempt's answer was lost: only the integration that may have the
            # message can tell, through the key (see the package's docstring).
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
        if not candidates:
            return _fail(message, [], now=now, retry=True)
        mark = _mark(message, candidates[0], outgoing, previous=None)
    # Committed: from here a crash leaves the mark, and the message is not sent again unless
    # the provider can tell a repeat.
    return _send(message, candidates, outgoing, mark, health, now=now)


def _mark(
    message: Message, sender: providers.Sender, outgoing: Outgoing, *, previous: _Mark | None
) -> _Mark | None:
    """Mark the message as being sent through `sender` (in place of the `previous` mark): the
    integration that may have it from now on, and the key to ask it with if it honours keys,
    as after a lost answer. None if the message was changed meanwhile (the previous mark
    overtaken): then it is not sent."""
    mark = _Mark(status=message.status, since=timezone.now())
    repeatable = sender.honours_idempotency_key and sender.integration is not None
    marked = Message.objects.filter(
        pk=message.pk,
        status=message.status if previous is None else previous.status,
        sending_since=None if previous is None else previous.since,
    ).update(
        sending_since=mark.since,
        unconfirmed_integration=sender.integration,
        unconfirmed_key=outgoing.idempotency_key if repeatable else "",
    )
    return mark if marked else None


def _send(
    message: Message,
    candidates: list[providers.Sender],
    outgoing: Outgoing,
    mark: _Mark | None,
    health: _Health,
    *,
    now: datetime,
) -> str:
    errors: list[str] = []
    for index, sender in enumerate(candidates):
        if index:
            # The last one answered a failure: it has not got the message; the next one may.
            mark = _mark(message, sender, outgoing, previous=mark)
        if mark is None:
            log.warning("message_deliver_overtaken", message_id=message.pk)
            return Outcome.SKIPPED
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
        except SoftTimeLimitExceeded:
            # Cut short by the task's time limit: the answer is lost. Recorded as such while
            # the task may still write (the hard limit is near), then the task ends.
            errors.append(f"{sender.key}: {CUT_SHORT}")
            _fail_unconfirmed(message, sender, outgoing, errors, now=now, mark=mark)
            raise
        except SendFailed as exc:
            failure = exc
        except Exception as exc:
            # A bug, not a provider's answer: counted as that provider failing, so the
            # message still ends sent or failed rather than stuck in the queue.
            log.exception("message_send_crashed", message_id=message.pk, provider=sender.key)
            failure = SendFailed(f"unexpected error: {type(exc).__name__}")
        else:
            health.note(sender.integration, "", now)
            return delivery._succeed(message, result, now=now, mark=mark)
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
            return _fail(message, errors, now=now, retry=False, mark=mark)
        health.note(sender.integration, failure.reason, now)
        if failure.unknown or message.unconfirmed_key:
            return _fail_unconfirmed(message, sender, outgoing, errors, now=now, mark=mark)
    return _fail(message, errors, now=now, retry=True, mark=mark)

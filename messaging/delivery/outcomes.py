"""A delivery's outcomes, each written once: sent (_succeed), failed with or without a retry
(_fail), failed after an answer that was lost (_fail_unconfirmed) or a send cut short
(_fail_cut_short); and _write, which stores one and clears the message's mark."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import structlog
from django.conf import settings
from django.utils import timezone

from messaging import providers
from messaging.delivery.senders import _Senders
from messaging.models import ERROR_MAX_LENGTH, Message
from messaging.providers import Outgoing, SendResult

if TYPE_CHECKING:
    from messaging.delivery.sending import _Mark

# The package's name, as before it was split: the logger_name of every delivery log line.
log = structlog.get_logger("messaging.delivery")

# Minutes before the 1st, 2nd, 3rd... retry of a message every provider failed to send.
BACKOFF_MINUTES = (1, 5, 15, 60, 180)


class Outcome:
    SENT = "sent"
    FAILED = "failed"  # for good: the message's fault, or out of attempts
    RETRYING = "retrying"  # failed; the sweep tries again at next_attempt_at
    SKIPPED = "skipped"  # not due, already sent, or another worker has it (locked or marked)
    # Raised outside the providers (a bug, the database): before the send, rolled back, still
    # queued, and the retry sweep hands it over again; after it, the mark stays, to be taken for
    # a lost answer once old. The other messages of the batch go on.
    CRASHED = "crashed"


def retry_delay(attempts: int) -> timedelta:
    """How long after its `attempts`-th failed attempt a message is tried again."""
    index = min(max(attempts, 1), len(BACKOFF_MINUTES)) - 1
    return timedelta(minutes=BACKOFF_MINUTES[index])


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
# A send whose worker stopped (killed, out of time) before the provider's answer was recorded.
CUT_SHORT = "the send was cut short before its answer was recorded: it may have been sent"


def _fail_unconfirmed(
    message: Message,
    sender: providers.Sender,
    outgoing: Outgoing,
    errors: list[str],
    *,
    now: datetime,
    mark: _Mark | None,
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
    return _fail(message, errors, now=now, retry=repeatable, mark=mark)


def _fail_cut_short(message: Message, senders: _Senders, *, now: datetime) -> str:
    """A mark older than a delivery task may live: the worker sending the message died before
    recording the answer, which is lost. The mark names the integration that may have the
    message, and the key to ask it with where it honours keys: as after a lost answer."""
    sender = next(
        (
            sender
            for sender in senders.of(message.workspace, message.channel)
            if sender.integration is not None
            and sender.integration.pk == message.unconfirmed_integration_id
        ),
        None,
    )
    log.warning(
        "message_send_cut_short",
        message_id=message.pk,
        integration_id=message.unconfirmed_integration_id,
        sending_since=message.sending_since.isoformat(),
    )
    errors = [f"{sender.key}: {CUT_SHORT}" if sender else CUT_SHORT]
    repeatable = bool(message.unconfirmed_key)
    if repeatable and sender is None:
        message.unconfirmed_key = ""
        errors.append(UNCONFIRMED_GONE)
        repeatable = False
    elif not repeatable:
        errors.append(UNCONFIRMED_STOP)
    elif message.attempts + 1 < settings.MESSAGE_MAX_ATTEMPTS:
        errors.append(UNCONFIRMED_RETRY)
    else:
        errors.append(UNCONFIRMED_EXHAUSTED)
    return _fail(message, errors, now=now, retry=repeatable)


def _succeed(message: Message, result: SendResult, *, now: datetime, mark: _Mark | None) -> str:
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
    _write(
        message,
        [
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
        ],
        mark=mark,
    )
    log.info(
        "message_sent",
        message_id=message.pk,
        provider=result.provider,
        provider_message_id=result.provider_message_id,
    )
    return Outcome.SENT


def _fail(
    message: Message,
    errors: list[str],
    *,
    now: datetime,
    retry: bool,
    mark: _Mark | None = None,
) -> str:
    message.status = Message.Status.FAILED
    message.error = "; ".join(errors)[:ERROR_MAX_LENGTH]
    message.attempts += 1
    message.failed_at = now
    retry = retry and message.attempts < settings.MESSAGE_MAX_ATTEMPTS
    message.next_attempt_at = now + retry_delay(message.attempts) if retry else None
    _write(
        message,
        [
            "status",
            "error",
            "attempts",
            "failed_at",
            "next_attempt_at",
            "unconfirmed_integration",
            "unconfirmed_key",
        ],
        mark=mark,
    )
    log.warning(
        "message_failed",
        message_id=message.pk,
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at.isoformat() if retry else None,
        error=message.error,
    )
    return Outcome.RETRYING if retry else Outcome.FAILED


def _write(message: Message, fields: list[str], *, mark: _Mark | None) -> None:
    """Store an outcome, clearing the mark. Before a send (no mark) the row is ours, locked;
    after one it is written if still as marked: a provider's callback may have settled it
    meanwhile (messaging.inbound), and then only the mark is cleared."""
    message.sending_since = None
    fields = [*fields, "sending_since", "updated_at"]
    if mark is None:
        message.save(update_fields=fields)
        return
    message.updated_at = timezone.now()
    values = {}
    for name in fields:
        attname = Message._meta.get_field(name).attname
        values[attname] = getattr(message, attname)
    marked = Message.objects.filter(pk=message.pk, sending_since=mark.since)
    if not marked.filter(status=mark.status).update(**values):
        marked.update(sending_since=None)
        log.warning("message_outcome_overtaken", message_id=message.pk, status=message.status)

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

A worker that dies mid-send (SIGKILL, the OOM killer, the hard time limit) loses the answer too,
so no transaction is held open across a provider's call for its rollback to erase the send: the
message is marked (sending_since, the integration, its key where it honours keys) and committed
before the call, and the answer is recorded in a write of its own that clears the mark. A mark
younger than a delivery task may live (sending_limit()) is a send in progress, which other
workers skip; an older one is a send cut short, taken for a lost answer as above.

Messages queued in bulk (automation's reminders sweep: messaging.bulk.messages_queue) are
handed to delivery DELIVERY_BATCH to a task (deliveries_queue), and a task delivers its messages
one after the other, each as a lone message is, sharing what they have in common: the
workspace's senders (read once) and their connections to the providers (kept open).
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
    SKIPPED = "skipped"  # not due, already sent, or another worker has it (locked or marked)
    # Raised outside the providers (a bug, the database): before the send, rolled back, still
    # queued, and the retry sweep hands it over again; after it, the mark stays, to be taken for
    # a lost answer once old. The other messages of the batch go on.
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


def message_deliver(message_id: int) -> str:
    """Send one queued (or due failed) outbound message; returns the outcome's name."""
    return messages_deliver([message_id])[message_id]


def messages_deliver(
    message_ids: list[int], *, budget_seconds: float | None = None
) -> dict[int, str]:
    """Send queued (or due failed) outbound messages, one after the other; returns each one's
    outcome. With a budget, the messages not begun once it is spent (the first always is) are
    left out of the answer, still queued, for the caller to hand on.

    Each message is marked as being sent (its row locked, then committed) before a provider is
    called, and its outcome written after the answer, with no transaction open in between: two
    workers holding the same message (a redelivery, the sweep racing the on-commit publish)
    cannot both send it, as the second skips a row locked or marked; and a worker killed mid-send
    leaves the mark, taken for a lost answer once it is older than any delivery task may run
    (see the module's docstring). A crash mid-batch loses no more than a lone delivery would: the
    messages before it are recorded, the rest are still queued.

    The senders of a workspace's channel are read once per call and keep their connections open
    across its sends (an integration switched off meanwhile is noticed by the next call).
    """
    started = time.monotonic()
    senders = _Senders()
    # Integrations' health, written at the end, outside any message's write: integrations are
    # shared by every message of the workspace, and a hot row written by every delivery
    # otherwise. Once per integration per call, not per message.
    health = _Health()
    limit = sending_limit()
    outcomes: dict[int, str] = {}
    try:
        for message_id in message_ids:
            spent = time.monotonic() - started
            if outcomes and budget_seconds is not None and spent > budget_seconds:
                break
            try:
                outcomes[message_id] = _deliver(message_id, senders, health, limit=limit)
            except SoftTimeLimitExceeded:
                raise
            except Exception:
                log.exception("message_deliver_crashed", message_id=message_id)
                outcomes[message_id] = Outcome.CRASHED
    finally:
        senders.close()
        health.record()
    return outcomes


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

        outgoing = outgoing_for(message)
        candidates = senders.of(message.workspace, message.channel)
        if message.unconfirmed_key:
            # An earlier attempt's answer was lost: only the integration that may have the
            # message can tell, through the key (see the module's docstring).
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
            health.note(integration_id, "", now)
            return _succeed(message, result, now=now, mark=mark)
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
        health.note(integration_id, failure.reason, now)
        if failure.unknown or message.unconfirmed_key:
            return _fail_unconfirmed(message, sender, outgoing, errors, now=now, mark=mark)
    return _fail(message, errors, now=now, retry=True, mark=mark)


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
    was down, or a worker died holding the task). Not those a worker is sending (a mark younger
    than sending_limit()): a mark older than that is a send cut short, for delivery to record."""
    now = now or timezone.now()
    due = Q(status=Message.Status.FAILED, next_attempt_at__lte=now) | Q(
        Q(next_attempt_at__lte=now) | Q(next_attempt_at__isnull=True),
        status=Message.Status.QUEUED,
        created_at__lt=now - QUEUED_GRACE,
    )
    not_being_sent = Q(sending_since__isnull=True) | Q(sending_since__lte=now - sending_limit())
    return list(
        Message.objects.filter(due, not_being_sent, direction=Message.Direction.OUTBOUND)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )

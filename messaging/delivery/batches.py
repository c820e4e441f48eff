"""Delivery's entry points: a lone message or a batch delivered by a task (message_deliver,
messages_deliver), batches handed to tasks (deliveries_queue), and the retry sweep's due
messages (messages_due_ids)."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.db.models import Q
from django.utils import timezone

# The package itself: DELIVERY_BATCH is read from it at call time, where it is tuned (tests
# replace it: monkeypatch.setattr(delivery, "DELIVERY_BATCH", ...)).
from messaging import delivery
from messaging.delivery.outcomes import Outcome
from messaging.delivery.senders import _Health, _Senders
from messaging.delivery.sending import _deliver, sending_limit
from messaging.models import Message

# The package's name, as before it was split: the logger_name of every delivery log line.
log = structlog.get_logger("messaging.delivery")

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
    (see the package's docstring). A crash mid-batch loses no more than a lone delivery would:
    the messages before it are recorded, the rest are still queued.

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


def deliveries_queue(message_ids: list[int]) -> None:
    """Hand stored messages to delivery, DELIVERY_BATCH to a task. A broker outage is logged,
    not raised (the same as careops.queue.enqueue_on_commit): the messages wait in the database
    for the retry sweep."""
    from messaging.tasks import messages_deliver

    for offset in range(0, len(message_ids), delivery.DELIVERY_BATCH):
        batch = message_ids[offset : offset + delivery.DELIVERY_BATCH]
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

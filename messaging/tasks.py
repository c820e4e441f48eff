"""Background work for messaging. Tasks take ids, reload, and call a service."""

from __future__ import annotations

from collections import Counter

import structlog
from celery import shared_task

log = structlog.get_logger(__name__)


@shared_task
def message_deliver(message_id: int) -> str:
    from messaging import delivery

    return delivery.message_deliver(message_id)


@shared_task
def messages_deliver(message_ids: list[int]) -> dict[str, int]:
    """A batch of messages queued together (delivery.DELIVERY_BATCH). Those not begun within
    the budget go on in a task of their own; if that cannot be queued, the retry sweep finds
    them still queued."""
    from messaging import delivery

    outcomes = delivery.messages_deliver(
        message_ids, budget_seconds=delivery.DELIVERY_BUDGET_SECONDS
    )
    rest = [message_id for message_id in message_ids if message_id not in outcomes]
    if rest:
        delivery.deliveries_queue(rest)
    return dict(Counter(outcomes.values()))


@shared_task
def messages_retry_due() -> int:
    """Queue delivery of the messages whose (re)try time has come, every minute.

    This sweep is what guarantees retries: a failed message is not re-queued with a countdown,
    because Redis hands an ETA task to a second worker once it outlives the visibility timeout,
    and a minute's precision suits backoffs of minutes to hours.
    """
    from messaging import delivery

    ids = delivery.messages_due_ids()
    delivery.deliveries_queue(ids)
    if ids:
        log.info("messages_retry_queued", count=len(ids))
    return len(ids)

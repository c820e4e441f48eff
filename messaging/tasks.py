"""Background work for messaging. Tasks take ids, reload, and call a service."""

from __future__ import annotations

import structlog
from celery import shared_task

log = structlog.get_logger(__name__)


@shared_task
def message_deliver(message_id: int) -> str:
    from messaging import delivery

    return delivery.message_deliver(message_id)


@shared_task
def messages_retry_due() -> int:
    """Queue delivery of the messages whose (re)try time has come, every minute.

    This sweep is what guarantees retries: a failed message is not re-queued with a countdown,
    because Redis hands an ETA task to a second worker once it outlives the visibility timeout,
    and a minute's precision suits backoffs of minutes to hours.
    """
    from messaging import delivery

    ids = delivery.messages_due_ids()
    for message_id in ids:
        message_deliver.delay(message_id)
    if ids:
        log.info("messages_retry_queued", count=len(ids))
    return len(ids)

"""Background work for messaging. Tasks take ids, reload, and call a service."""

from __future__ import annotations

from celery import shared_task


@shared_task
def message_deliver(message_id: int) -> str:
    from messaging import delivery

    return delivery.message_deliver(message_id)

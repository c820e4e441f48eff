"""Celery tasks of outbound webhooks (registered through automation.tasks). Both are safe to
run twice: a delivery is sent only while pending and due, under its row lock."""

from __future__ import annotations

from celery import shared_task


@shared_task
def webhook_deliver(delivery_id: int) -> bool | None:
    """Queued on commit of the event's dispatch, and by the sweep."""
    from automation.webhooks.delivery import webhook_delivery_attempt

    return webhook_delivery_attempt(delivery_id)


@shared_task
def webhooks_deliver_due() -> int:
    """Every minute: retries whose backoff passed, and deliveries whose task was lost."""
    from automation.webhooks.delivery import webhook_deliveries_due

    return webhook_deliveries_due()


@shared_task
def webhooks_purge_deliveries() -> int:
    """Daily: finished deliveries older than EVENT_RETENTION_DAYS."""
    from django.conf import settings

    from automation.webhooks.delivery import webhook_deliveries_purge

    return webhook_deliveries_purge(days=settings.EVENT_RETENTION_DAYS)

"""Background work for automation. Tasks take ids, reload, and call a service; each is safe to
run twice (a dispatched event is not dispatched again, a run's key is unique)."""

from __future__ import annotations

from celery import shared_task

from automation import engine


@shared_task
def automation_dispatch_event(event_id: int) -> int:
    """Queued on commit of the transaction that recorded the event."""
    return engine.event_dispatch(event_id)


@shared_task
def automation_dispatch_pending() -> int:
    """Every minute: the events whose task was never queued (the broker was down at commit)
    or was lost."""
    return engine.events_dispatch_pending()


@shared_task
def automation_send_due_reminders() -> int:
    from automation.reminders import reminders_send_due

    return reminders_send_due()


@shared_task
def automation_check_inventory() -> int:
    from automation.alerts import inventory_check

    return inventory_check()


@shared_task
def automation_email_alert(alert_id: int):
    from automation.alerts import alert_email_owners

    return alert_email_owners(alert_id=alert_id)

"""Background work for automation. Tasks take ids, reload, and call a service; each is safe to
run twice (a dispatched event is not dispatched again, a run's key is unique)."""

from __future__ import annotations

from smtplib import SMTPException

from celery import shared_task

from automation import engine
from careops.queue import enqueue_on_commit


@shared_task
def automation_dispatch_event(event_id: int) -> int:
    """Queued on commit of the transaction that recorded the event."""
    return engine.event_dispatch(event_id)


@shared_task
def automation_dispatch_pending() -> int:
    """Every minute: the events whose task was never queued (the broker was down at commit)
    or was lost."""
    return engine.events_dispatch_pending()


# Reminders one sweep deals with; a full batch queues the next one at once.
REMINDER_BATCH = 500


@shared_task
def automation_send_due_reminders() -> int:
    """Every five minutes (beat), and again at once while a backlog lasts: a busy morning or
    the hours after an outage are worked through batch after batch, not 500 per beat."""
    from automation.reminders import reminders_replan_requested, reminders_send_due

    reminders_replan_requested()  # any re-plan whose own task was lost
    done = reminders_send_due(limit=REMINDER_BATCH)
    if done >= REMINDER_BATCH:
        # Only when every one of the batch was dealt with here: rows another worker holds are
        # its to finish, and chasing them would only spin.
        enqueue_on_commit(automation_send_due_reminders)
    return done


@shared_task
def automation_check_alerts() -> int:
    """Every five minutes: messages waiting too long for a reply, bookings still pending close
    to their start (raised and resolved; see automation.alerts.sweeps)."""
    from automation.alerts import alerts_check

    return alerts_check()


@shared_task
def automation_send_form_reminders() -> int:
    """Every five minutes (beat), and again at once while a backlog lasts: the reminders of
    forms not filled in yet (automation.form_reminders)."""
    from automation.form_reminders import form_reminders_send_due

    done = form_reminders_send_due(limit=REMINDER_BATCH)
    if done >= REMINDER_BATCH:
        enqueue_on_commit(automation_send_form_reminders)
    return done


@shared_task
def automation_check_inventory() -> int:
    from automation.alerts import inventory_check

    return inventory_check()


# A mail server that is down or refuses for a while: retried with backoff (30 s, 1, 2, 4, 8 min,
# jittered); after that the hourly inventory check queues the alert's email again.
@shared_task(
    autoretry_for=(SMTPException, OSError),
    retry_backoff=30,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=5,
)
def automation_email_alert(alert_id: int) -> bool:
    from automation.alerts import alert_email_owners

    return alert_email_owners(alert_id=alert_id)


@shared_task
def automation_replan_reminders(rule_id: int) -> int:
    """Queued when the reminder rule is switched on or its timing changes: re-plans the
    workspace's upcoming reminders in batches, outside the owner's request."""
    from automation.reminders import reminders_replan_requested

    return reminders_replan_requested(rule_id=rule_id)


@shared_task
def automation_purge_history() -> dict[str, int]:
    """Daily: delete automation history older than EVENT_RETENTION_DAYS (never pending work, nor
    the runs that stop a rule acting twice: see automation.retention). Batches commit one by one,
    so a purge cut short by the time limit keeps its progress and the next one carries on."""
    from django.conf import settings

    from automation.retention import automation_history_purge

    report = automation_history_purge(days=settings.EVENT_RETENTION_DAYS)
    return {"events": report.events, "runs": report.runs, "reminders": report.reminders}


# Outbound webhooks' tasks live with them; imported here so that the worker registers them.
from automation.webhooks.tasks import (  # noqa: E402, F401
    webhook_deliver,
    webhooks_deliver_due,
    webhooks_purge_deliveries,
)

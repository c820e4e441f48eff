"""Periodic tasks, registered with django-celery-beat's database scheduler after `migrate`.

Nothing is scheduled by hand in the admin: this table is the source of truth, and
`manage.py migrate` (post_migrate) brings the database in line with it.
"""

from __future__ import annotations

PERIODIC_TASKS: dict[str, dict] = {
    # name: task path, period in seconds
    "invitations: send unsent": {"task": "workspaces.tasks.invitations_send_unsent", "every": 300},
    "messages: retry due": {"task": "messaging.tasks.messages_retry_due", "every": 60},
    "forms: mark overdue": {"task": "forms.tasks.forms_mark_overdue", "every": 3600},
    "automation: dispatch pending events": {
        "task": "automation.tasks.automation_dispatch_pending",
        "every": 60,
    },
    "automation: send due reminders": {
        "task": "automation.tasks.automation_send_due_reminders",
        "every": 300,
    },
    "automation: check alerts": {
        "task": "automation.tasks.automation_check_alerts",
        "every": 300,
    },
    "automation: send form reminders": {
        "task": "automation.tasks.automation_send_form_reminders",
        "every": 300,
    },
    "automation: check inventory": {
        "task": "automation.tasks.automation_check_inventory",
        "every": 3600,
    },
    "webhooks: send due deliveries": {
        "task": "automation.webhooks.tasks.webhooks_deliver_due",
        "every": 60,
    },
    "webhooks: purge old deliveries": {
        "task": "automation.webhooks.tasks.webhooks_purge_deliveries",
        "every": 24 * 3600,
    },
    "automation: purge old history": {
        "task": "automation.tasks.automation_purge_history",
        "every": 24 * 3600,
    },
}


# The periodic tasks this table owns: any task of one of the project's apps (or of a package
# inside one: automation.webhooks.tasks).
OUR_TASKS = r"^(workspaces|contacts|messaging|bookings|forms|inventory|automation)\.(\w+\.)?tasks\."


def sync_periodic_tasks() -> None:
    from django_celery_beat.models import IntervalSchedule, PeriodicTask

    for name, spec in PERIODIC_TASKS.items():
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=spec["every"], period=IntervalSchedule.SECONDS
        )
        PeriodicTask.objects.update_or_create(
            name=name, defaults={"task": spec["task"], "interval": interval, "enabled": True}
        )
    # An entry this table no longer names (renamed or retired) must stop running: beat would
    # otherwise keep calling a task that may no longer exist, or call one twice under two names.
    PeriodicTask.objects.filter(task__regex=OUR_TASKS).exclude(
        name__in=list(PERIODIC_TASKS)
    ).update(enabled=False)

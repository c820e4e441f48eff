"""The periodic tasks and the Celery settings that the outbox's "never lost, never twice" rests
on: registered by `migrate` (never by hand), at the intervals the product promises."""

from __future__ import annotations

from importlib import import_module

import pytest
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from careops.celery import app
from careops.schedule import PERIODIC_TASKS, sync_periodic_tasks

pytestmark = pytest.mark.django_db

# The product's promises (issue: automation), in seconds: at most this long between two runs.
PROMISED = {
    "automation.tasks.automation_dispatch_pending": 60,
    "automation.tasks.automation_send_due_reminders": 30 * 60,
    "automation.tasks.automation_check_inventory": 3600,
    "automation.tasks.automation_purge_history": 24 * 3600,
    "forms.tasks.forms_mark_overdue": 3600,
    "messaging.tasks.messages_retry_due": 60,
}


def enabled_schedule() -> dict[str, int]:
    return {
        task.task: task.interval.every
        for task in PeriodicTask.objects.filter(enabled=True).select_related("interval")
        if task.interval and task.interval.period == IntervalSchedule.SECONDS
    }


def test_migrate_registers_every_periodic_task_at_its_promised_interval():
    # The test database was built by migrate, whose post_migrate hook registers the table.
    schedule = enabled_schedule()

    for task, at_most in PROMISED.items():
        assert task in schedule, task
        assert schedule[task] <= at_most, task
    assert set(schedule) == {spec["task"] for spec in PERIODIC_TASKS.values()}
    for spec in PERIODIC_TASKS.values():  # each names a task that exists
        module, name = spec["task"].rsplit(".", 1)
        assert getattr(import_module(module), name).name == spec["task"]


def test_registering_twice_changes_nothing():
    before = list(PeriodicTask.objects.order_by("name").values_list("name", "task", "interval"))

    sync_periodic_tasks()
    call_command("migrate", verbosity=0)

    after = list(PeriodicTask.objects.order_by("name").values_list("name", "task", "interval"))
    assert after == before


def test_an_entry_the_table_no_longer_names_is_switched_off():
    interval = IntervalSchedule.objects.create(every=10, period=IntervalSchedule.SECONDS)
    retired = PeriodicTask.objects.create(
        name="automation: an old name",
        task="automation.tasks.automation_dispatch_pending",
        interval=interval,
    )
    foreign = PeriodicTask.objects.create(
        name="someone else's", task="celery.backend_cleanup", interval=interval
    )

    sync_periodic_tasks()

    retired.refresh_from_db()
    foreign.refresh_from_db()
    assert retired.enabled is False
    assert foreign.enabled is True  # not ours to manage


def test_celery_acknowledges_late_and_redelivers_within_the_visibility_timeout():
    conf = app.conf
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    # A task still running when the visibility timeout passes would be handed to a second
    # worker: the timeout must outlast the longest task.
    assert conf.broker_url.startswith("redis://")
    assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit

"""Automation's outbox with the real wiring: events go through Redis to a Celery worker that uses
the test database, and an event whose task could not be published (Redis down at commit) is
delivered by the sweep once Redis is back, exactly once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from django.utils import timezone
from structlog.testing import capture_logs

from automation import engine
from automation.models import AutomationRun, Event
from automation.tasks import automation_dispatch_event, automation_dispatch_pending
from careops.celery import app as celery_app
from contacts.services import contact_create
from tests.processes import wait_for

pytestmark = [pytest.mark.slow, pytest.mark.real_worker, pytest.mark.django_db(transaction=True)]

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


@contextmanager
def broker_at(url: str) -> Iterator[None]:
    """Publish to `url` for a while: the app's connection pools are dropped so that the next
    publish connects afresh (as after a fork), and again on the way back."""

    def drop_pools() -> None:
        celery_app._pool = None
        celery_app.amqp._producer_pool = None

    previous = celery_app.conf.broker_url
    celery_app.conf.broker_url = url
    drop_pools()
    try:
        yield
    finally:
        celery_app.conf.broker_url = previous
        drop_pools()


def new_contact(workspace, owner, name: str):
    return contact_create(workspace=workspace, actor=owner, name=name)


def contact_event(contact) -> Event:
    return Event.objects.get(kind=Event.Kind.CONTACT_CREATED, subject_id=contact.pk)


def dispatched(event: Event) -> bool:
    return Event.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists()


def wait_until_dispatched(event: Event) -> None:
    wait_for(lambda: dispatched(event), timeout=30, what=f"the worker to dispatch event {event.pk}")


def assert_dispatched_once(event: Event) -> None:
    """Marked dispatched by one attempt, with one run per rule that handles its kind."""
    event.refresh_from_db()
    assert event.attempts == 1
    keys = list(AutomationRun.objects.filter(event=event).values_list("key", flat=True))
    assert sorted(keys) == sorted(
        engine.run_key(event, rule_kind) for rule_kind, _ in engine.HANDLERS[event.kind]
    )


def drain(workspace, owner) -> None:
    """Wait until the worker has done everything queued so far: one solo worker takes the queue
    in order, so once a contact created now has its event dispatched, the earlier tasks ran."""
    wait_until_dispatched(contact_event(new_contact(workspace, owner, "Queue Marker")))


def test_a_new_contacts_event_is_dispatched_by_the_worker_once(worker, workspace_a, owner):
    contact = new_contact(workspace_a, owner, "Ann Lee")
    event = contact_event(contact)

    wait_until_dispatched(event)
    # Redelivered: the same task again, and the sweep.
    automation_dispatch_event.delay(event.pk)
    automation_dispatch_pending.delay()
    drain(workspace_a, owner)

    assert_dispatched_once(event)


def test_an_event_whose_task_was_lost_with_redis_down_is_dispatched_once_by_the_sweep(
    worker, workspace_a, owner
):
    with broker_at(UNREACHABLE_BROKER), capture_logs() as logs:
        contact = new_contact(workspace_a, owner, "Ann Lee")  # commits: the contact is saved

    assert [entry["task"] for entry in logs if entry["event"] == "task_enqueue_failed"] == [
        automation_dispatch_event.name
    ]
    event = contact_event(contact)
    assert event.dispatched_at is None  # nothing was queued for it
    # The sweep leaves events younger than its grace to their own task: this one is as if the
    # outage had been a minute ago.
    Event.objects.filter(pk=event.pk).update(created_at=timezone.now() - timedelta(minutes=1))

    # Redis is back: the minute sweep finds it (twice over, as two beats would).
    automation_dispatch_pending.delay()
    automation_dispatch_pending.delay()
    wait_until_dispatched(event)
    drain(workspace_a, owner)

    assert_dispatched_once(event)

"""Automation's outbox with the real wiring: events go through Redis to a Celery worker that uses
the test database, and an event whose task could not be published (Redis down at commit) is
delivered by the sweep once Redis is back, exactly once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from structlog.testing import capture_logs

from automation import engine
from automation.models import AutomationRun, Event
from automation.tasks import automation_dispatch_event, automation_dispatch_pending
from contacts.services import contact_create
from tests.processes import broker_at, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.real_worker, pytest.mark.django_db(transaction=True)]

UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"


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


# --- The other rules, through the same real worker ---------------------------------------------


def wait_for_row(queryset, what: str):
    return wait_for(lambda: queryset.first(), timeout=30, what=what)


def test_a_booking_is_confirmed_sent_its_form_and_reminded_once_by_the_worker(
    worker, workspace_a, owner
):
    from automation.models import Reminder, Rule
    from automation.rules import rules_for
    from automation.tasks import automation_send_due_reminders
    from bookings.services import booking_create
    from bookings.tests.factories import BookingTypeFactory
    from contacts.tests.factories import ContactFactory
    from forms.models import FormSubmission
    from forms.tests.factories import FormTemplateFactory
    from messaging.models import Message

    rules_for(workspace_a)
    # No quiet hours: the reminder is due at once whatever the hour this test runs at.
    Rule.objects.filter(workspace=workspace_a, kind=Rule.Kind.BOOKING_REMINDER).update(
        quiet_start=None, quiet_end=None
    )
    service = BookingTypeFactory(workspace=workspace_a, name="Massage")
    FormTemplateFactory(workspace=workspace_a, name="Intake", booking_types=[service])
    dana = ContactFactory(workspace=workspace_a, name="Dana Client", email="dana@example.org")

    # Starts in 23 hours: its 24-hour reminder is already due.
    booking, _ = booking_create(
        workspace=workspace_a,
        booking_type=service,
        contact=dana,
        start=timezone.now().replace(microsecond=0) + timedelta(hours=23),
        actor=owner,
        enforce_rules=False,
    )
    event = Event.objects.get(kind=Event.Kind.BOOKING_CREATED, subject_id=booking.pk)
    wait_until_dispatched(event)
    assert_dispatched_once(event)

    runs = AutomationRun.objects.filter(event=event)
    confirmation = runs.get(rule__kind=Rule.Kind.BOOKING_CONFIRMATION)
    assert confirmation.outcome == AutomationRun.Outcome.SENT
    assert confirmation.message.channel == "email"
    assert FormSubmission.objects.filter(booking=booking, template_name="Intake").count() == 1
    reminder = Reminder.objects.get(booking=booking)
    assert reminder.status == Reminder.Status.PLANNED
    assert reminder.due_at <= timezone.now()

    # The reminders sweep, twice at once (two beats, or one redelivered): one reminder.
    automation_send_due_reminders.delay()
    automation_send_due_reminders.delay()
    wait_for_row(
        Reminder.objects.filter(pk=reminder.pk, status=Reminder.Status.SENT),
        "the worker to send the reminder",
    )
    drain(workspace_a, owner)

    reminder_runs = AutomationRun.objects.filter(
        booking=booking, rule__kind=Rule.Kind.BOOKING_REMINDER, outcome="sent"
    )
    assert reminder_runs.count() == 1
    # To Dana: the confirmation, the form's link and the reminder, one each.
    assert Message.objects.filter(conversation__contact=dana, direction="outbound").count() == 3


def test_an_overdue_form_and_low_stock_raise_one_alert_each_through_the_worker(
    worker, workspace_a, owner, staff
):
    from automation.models import Alert
    from forms.models import FormSubmission
    from forms.tasks import forms_mark_overdue
    from forms.tests.factories import FormSubmissionFactory
    from inventory.models import InventoryUsage
    from inventory.services import item_create, stock_move

    submission = FormSubmissionFactory(workspace=workspace_a)
    FormSubmission.objects.filter(pk=submission.pk).update(
        sent_at=timezone.now() - timedelta(hours=50), due_at=timezone.now() - timedelta(hours=2)
    )
    gloves = item_create(
        workspace=workspace_a, actor=owner, name="Gloves", quantity_on_hand=5, low_stock_threshold=3
    )

    forms_mark_overdue.delay()
    forms_mark_overdue.delay()  # the hourly check, twice
    stock_move(item=gloves, kind=InventoryUsage.Kind.USAGE, quantity=3, actor=staff)
    stock_move(item=gloves, kind=InventoryUsage.Kind.USAGE, quantity=1, actor=staff)  # still low

    overdue = wait_for_row(
        Alert.objects.filter(kind=Alert.Kind.FORM_OVERDUE), "the worker to raise the form alert"
    )
    low = wait_for_row(
        Alert.objects.filter(kind=Alert.Kind.STOCK_LOW), "the worker to raise the stock alert"
    )
    drain(workspace_a, owner)

    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.OVERDUE
    assert overdue.subject_id == submission.pk
    assert low.subject_id == gloves.pk
    assert Alert.objects.count() == 2

"""The automation back office: the outbox (and dispatching an event again), rules, reminders,
runs and alerts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from automation.engine import run_key
from automation.models import Alert, AutomationRun, Event, Reminder, Rule
from automation.rules import rules_for
from bookings.tests.factories import BookingFactory
from inventory.tests.factories import InventoryItemFactory
from workspaces.models import User
from workspaces.tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = ["event", "rule", "reminder", "automationrun", "alert"]


@pytest.fixture
def support(client):
    admin = User.objects.create_superuser("support@careops.test", "support-passphrase-1")
    client.force_login(admin)
    return client


def changelist(model: str) -> str:
    return reverse(f"admin:automation_{model}_changelist")


def low_item_event(workspace, **values) -> tuple[Event, object]:
    item = InventoryItemFactory(workspace=workspace, quantity_on_hand=1, low_stock_threshold=2)
    event = Event.objects.create(
        workspace=workspace,
        kind=Event.Kind.STOCK_LOW,
        subject_type="inventory_item",
        subject_id=item.pk,
        **values,
    )
    return event, item


@pytest.mark.parametrize("model", CHANGELISTS)
@pytest.mark.parametrize("rows", [2, 12])
def test_each_changelist_loads_in_a_constant_number_of_queries(
    support, model, rows, django_assert_max_num_queries
):
    for _ in range(rows):
        workspace = WorkspaceFactory()
        rule = rules_for(workspace)[Rule.Kind.BOOKING_REMINDER]
        booking = BookingFactory(workspace=workspace)
        event, item = low_item_event(workspace)
        reminder = Reminder.objects.create(
            workspace=workspace,
            booking=booking,
            offset_minutes=rule.offset_minutes,
            booking_start=booking.start,
            due_at=booking.start - timedelta(days=1),
        )
        AutomationRun.objects.create(
            workspace=workspace,
            rule=rule,
            reminder=reminder,
            event=event,
            key=f"reminder:{reminder.pk}",
            outcome=AutomationRun.Outcome.SENT,
            contact=booking.contact,
            booking=booking,
        )
        Alert.objects.create(
            workspace=workspace,
            kind=Alert.Kind.STOCK_LOW,
            subject_type="inventory_item",
            subject_id=item.pk,
            message=f"{item.name} is low",
            acknowledged_at=timezone.now(),
            acknowledged_by=User.objects.get(email="support@careops.test"),
        )

    # session, user, count, filtered count, the page (related rows joined), the date
    # hierarchy, and the workspace filter's choices
    with django_assert_max_num_queries(8):
        response = support.get(changelist(model))

    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == rows * (
        len(Rule.Kind.values) if model == "rule" else 1
    )


def test_support_finds_the_events_not_yet_dispatched(support, workspace_a):
    waiting, _ = low_item_event(workspace_a)
    low_item_event(workspace_a, dispatched_at=timezone.now())

    response = support.get(changelist("event"), {"dispatched_at__isempty": "1"})

    assert [event.pk for event in response.context["cl"].result_list] == [waiting.pk]


def test_dispatching_again_retries_the_rule_that_failed(
    support, workspace_a, django_capture_on_commit_callbacks
):
    rule = rules_for(workspace_a)[Rule.Kind.STOCK_LOW]
    event, item = low_item_event(workspace_a, dispatched_at=timezone.now())
    AutomationRun.objects.create(
        workspace=workspace_a,
        rule=rule,
        event=event,
        key=run_key(event, rule.kind),
        outcome=AutomationRun.Outcome.FAILED,
        reason="OperationalError: the database went away",
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(
            changelist("event"), {"action": "dispatch_again", "_selected_action": [event.pk]}
        )

    assert response.status_code == 302
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert Alert.objects.get().subject_id == item.pk
    outcomes = AutomationRun.objects.filter(event=event).order_by("pk")
    assert [run.outcome for run in outcomes] == ["failed", "done"]


def test_dispatching_again_an_event_that_was_acted_on_does_nothing_twice(
    support, workspace_a, django_capture_on_commit_callbacks
):
    event, _ = low_item_event(workspace_a)
    action = {"action": "dispatch_again", "_selected_action": [event.pk]}
    with django_capture_on_commit_callbacks(execute=True):
        support.post(changelist("event"), action)
    with django_capture_on_commit_callbacks(execute=True):
        support.post(changelist("event"), action)

    assert AutomationRun.objects.filter(event=event).count() == 1
    assert Alert.objects.count() == 1


def test_the_outbox_runs_and_reminders_are_read_only(support, workspace_a):
    event, _ = low_item_event(workspace_a)

    shown = support.get(reverse("admin:automation_event_change", args=[event.pk]))
    changed = support.post(
        reverse("admin:automation_event_change", args=[event.pk]), {"subject_id": "1"}
    )

    assert shown.status_code == 200
    assert changed.status_code == 403
    for model in ("event", "reminder", "automationrun", "alert", "rule"):
        assert support.get(reverse(f"admin:automation_{model}_add")).status_code == 403


def test_support_switches_a_rule_off_but_cannot_edit_its_texts(support, workspace_a):
    rule = rules_for(workspace_a)[Rule.Kind.WELCOME]
    body = rule.body

    response = support.post(
        reverse("admin:automation_rule_change", args=[rule.pk]),
        {"body": "Changed by support"},  # is_enabled unchecked: off
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.is_enabled, rule.body) == (False, body)


def test_support_acknowledges_alerts(support, workspace_a):
    _, item = low_item_event(workspace_a)
    alert = Alert.objects.create(
        workspace=workspace_a,
        kind=Alert.Kind.STOCK_LOW,
        subject_type="inventory_item",
        subject_id=item.pk,
        message="Gloves is low",
    )

    response = support.post(
        changelist("alert"), {"action": "acknowledge_selected", "_selected_action": [alert.pk]}
    )

    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.acknowledged_by.email == "support@careops.test"
    assert not alert.is_open
    open_only = support.get(changelist("alert"), {"state": "open"})
    assert list(open_only.context["cl"].result_list) == []

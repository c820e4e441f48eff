"""Alerts: one open per subject and kind, acknowledged by staff, resolved when the cause goes;
raised by overdue forms and low stock through the real chain (signal -> outbox -> dispatch)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from automation.alerts import (
    alert_acknowledge,
    alert_email_owners,
    alert_raise,
    alerts_resolve,
    inventory_check,
)
from automation.models import Alert, AutomationRun, Event, Rule
from automation.rules import rules_for
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.services import submission_submit, submissions_mark_overdue
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from inventory.models import InventoryItem, InventoryUsage
from inventory.services import item_create, stock_move
from inventory.tests.factories import InventoryItemFactory
from tests.concurrency import race

pytestmark = pytest.mark.django_db

Kind = InventoryUsage.Kind


def raise_for(workspace, subject_id: int = 7, **extra):
    return alert_raise(
        workspace=workspace,
        kind=Alert.Kind.STOCK_LOW,
        subject_type="inventory_item",
        subject_id=subject_id,
        message="Gloves are low",
        **extra,
    )


def open_alerts(workspace):
    return Alert.objects.for_workspace(workspace).filter(
        acknowledged_at__isnull=True, resolved_at__isnull=True
    )


def rule_set(workspace, kind: str, **values) -> None:
    rules_for(workspace)
    Rule.objects.for_workspace(workspace).filter(kind=kind).update(**values)


# --- Raise, acknowledge, resolve -----------------------------------------------------------------


def test_raising_twice_keeps_one_open_alert(workspace_a):
    first, created = raise_for(workspace_a)
    again, created_again = raise_for(workspace_a)

    assert (created, created_again) == (True, False)
    assert again.pk == first.pk
    assert open_alerts(workspace_a).count() == 1


def test_the_same_subject_in_another_workspace_or_kind_is_another_alert(workspace_a, workspace_b):
    raise_for(workspace_a)
    raise_for(workspace_b)
    alert_raise(
        workspace=workspace_a,
        kind=Alert.Kind.FORM_OVERDUE,
        subject_type="inventory_item",
        subject_id=7,
        message="Other",
    )

    assert Alert.objects.count() == 3


def test_an_acknowledged_alert_leaves_room_for_a_new_one(workspace_a, staff):
    first, _ = raise_for(workspace_a)

    alert_acknowledge(alert=first, actor=staff)
    second, created = raise_for(workspace_a)

    assert created
    assert second.pk != first.pk
    first.refresh_from_db()
    assert (first.acknowledged_by, first.is_open) == (staff, False)


def test_acknowledging_again_keeps_who_acknowledged_first(workspace_a, staff, owner):
    alert, _ = raise_for(workspace_a)
    alert_acknowledge(alert=alert, actor=staff)
    acknowledged_at = alert.acknowledged_at

    alert_acknowledge(alert=alert, actor=owner, now=timezone.now() + timedelta(hours=1))

    alert.refresh_from_db()
    assert (alert.acknowledged_by, alert.acknowledged_at) == (staff, acknowledged_at)


def test_resolving_closes_the_open_alert_and_a_new_cause_raises_again(workspace_a):
    first, _ = raise_for(workspace_a)
    raise_for(workspace_a, subject_id=8)

    resolved = alerts_resolve(
        workspace=workspace_a,
        kind=Alert.Kind.STOCK_LOW,
        subject_type="inventory_item",
        subject_id=7,
    )

    first.refresh_from_db()
    assert resolved == 1
    assert first.resolved_at is not None
    assert list(open_alerts(workspace_a).values_list("subject_id", flat=True)) == [8]
    assert raise_for(workspace_a)[1] is True


def test_resolving_nothing_open_is_harmless(workspace_a):
    assert (
        alerts_resolve(
            workspace=workspace_a,
            kind=Alert.Kind.STOCK_LOW,
            subject_type="inventory_item",
            subject_id=7,
        )
        == 0
    )


@pytest.mark.django_db(transaction=True)
def test_two_simultaneous_raises_make_one_alert(workspace_a):
    results, errors = race(lambda i: raise_for(workspace_a), 2)

    assert errors == []
    assert Alert.objects.count() == 1
    assert sorted(created for _, created in results) == [False, True]
    assert {alert.pk for alert, _ in results} == {Alert.objects.get().pk}


# --- Overdue forms, through the real chain -----------------------------------------------------


@pytest.fixture
def overdue_soon(workspace_a):
    contact = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    template = FormTemplateFactory(workspace=workspace_a, name="New client intake")
    sent = timezone.now() - timedelta(hours=49)
    return FormSubmissionFactory(
        workspace=workspace_a,
        template=template,
        contact=contact,
        sent_at=sent,
        due_at=sent + timedelta(hours=48),
    )


def test_an_overdue_form_raises_an_alert_for_staff(
    overdue_soon, workspace_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert submissions_mark_overdue() == 1

    alert = Alert.objects.get()
    assert alert.workspace == workspace_a
    assert (alert.kind, alert.subject_type, alert.subject_id) == (
        "form_overdue",
        "form_submission",
        overdue_soon.pk,
    )
    assert alert.message == "Ada Lovelace's “New client intake” is overdue"
    assert alert.url == f"/forms/submissions/{overdue_soon.pk}/"
    run = AutomationRun.objects.get(rule__kind=Rule.Kind.FORM_OVERDUE)
    assert (run.outcome, run.contact_id) == ("done", overdue_soon.contact_id)
    assert Event.objects.get(kind=Event.Kind.FORM_OVERDUE).dispatched_at is not None


def test_a_form_sent_by_hand_is_overdue_after_its_due_hours_not_before(
    workspace_a, owner, django_capture_on_commit_callbacks
):
    from forms.services import form_send

    contact = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    template = FormTemplateFactory(workspace=workspace_a, name="Consent", due_hours=48)
    sent_at = timezone.now()
    with time_machine.travel(sent_at, tick=False):
        submission = form_send(
            workspace=workspace_a, template=template, contact=contact, actor=owner, deliver=False
        )

    with django_capture_on_commit_callbacks(execute=True):
        with time_machine.travel(sent_at + timedelta(hours=47, minutes=59), tick=False):
            assert submissions_mark_overdue() == 0  # the hourly check, a minute early
        assert not Alert.objects.exists()
        with time_machine.travel(sent_at + timedelta(hours=48, minutes=30), tick=False):
            assert submissions_mark_overdue() == 1

    submission.refresh_from_db()
    assert submission.status == FormSubmission.Status.OVERDUE
    alert = Alert.objects.get(kind=Alert.Kind.FORM_OVERDUE)
    assert alert.subject_id == submission.pk
    assert alert.message == "Ada Lovelace's “Consent” is overdue"


def test_the_overdue_check_run_twice_raises_one_alert(
    overdue_soon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submissions_mark_overdue()
        submissions_mark_overdue()

    assert Alert.objects.count() == 1


def test_completing_an_overdue_form_resolves_its_alert(
    overdue_soon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submissions_mark_overdue()
    with django_capture_on_commit_callbacks(execute=True):
        submission_submit(
            submission=FormSubmission.objects.get(pk=overdue_soon.pk),
            data={
                "full_name": "Ada Lovelace",
                "visit": "Yes",
                "consent": True,
                "signature": "Ada Lovelace",
            },
        )

    alert = Alert.objects.get()
    assert alert.resolved_at is not None
    assert not alert.is_open
    # The alert was raised by the rule's run; the completion's run says it closed it.
    runs = AutomationRun.objects.filter(rule__kind=Rule.Kind.FORM_OVERDUE).order_by("pk")
    assert [(run.outcome, run.reason) for run in runs] == [
        ("done", "Alert raised for staff."),
        ("done", "The form came in: its overdue alert is resolved."),
    ]


def test_completing_a_form_resolves_its_alert_with_the_rule_switched_off(
    overdue_soon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submissions_mark_overdue()
    Rule.objects.filter(kind=Rule.Kind.FORM_OVERDUE).update(is_enabled=False)
    with django_capture_on_commit_callbacks(execute=True):
        submission_submit(
            submission=FormSubmission.objects.get(pk=overdue_soon.pk),
            data={
                "full_name": "Ada Lovelace",
                "visit": "Yes",
                "consent": True,
                "signature": "Ada Lovelace",
            },
        )

    assert not Alert.objects.get().is_open


def test_an_overdue_form_with_the_rule_switched_off_raises_nothing(
    overdue_soon, workspace_a, django_capture_on_commit_callbacks
):
    rule_set(workspace_a, Rule.Kind.FORM_OVERDUE, is_enabled=False)

    with django_capture_on_commit_callbacks(execute=True):
        submissions_mark_overdue()

    assert not Alert.objects.exists()
    assert AutomationRun.objects.get(rule__kind=Rule.Kind.FORM_OVERDUE).outcome == "skipped"


# --- Low stock -----------------------------------------------------------------------------------


@pytest.fixture
def gloves(workspace_a):
    return InventoryItemFactory(
        workspace=workspace_a, name="Gloves", unit="box", quantity_on_hand=5, low_stock_threshold=3
    )


def test_usage_crossing_the_threshold_raises_a_low_stock_alert(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=1, actor=staff)  # 4: not low
    assert not Alert.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=2, actor=staff)  # 2: low

    alert = Alert.objects.get()
    assert (alert.kind, alert.subject_id) == ("stock_low", gloves.pk)
    assert alert.message == "Gloves is low: 2 box left (threshold 3)"
    assert alert.url == f"/inventory/{gloves.pk}/"
    assert mail.outbox == []  # the owners' email is off by default


def test_with_email_owners_on_the_owner_is_emailed_once(
    gloves, workspace_a, owner, staff, settings, django_capture_on_commit_callbacks
):
    settings.SITE_URL = "https://app.careops.test"
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, email_owners=True)

    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=3, actor=staff)

    alert = Alert.objects.get()
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [owner.email]  # owners only, not staff
    assert email.subject == "[Alpha Clinic] Gloves is low: 2 box left (threshold 3)"
    assert f"https://app.careops.test/inventory/{gloves.pk}/" in email.body
    alert.refresh_from_db()
    assert alert.emailed_at is not None

    assert alert_email_owners(alert_id=alert.pk) is False
    assert len(mail.outbox) == 1


def test_an_item_name_with_a_line_break_still_makes_a_one_line_subject(workspace_a, owner):
    alert, _ = raise_for(workspace_a)
    Alert.objects.filter(pk=alert.pk).update(message="Gloves\r\nBcc: x@example.com is low")

    assert alert_email_owners(alert_id=alert.pk) is True
    assert mail.outbox[0].subject == "[Alpha Clinic] Gloves Bcc: x@example.com is low"


def test_an_alert_closed_before_its_email_is_not_emailed(workspace_a, owner, staff):
    alert, _ = raise_for(workspace_a)
    alert_acknowledge(alert=alert, actor=staff)

    assert alert_email_owners(alert_id=alert.pk) is False
    assert mail.outbox == []


def test_every_owner_is_emailed(workspace_a, owner):
    from workspaces.models import Membership
    from workspaces.tests.factories import MembershipFactory

    co_owner = MembershipFactory(workspace=workspace_a, role=Membership.Role.OWNER).user
    alert, _ = raise_for(workspace_a)

    assert alert_email_owners(alert_id=alert.pk) is True
    assert sorted(mail.outbox[0].to) == sorted([owner.email, co_owner.email])


def test_low_stock_with_the_rule_switched_off_raises_nothing(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, is_enabled=False, email_owners=True)

    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=3, actor=staff)

    assert not Alert.objects.exists()
    assert mail.outbox == []
    assert AutomationRun.objects.get(rule__kind=Rule.Kind.STOCK_LOW).outcome == "skipped"


# --- The hourly inventory check ------------------------------------------------------------------


def test_the_inventory_check_alerts_on_items_low_from_the_start_once(workspace_a, owner):
    # Created at or below its threshold: low, but nothing crossed, so no event was raised.
    item = item_create(
        workspace=workspace_a, actor=owner, name="Masks", quantity_on_hand=2, low_stock_threshold=5
    )
    InventoryItemFactory(workspace=workspace_a, quantity_on_hand=50)  # not low
    InventoryItemFactory(workspace=workspace_a, quantity_on_hand=0, is_active=False)  # retired

    assert inventory_check() == 1
    assert inventory_check() == 0

    alert = Alert.objects.get()
    assert (alert.kind, alert.subject_id, alert.is_open) == ("stock_low", item.pk, True)


def test_the_inventory_check_resolves_alerts_of_restocked_items(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=3, actor=staff)
    stock_move(item=gloves, kind=Kind.RESTOCK, quantity=20, actor=staff)

    assert inventory_check() == 0

    alert = Alert.objects.get()
    assert alert.resolved_at is not None
    assert InventoryItem.objects.get(pk=gloves.pk).low_since is None


def test_the_inventory_check_skips_workspaces_whose_rule_is_off(workspace_a, workspace_b):
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, is_enabled=False)
    InventoryItemFactory(workspace=workspace_a, quantity_on_hand=1)
    low_in_b = InventoryItemFactory(workspace=workspace_b, quantity_on_hand=1)

    assert inventory_check() == 1
    assert Alert.objects.get().workspace == workspace_b
    assert Alert.objects.get().subject_id == low_in_b.pk


def test_the_inventory_check_emails_owners_when_the_rule_says_so(
    workspace_a, owner, django_capture_on_commit_callbacks
):
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, email_owners=True)
    InventoryItemFactory(workspace=workspace_a, name="Masks", quantity_on_hand=1)

    with django_capture_on_commit_callbacks(execute=True):
        inventory_check()
        inventory_check()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]


def test_an_acknowledged_low_stock_alert_is_not_raised_again_by_the_hourly_check(
    gloves, workspace_a, owner, staff, django_capture_on_commit_callbacks
):
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, email_owners=True)
    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=3, actor=staff)
    alert_acknowledge(alert=Alert.objects.get(), actor=staff)

    with django_capture_on_commit_callbacks(execute=True):
        assert inventory_check() == 0
        assert inventory_check() == 0

    assert Alert.objects.count() == 1
    assert len(mail.outbox) == 1  # the first alert's email, no other


def test_an_item_low_again_after_a_restock_is_alerted_again_despite_the_acknowledged_alert(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=3, actor=staff)
    alert_acknowledge(alert=Alert.objects.get(), actor=staff)
    stock_move(item=gloves, kind=Kind.RESTOCK, quantity=20, actor=staff)
    inventory_check()  # restocked: the acknowledged alert is resolved

    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=Kind.USAGE, quantity=21, actor=staff)

    assert Alert.objects.get(resolved_at__isnull=True).acknowledged_at is None
    assert Alert.objects.count() == 2


def test_the_inventory_check_emails_an_open_alert_whose_email_was_lost(
    gloves, workspace_a, owner, django_capture_on_commit_callbacks
):
    # Raised with the rule's email on, but the email task never ran (the broker was down).
    alert, _ = alert_raise(
        workspace=workspace_a,
        kind=Alert.Kind.STOCK_LOW,
        subject_type="inventory_item",
        subject_id=gloves.pk,
        message="Gloves are low",
    )
    InventoryItem.objects.filter(pk=gloves.pk).update(quantity_on_hand=1, low_since=timezone.now())
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, email_owners=True)

    with django_capture_on_commit_callbacks(execute=True):
        assert inventory_check() == 0
    with django_capture_on_commit_callbacks(execute=True):
        inventory_check()

    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == [owner.email]
    alert.refresh_from_db()
    assert alert.emailed_at is not None


def test_the_owners_email_is_retried_when_the_mail_server_fails(workspace_a, owner, monkeypatch):
    from smtplib import SMTPServerDisconnected

    from automation import tasks

    alert, _ = raise_for(workspace_a)
    failures = []
    real_send = mail.send_mail

    def flaky_send(*args, **kwargs):
        if not failures:
            failures.append(1)
            raise SMTPServerDisconnected("connection lost")
        return real_send(*args, **kwargs)

    monkeypatch.setattr("automation.alerts.core.send_mail", flaky_send)
    # Run as a worker would (not propagating): Celery's eager apply runs the retry at once.
    result = tasks.automation_email_alert.apply(args=[alert.pk], throw=False)

    assert result.get() is True

    assert failures == [1]
    assert len(mail.outbox) == 1
    alert.refresh_from_db()
    assert alert.emailed_at is not None


def test_completing_a_form_leaves_the_alert_to_the_dispatch_after_commit(
    overdue_soon, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        submissions_mark_overdue()

    # The client's submission itself writes no alert (its resolve cannot fail the request).
    with django_capture_on_commit_callbacks(execute=False) as queued:
        submission_submit(
            submission=FormSubmission.objects.get(pk=overdue_soon.pk),
            data={
                "full_name": "Ada Lovelace",
                "visit": "Yes",
                "consent": True,
                "signature": "Ada Lovelace",
            },
        )
    assert Alert.objects.get().is_open
    for callback in queued:
        callback()

    assert Alert.objects.get().resolved_at is not None


def test_a_form_completed_without_an_overdue_alert_records_no_run(
    workspace_a, django_capture_on_commit_callbacks
):
    template = FormTemplateFactory(workspace=workspace_a)
    submission = FormSubmissionFactory(workspace=workspace_a, template=template)
    Event.objects.all().delete()

    with django_capture_on_commit_callbacks(execute=True):
        from automation.engine import event_record

        event_record(
            workspace=workspace_a,
            kind=Event.Kind.FORM_SUBMITTED,
            subject_type="form_submission",
            subject_id=submission.pk,
        )

    assert Event.objects.get().dispatched_at is not None
    assert not AutomationRun.objects.exists()

"""Handlers that raise and resolve alerts on events: overdue forms, low stock, failing
providers; and the quick resolution of the swept kinds (a staff reply, a booking confirmed, a
restock) before the next sweep comes."""

from __future__ import annotations

from automation.alerts import alert_email_queue, alert_raise, alerts_resolve, stock_low_raise
from automation.alerts.core import alert_notice_post
from automation.alerts.inventory import stock_recheck
from automation.engine import RunResult, handles
from automation.models import Alert, AutomationRun, Event, Rule
from bookings.models import Booking
from forms.models import FormSubmission
from inventory.models import InventoryItem
from messaging.models import Integration

Outcome = AutomationRun.Outcome


def _submission(event: Event) -> FormSubmission | None:
    return (
        FormSubmission.objects.for_workspace(event.workspace_id)
        .select_related("contact")
        .filter(pk=event.subject_id)
        .first()
    )


@handles(Event.Kind.FORM_OVERDUE, Rule.Kind.FORM_OVERDUE)
def form_overdue_alert(event: Event, rule: Rule) -> RunResult:
    submission = _submission(event)
    if submission is None:
        return RunResult(Outcome.SKIPPED, "The form no longer exists.")
    about = {"contact_id": submission.contact_id, "booking_id": submission.booking_id}
    if submission.status != FormSubmission.Status.OVERDUE:
        return RunResult(Outcome.SKIPPED, "The form was completed before the alert.", **about)
    _, created = alert_raise(
        workspace=event.workspace_id,
        kind=Alert.Kind.FORM_OVERDUE,
        subject_id=submission.pk,
        message=f"{submission.contact}'s “{submission.template_name}” is overdue",
    )
    reason = "Alert raised for staff." if created else "An alert was already open."
    return RunResult(Outcome.DONE, reason, **about)


@handles(Event.Kind.FORM_SUBMITTED, Rule.Kind.FORM_OVERDUE, always=True)
def form_submitted_resolve(event: Event, rule: Rule) -> RunResult | None:
    """The form came in: its overdue alert is over, whatever the rule's switch says (an alert
    raised before the rule was switched off must not stay open). Housekeeping: a run is
    recorded only when an alert was closed."""
    resolved = alerts_resolve(
        workspace=event.workspace_id, kind=Alert.Kind.FORM_OVERDUE, subject_id=event.subject_id
    )
    if not resolved:
        return None
    # Ids of rows that exist (the submission's own), not the payload's: a run naming a deleted
    # contact would fail the dispatch at commit.
    submission = _submission(event)
    about = (
        {"contact_id": submission.contact_id, "booking_id": submission.booking_id}
        if submission is not None
        else {}
    )
    return RunResult(Outcome.DONE, "The form came in: its overdue alert is resolved.", **about)


@handles(Event.Kind.STOCK_LOW, Rule.Kind.STOCK_LOW)
def stock_low_alert(event: Event, rule: Rule) -> RunResult:
    item = (
        InventoryItem.objects.for_workspace(event.workspace_id).filter(pk=event.subject_id).first()
    )
    if item is None:
        return RunResult(Outcome.SKIPPED, "The item no longer exists.")
    if not item.is_active or item.low_since is None:
        return RunResult(Outcome.SKIPPED, "The item is no longer low (or no longer in use).")
    alert, created = stock_low_raise(item)
    reason = "Alert raised for staff." if created else "An alert was already open."
    if rule.email_owners and alert.emailed_at is None:
        # The task sends at most once per alert (emailed_at, under the alert's row lock).
        alert_email_queue(alert)
        reason += " The owners are emailed."
    if rule.inbox_owners:
        alert_notice_post(alert)  # once per alert: a second post finds the first
        reason += " Posted to the owners' inbox."
    return RunResult(Outcome.DONE, reason)


@handles(Event.Kind.STOCK_RESTOCKED, Rule.Kind.STOCK_LOW, always=True)
def stock_restocked_resolve(event: Event, rule: Rule) -> RunResult | None:
    """Stock came in: its low and critical alerts close at once when their cause is gone
    (housekeeping, whatever the rule's switch says; a run only when one was closed)."""
    item = (
        InventoryItem.objects.for_workspace(event.workspace_id).filter(pk=event.subject_id).first()
    )
    if item is None or not stock_recheck(item):
        return None
    return RunResult(Outcome.DONE, "Restocked: its stock alerts are resolved.")


@handles(Event.Kind.STAFF_REPLIED, Rule.Kind.MISSED_MESSAGE, always=True)
def staff_replied_resolve(event: Event, rule: Rule) -> RunResult | None:
    """A staff member replied: the conversation's missed-message alert is over."""
    resolved = alerts_resolve(
        workspace=event.workspace_id,
        kind=Alert.Kind.MISSED_MESSAGE,
        subject_id=event.payload.get("conversation_id") or 0,
    )
    if not resolved:
        return None
    return RunResult(Outcome.DONE, "Staff replied: the unanswered-message alert is resolved.")


@handles(Event.Kind.BOOKING_STATUS_CHANGED, Rule.Kind.BOOKING_UNCONFIRMED, always=True)
def booking_status_resolve(event: Event, rule: Rule) -> RunResult | None:
    """A booking left pending (confirmed, cancelled, ...): its unconfirmed alert is over."""
    if event.payload.get("status") == Booking.Status.PENDING:
        return None
    resolved = alerts_resolve(
        workspace=event.workspace_id,
        kind=Alert.Kind.BOOKING_UNCONFIRMED,
        subject_id=event.subject_id,
    )
    if not resolved:
        return None
    booking_id = (
        Booking.objects.for_workspace(event.workspace_id)
        .filter(pk=event.subject_id)
        .values_list("pk", flat=True)
        .first()
    )
    return RunResult(
        Outcome.DONE,
        "The booking is no longer pending: its unconfirmed alert is resolved.",
        booking_id=booking_id,
    )


def _integration(event: Event) -> Integration | None:
    return Integration.objects.for_workspace(event.workspace_id).filter(pk=event.subject_id).first()


@handles(Event.Kind.INTEGRATION_FAILED, Rule.Kind.INTEGRATION_FAILURE)
def integration_failed_alert(event: Event, rule: Rule) -> RunResult:
    integration = _integration(event)
    if integration is None:
        return RunResult(Outcome.SKIPPED, "The integration no longer exists.")
    if not integration.is_failing:
        return RunResult(Outcome.SKIPPED, "The integration works again.")
    _, created = alert_raise(
        workspace=event.workspace_id,
        kind=Alert.Kind.INTEGRATION_FAILURE,
        subject_id=integration.pk,
        message=f"{integration.provider} ({integration.get_channel_display()}) is failing: "
        f"{integration.last_error}",
    )
    return RunResult(
        Outcome.DONE, "Alert raised for the owners." if created else "An alert was already open."
    )


@handles(Event.Kind.INTEGRATION_RECOVERED, Rule.Kind.INTEGRATION_FAILURE, always=True)
def integration_recovered_resolve(event: Event, rule: Rule) -> RunResult | None:
    resolved = alerts_resolve(
        workspace=event.workspace_id,
        kind=Alert.Kind.INTEGRATION_FAILURE,
        subject_id=event.subject_id,
    )
    if not resolved:
        return None
    return RunResult(Outcome.DONE, "The provider works again: its alert is resolved.")

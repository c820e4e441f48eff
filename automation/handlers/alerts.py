"""Handlers that raise alerts: overdue forms, low stock."""

from __future__ import annotations

from django.urls import reverse

from automation.alerts import alert_email_queue, alert_raise, alerts_resolve, stock_low_raise
from automation.engine import RunResult, handles
from automation.models import Alert, AutomationRun, Event, Rule
from forms.models import FormSubmission
from inventory.models import InventoryItem

Outcome = AutomationRun.Outcome
SUBMISSION_SUBJECT = "form_submission"


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
        subject_type=SUBMISSION_SUBJECT,
        subject_id=submission.pk,
        message=f"{submission.contact}'s “{submission.template_name}” is overdue",
        url=reverse("form-submission-detail", args=[submission.pk]),
    )
    reason = "Alert raised for staff." if created else "An alert was already open."
    return RunResult(Outcome.DONE, reason, **about)


@handles(Event.Kind.FORM_SUBMITTED, Rule.Kind.FORM_OVERDUE, always=True)
def form_submitted_resolve(event: Event, rule: Rule) -> RunResult | None:
    """The form came in: its overdue alert is over, whatever the rule's switch says (an alert
    raised before the rule was switched off must not stay open). Housekeeping: a run is
    recorded only when an alert was closed."""
    resolved = alerts_resolve(
        workspace=event.workspace_id,
        kind=Alert.Kind.FORM_OVERDUE,
        subject_type=SUBMISSION_SUBJECT,
        subject_id=event.subject_id,
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
    return RunResult(Outcome.DONE, reason)

"""Automation listens to the other domains: each signal becomes an Event in the same
transaction (see automation.engine).

Payloads carry what handlers need that the subject no longer says (the previous status, the
previous start) and the contact (and booking) the event is about, so every run, even a skipped
one, shows on their pages.
"""

from __future__ import annotations

from django.dispatch import receiver

from automation.engine import event_record
from automation.models import Event, Rule
from bookings.signals import booking_created, booking_rescheduled, booking_status_changed
from contacts.signals import contact_created
from forms.signals import form_overdue, form_submitted
from inventory.signals import stock_low, stock_restocked
from messaging.services import set_pause_on_staff_reply
from messaging.signals import integration_failed, integration_recovered, staff_replied


def _record(kind: str, subject_type: str, subject, payload: dict) -> None:
    event_record(
        workspace=subject.workspace_id,
        kind=kind,
        subject_type=subject_type,
        subject_id=subject.pk,
        payload=payload,
    )


@receiver(contact_created, dispatch_uid="automation.contact_created")
def on_contact_created(sender, contact, **kwargs) -> None:
    _record(Event.Kind.CONTACT_CREATED, "contact", contact, {"contact_id": contact.pk})


def _booking_payload(booking, **extra) -> dict:
    return {"contact_id": booking.contact_id, "booking_id": booking.pk, **extra}


@receiver(booking_created, dispatch_uid="automation.booking_created")
def on_booking_created(sender, booking, **kwargs) -> None:
    _record(Event.Kind.BOOKING_CREATED, "booking", booking, _booking_payload(booking))


@receiver(booking_rescheduled, dispatch_uid="automation.booking_rescheduled")
def on_booking_rescheduled(sender, booking, previous_start, **kwargs) -> None:
    _record(
        Event.Kind.BOOKING_RESCHEDULED,
        "booking",
        booking,
        _booking_payload(
            booking, previous_start=previous_start.isoformat(), start=booking.start.isoformat()
        ),
    )


@receiver(booking_status_changed, dispatch_uid="automation.booking_status_changed")
def on_booking_status_changed(sender, booking, previous, **kwargs) -> None:
    _record(
        Event.Kind.BOOKING_STATUS_CHANGED,
        "booking",
        booking,
        _booking_payload(booking, previous_status=previous, status=booking.status),
    )


def _submission_payload(submission) -> dict:
    return {
        "contact_id": submission.contact_id,
        "booking_id": submission.booking_id,
        "template_id": submission.template_id,
    }


@receiver(form_submitted, dispatch_uid="automation.form_submitted")
def on_form_submitted(sender, submission, **kwargs) -> None:
    # Its overdue alert is resolved by a housekeeping handler (automation.handlers.alerts),
    # after commit: nothing here may fail the client's submission.
    _record(
        Event.Kind.FORM_SUBMITTED, "form_submission", submission, _submission_payload(submission)
    )


@receiver(form_overdue, dispatch_uid="automation.form_overdue")
def on_form_overdue(sender, submission, **kwargs) -> None:
    _record(Event.Kind.FORM_OVERDUE, "form_submission", submission, _submission_payload(submission))


# forms.signals.form_sent is not recorded: no rule acts on a form being sent (its due time is
# on the submission, and forms' hourly check raises form_overdue).


@receiver(staff_replied, dispatch_uid="automation.staff_replied")
def on_staff_replied(sender, message, conversation, **kwargs) -> None:
    _record(
        Event.Kind.STAFF_REPLIED,
        "message",
        message,
        {"conversation_id": conversation.pk, "contact_id": conversation.contact_id},
    )


@receiver(stock_low, dispatch_uid="automation.stock_low")
def on_stock_low(sender, item, **kwargs) -> None:
    _record(
        Event.Kind.STOCK_LOW, "inventory_item", item, {"quantity_on_hand": item.quantity_on_hand}
    )


@receiver(stock_restocked, dispatch_uid="automation.stock_restocked")
def on_stock_restocked(sender, item, **kwargs) -> None:
    _record(
        Event.Kind.STOCK_RESTOCKED,
        "inventory_item",
        item,
        {"quantity_on_hand": item.quantity_on_hand},
    )


@receiver(integration_failed, dispatch_uid="automation.integration_failed")
def on_integration_failed(sender, integration, **kwargs) -> None:
    _record(
        Event.Kind.INTEGRATION_FAILED, "integration", integration, {"error": integration.last_error}
    )


@receiver(integration_recovered, dispatch_uid="automation.integration_recovered")
def on_integration_recovered(sender, integration, **kwargs) -> None:
    _record(Event.Kind.INTEGRATION_RECOVERED, "integration", integration, {})


def pause_on_reply_enabled(workspace) -> bool:
    """Messaging asks this when staff reply: does the reply pause the conversation's
    automation? (The workspace's PAUSE_ON_REPLY rule, on by default: a workspace without the
    row yet has it on.) Read-only: it runs inside the staff member's reply."""
    enabled = (
        Rule.objects.filter(
            workspace_id=getattr(workspace, "pk", workspace), kind=Rule.Kind.PAUSE_ON_REPLY
        )
        .values_list("is_enabled", flat=True)
        .first()
    )
    return enabled is not False


set_pause_on_staff_reply(pause_on_reply_enabled)

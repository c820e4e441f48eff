"""The events an endpoint may subscribe to, and the JSON each delivery sends.

    {"id": "evt_123", "type": "booking.created", "created_at": "2026-12-03T09:00:00Z",
     "workspace": {"id": 7, "slug": "alpha-clinic"},
     "data": {"booking": {...}, ...what the event says beyond its subject}}

`data` is a small snapshot of the subject taken when the event is dispatched (seconds after the
change), never a secret: no tokens, links or answers to forms.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from automation.models import Event
from bookings.models import Booking
from contacts.models import Contact
from forms.models import FormSubmission
from inventory.models import InventoryItem

WEBHOOK_EVENTS: tuple[str, ...] = (
    Event.Kind.CONTACT_CREATED,
    Event.Kind.BOOKING_CREATED,
    Event.Kind.BOOKING_RESCHEDULED,
    Event.Kind.BOOKING_STATUS_CHANGED,
    Event.Kind.FORM_SUBMITTED,
    Event.Kind.STOCK_LOW,
)
WEBHOOK_EVENT_CHOICES = [(kind, Event.Kind(kind).label) for kind in WEBHOOK_EVENTS]
PING = "ping"


def _time(value) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat()
    return text.removesuffix("+00:00") + "Z" if text.endswith("+00:00") else text


def _contact(workspace_id: int, pk: int | None) -> dict[str, Any] | None:
    contact = Contact.objects.for_workspace(workspace_id).filter(pk=pk).first() if pk else None
    if contact is None:
        return None
    return {
        "id": contact.pk,
        "name": contact.name,
        "email": contact.email,
        "phone": contact.phone,
        "source": contact.source,
        "created_at": _time(contact.created_at),
    }


def _booking(workspace_id: int, pk: int) -> dict[str, Any] | None:
    booking = (
        Booking.objects.for_workspace(workspace_id)
        .select_related("booking_type")
        .filter(pk=pk)
        .first()
    )
    if booking is None:
        return None
    return {
        "id": booking.pk,
        "status": booking.status,
        "start": _time(booking.start),
        "end": _time(booking.end),
        "service": {"id": booking.booking_type_id, "name": booking.booking_type.name},
        "contact_id": booking.contact_id,
        "staff_id": booking.staff_id,
        "source": booking.source,
    }


def _contact_data(event: Event) -> dict[str, Any]:
    return {"contact": _contact(event.workspace_id, event.subject_id)}


def _booking_data(event: Event) -> dict[str, Any]:
    booking = _booking(event.workspace_id, event.subject_id)
    data: dict[str, Any] = {"booking": booking}
    if booking is not None:
        data["contact"] = _contact(event.workspace_id, booking["contact_id"])
    for key in ("previous_start", "previous_status"):
        if key in event.payload:
            data[key] = event.payload[key]
    return data


def _submission_data(event: Event) -> dict[str, Any]:
    submission = (
        FormSubmission.objects.for_workspace(event.workspace_id).filter(pk=event.subject_id).first()
    )
    if submission is None:
        return {"submission": None}
    return {
        "submission": {
            "id": submission.pk,
            "form": {"id": submission.template_id, "name": submission.template_name},
            "status": submission.status,
            "booking_id": submission.booking_id,
            "completed_at": _time(submission.completed_at),
        },
        "contact": _contact(event.workspace_id, submission.contact_id),
    }


def _item_data(event: Event) -> dict[str, Any]:
    item = InventoryItem.objects.for_workspace(event.workspace_id).filter(pk=event.subject_id)
    item = item.first()
    if item is None:
        return {"item": None}
    return {
        "item": {
            "id": item.pk,
            "name": item.name,
            "sku": item.sku,
            "unit": item.unit,
            "quantity_on_hand": item.quantity_on_hand,
            "low_stock_threshold": item.low_stock_threshold,
        }
    }


DATA: dict[str, Callable[[Event], dict[str, Any]]] = {
    Event.Kind.CONTACT_CREATED: _contact_data,
    Event.Kind.BOOKING_CREATED: _booking_data,
    Event.Kind.BOOKING_RESCHEDULED: _booking_data,
    Event.Kind.BOOKING_STATUS_CHANGED: _booking_data,
    Event.Kind.FORM_SUBMITTED: _submission_data,
    Event.Kind.STOCK_LOW: _item_data,
}


def event_payload(event: Event, workspace) -> dict[str, Any]:
    """What every endpoint subscribed to the event receives (a subject deleted since: null)."""
    return {
        "id": f"evt_{event.pk}",
        "type": event.kind,
        "created_at": _time(event.created_at),
        "workspace": {"id": workspace.pk, "slug": workspace.slug},
        "data": DATA[event.kind](event),
    }


def ping_payload(workspace, now) -> dict[str, Any]:
    """The owner's test: the same envelope, with nothing in it."""
    return {
        "id": f"ping_{int(now.timestamp() * 1000)}",
        "type": PING,
        "created_at": _time(now),
        "workspace": {"id": workspace.pk, "slug": workspace.slug},
        "data": {},
    }

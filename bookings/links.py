"""Bookings' part of a contact: bookings on the timeline, and moved on merge."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from bookings.models import Booking
from contacts.links import ContactLink, TimelineEntry, register_contact_link
from contacts.models import Contact
from workspaces.models import Area


def _url(booking: Booking) -> str:
    try:
        return reverse("booking-detail", args=[booking.pk])
    except NoReverseMatch:  # the dashboard page is not there (yet)
        return ""


def _timeline(contact: Contact, limit: int) -> list[TimelineEntry]:
    bookings = (
        Booking.objects.for_workspace(contact.workspace_id)
        .filter(contact=contact)
        .select_related("booking_type")
        .order_by("-start", "-pk")[:limit]
    )
    return [
        TimelineEntry(
            kind="booking",
            at=b.created_at,
            title=f"Booking: {b.booking_type.name}",
            detail=f"{b.start:%Y-%m-%d %H:%M} UTC, {b.get_status_display().lower()}",
            url=_url(b),
            meta={"id": b.pk, "status": b.status, "start": b.start.isoformat()},
        )
        for b in bookings
    ]


def _reassign(source: Contact, target: Contact) -> int:
    return Booking.objects.filter(workspace_id=source.workspace_id, contact=source).update(
        contact=target
    )


register_contact_link(ContactLink("bookings", _timeline, _reassign, area=Area.BOOKINGS))

"""The client's signed links: cancelling and rescheduling until the booking type's cutoffs."""

from __future__ import annotations

from datetime import datetime

from django.core import signing
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from bookings.models import (
    Booking,
)
from bookings.services.common import MANAGE_SALT, CutoffPassed
from bookings.services.moving import booking_reschedule, booking_set_status
from careops.errors import InvalidInput


def booking_manage_token(booking: Booking) -> str:
    """The signed token of the client's cancel/reschedule links. It does not expire; a new
    manage_nonce on the booking revokes every token issued before."""
    return signing.dumps({"b": booking.pk, "n": booking.manage_nonce}, salt=MANAGE_SALT)


def booking_from_manage_token(token: str) -> Booking:
    """The booking a token names; InvalidInput(fields={"token": [...]}) when forged or revoked."""
    invalid = InvalidInput(fields={"token": ["This link is not valid."]})
    try:
        data = signing.loads(token, salt=MANAGE_SALT)
    except (signing.BadSignature, TypeError, ValueError):
        raise invalid from None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        raise invalid
    booking = (
        Booking.objects.select_related("workspace", "booking_type", "contact", "staff")
        .filter(pk=data.get("b"))
        .first()
    )
    if booking is None or not constant_time_compare(booking.manage_nonce, data["n"]):
        raise invalid
    return booking


def _check_cutoff(deadline: datetime, hours: int, now: datetime) -> None:
    if now > deadline:
        raise CutoffPassed(extra={"cutoff_hours": hours})


def booking_cancel_by_client(
    *, booking: Booking, reason: str = "", now: datetime | None = None
) -> Booking:
    """The client cancels through the signed link; CutoffPassed past cancel_cutoff_hours
    (later than that many hours before the start), InvalidTransition when no longer active."""
    now = now or timezone.now()
    _check_cutoff(booking.cancel_deadline, booking.booking_type.cancel_cutoff_hours, now)
    note = "cancelled by client" + (f": {reason.strip()}" if reason.strip() else "")
    return booking_set_status(booking=booking, status=Booking.Status.CANCELLED, note=note)


def booking_reschedule_by_client(
    *, booking: Booking, start: datetime, now: datetime | None = None
) -> Booking:
    """The client moves the booking; CutoffPassed past reschedule_cutoff_hours. The new start
    must be an offered slot (the type's rules); the same staff member when free, else any."""
    now = now or timezone.now()
    _check_cutoff(booking.reschedule_deadline, booking.booking_type.reschedule_cutoff_hours, now)
    return booking_reschedule(
        booking=booking, start=start, enforce_rules=True, any_staff=True, now=now
    )

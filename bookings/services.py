"""Writes for bookings. The contract other modules build on; bodies being filled in.

Every write that takes time on a calendar runs the availability check and the insert/update in
one transaction; on PostgreSQL the exclusion constraint bookings_booking_no_overlap is the proof,
and its violation (IntegrityError) is turned into SlotUnavailable (409), never a 500.
"""

from __future__ import annotations

from datetime import datetime

from bookings.models import Booking, BookingType
from careops.errors import Conflict


class SlotUnavailable(Conflict):
    code = "slot_unavailable"
    default_message = "This time is no longer available: choose another."


class InvalidTransition(Conflict):
    code = "invalid_transition"
    default_message = "The booking cannot move to that status."
    # raised with extra={"allowed": [...]} listing the statuses it may move to


class CutoffPassed(Conflict):
    code = "cutoff_passed"
    default_message = "It is too late to change this booking online: please contact us."


def booking_create(
    *,
    workspace,
    booking_type: BookingType,
    contact,
    start: datetime,
    staff=None,
    source: str = Booking.Source.STAFF,
    actor=None,
    notes: str = "",
    status: str = Booking.Status.CONFIRMED,
    idempotency_key: str = "",
    enforce_rules: bool = True,
) -> tuple[Booking, bool]:
    """Book `contact` for `booking_type` at `start` (aware datetime). `staff=None` picks any
    available staff member who delivers the type (or the shared calendar when the type has no
    staff). `enforce_rules` (public and API bookings) applies minimum notice, horizon and
    working hours; staff may book outside them but never over another booking. With an
    idempotency key already used in the workspace, returns that booking (created=False).
    Returns (booking, created). Raises SlotUnavailable, InvalidInput."""
    raise NotImplementedError


def booking_reschedule(
    *, booking: Booking, start: datetime, staff=None, actor=None, enforce_rules: bool = True
) -> Booking:
    """Move an active booking to a new start (and optionally another staff member), with the
    same checks as booking_create, excluding the booking itself. reschedule_count += 1."""
    raise NotImplementedError


def booking_set_status(*, booking: Booking, status: str, actor=None, note: str = "") -> Booking:
    """Move a booking along STATUS_TRANSITIONS, recording history; InvalidTransition (409,
    extra={"allowed": [...]}) otherwise."""
    raise NotImplementedError


def booking_manage_token(booking: Booking) -> str:
    """The signed token of the client's cancel/reschedule links."""
    raise NotImplementedError


def booking_from_manage_token(token: str) -> Booking:
    """The booking a token names; InvalidInput(fields={"token": [...]}) when forged or revoked."""
    raise NotImplementedError


def booking_cancel_by_client(*, booking: Booking, reason: str = "") -> Booking:
    """The client cancels through the signed link; CutoffPassed past cancel_cutoff_hours."""
    raise NotImplementedError


def booking_reschedule_by_client(*, booking: Booking, start: datetime) -> Booking:
    """The client moves the booking; CutoffPassed past reschedule_cutoff_hours."""
    raise NotImplementedError

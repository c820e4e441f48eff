"""Writes for bookings. Callers use this package's names; the modules split it by purpose:

    common     the domain errors and the checks every write shares
    creating   booking_create, and booking_book_publicly for clients booking themselves
    moving     booking_reschedule, booking_set_status
    client     the signed manage links, and the client's own cancel and reschedule

Every write that takes time on a calendar runs the availability check and the insert/update in
one transaction; on PostgreSQL the exclusion constraint bookings_booking_no_overlap is the proof,
and its violation (IntegrityError) is turned into SlotUnavailable (409), never a 500.
"""

from __future__ import annotations

from bookings.services.client import (
    booking_cancel_by_client,
    booking_from_manage_token,
    booking_manage_token,
    booking_reschedule_by_client,
)
from bookings.services.common import CutoffPassed, InvalidTransition, SlotUnavailable
from bookings.services.creating import booking_book_publicly, booking_create
from bookings.services.moving import booking_reschedule, booking_set_status

__all__ = [
    "CutoffPassed",
    "InvalidTransition",
    "SlotUnavailable",
    "booking_book_publicly",
    "booking_cancel_by_client",
    "booking_create",
    "booking_from_manage_token",
    "booking_manage_token",
    "booking_reschedule",
    "booking_reschedule_by_client",
    "booking_set_status",
]

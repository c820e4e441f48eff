"""What every booking write shares: the domain errors, and the checks that booking_create and
booking_reschedule both run before the database constraint has the last word."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import IntegrityError
from django.utils import timezone

from bookings.availability import busy_intervals, calendars_for, free_starts
from bookings.models import (
    Booking,
    BookingStatusChange,
    BookingType,
)
from careops.db import is_constraint
from careops.errors import Conflict, InvalidInput

MANAGE_SALT = "careops.bookings.manage"
NO_OVERLAP_CONSTRAINT = "bookings_booking_no_overlap"


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


def check_start(start: datetime) -> None:
    if not isinstance(start, datetime) or timezone.is_naive(start):
        raise InvalidInput(fields={"start": ["Give a date and time with its time zone."]})


def check_rules(booking_type: BookingType, start: datetime, now: datetime) -> None:
    """The notice and horizon rules, as field errors a client can act on."""
    if start < now + timedelta(minutes=booking_type.min_notice_minutes):
        raise InvalidInput(
            fields={"start": ["This time is too soon to book online: choose a later one."]}
        )
    if start > now + timedelta(days=booking_type.horizon_days):
        raise InvalidInput(
            fields={
                "start": [f"Bookings open {booking_type.horizon_days} days ahead: choose sooner."]
            }
        )


def candidates(booking_type: BookingType, staff, *, preferred=None) -> list:
    """The calendars the booking may go on, in the order to try them."""
    calendars = calendars_for(booking_type)
    if staff is not None:
        if staff not in calendars:
            raise InvalidInput(fields={"staff": ["This person does not offer this service."]})
        return [staff]
    if preferred is not None and preferred in calendars:
        calendars.remove(preferred)
        calendars.insert(0, preferred)
    return calendars


def free_calendars(
    *,
    booking_type: BookingType,
    calendars: list,
    start: datetime,
    enforce_rules: bool,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> list:
    """Those of `calendars` on which a booking of the type may start at `start`: on one of the
    offered slots when enforcing the rules, else anywhere nothing else is booked."""
    ids = [None if c is None else c.pk for c in calendars]
    if enforce_rules:
        starts = free_starts(
            booking_type=booking_type,
            calendar_ids=ids,
            range_start=start,
            range_end=start + timedelta.resolution,
            now=now,
            exclude_booking_id=exclude_booking_id,
        )
        return [c for c, pk in zip(calendars, ids, strict=True) if start in starts[pk]]
    blocked_start, blocked_end = blocked_range(booking_type, start)
    busy = busy_intervals(
        workspace=booking_type.workspace,
        calendar_ids=ids,
        range_start=blocked_start,
        range_end=blocked_end,
        exclude_booking_id=exclude_booking_id,
    )
    return [c for c, pk in zip(calendars, ids, strict=True) if not busy[pk]]


def blocked_range(booking_type: BookingType, start: datetime) -> tuple[datetime, datetime]:
    end = start + timedelta(minutes=booking_type.duration_minutes)
    return (
        start - timedelta(minutes=booking_type.buffer_before_minutes),
        end + timedelta(minutes=booking_type.buffer_after_minutes),
    )


def is_overlap(exc: IntegrityError) -> bool:
    return is_constraint(exc, NO_OVERLAP_CONSTRAINT)


def record_status(booking: Booking, from_status: str, actor, note: str = "") -> None:
    BookingStatusChange.objects.create(
        workspace_id=booking.workspace_id,
        booking=booking,
        from_status=from_status,
        to_status=booking.status,
        actor=actor,
        note=note[:255],
    )

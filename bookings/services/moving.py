"""Changing bookings: rescheduling, reassigning, and moving along the status table."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import (
    STATUS_TRANSITIONS,
    Booking,
)
from bookings.services.common import (
    InvalidTransition,
    SlotUnavailable,
    blocked_range,
    candidates,
    check_rules,
    check_start,
    free_calendars,
    is_overlap,
    record_status,
)
from bookings.signals import booking_rescheduled, booking_status_changed
from careops.errors import InvalidInput

log = structlog.get_logger(__name__)


def _locked(booking: Booking) -> Booking:
    """The booking's row, locked until the transaction ends, with what the services read."""
    return (
        Booking.objects.select_for_update(of=("self",))
        .select_related("booking_type", "workspace", "staff")
        .get(pk=booking.pk)
    )


def _refresh(target: Booking, source: Booking) -> None:
    """Copy the stored state onto the caller's instance, so it sees what was written."""
    for field in Booking._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))


def booking_reschedule(
    *,
    booking: Booking,
    start: datetime,
    staff=None,
    actor=None,
    enforce_rules: bool = True,
    any_staff: bool = False,
    now: datetime | None = None,
) -> Booking:
    """Move an active booking to a new start (and optionally another staff member), with the
    same checks as booking_create, excluding the booking itself. reschedule_count += 1.

    `staff=None` keeps the booking's calendar; with `any_staff` it prefers that calendar and
    otherwise takes any other that delivers the type and is free. InvalidTransition for a
    booking that is no longer active; SlotUnavailable, InvalidInput as booking_create."""
    check_start(start)
    start = start.astimezone(UTC)
    now = now or timezone.now()
    with transaction.atomic():
        current = _locked(booking)
        if not current.is_active:
            raise InvalidTransition(
                "Only a pending or confirmed booking can be moved.",
                extra={"allowed": list(STATUS_TRANSITIONS[current.status])},
            )
        booking_type = current.booking_type
        if enforce_rules:
            check_rules(booking_type, start, now)
        if staff is not None or any_staff:
            calendars = candidates(booking_type, staff, preferred=current.staff)
        else:
            calendars = [current.staff]
        free = free_calendars(
            booking_type=booking_type,
            calendars=calendars,
            start=start,
            enforce_rules=enforce_rules,
            now=now,
            exclude_booking_id=current.pk,
        )
        if not free:
            raise SlotUnavailable()
        previous_start, previous_staff_id = current.start, current.staff_id
        current.start = start
        current.end = start + timedelta(minutes=booking_type.duration_minutes)
        current.blocked_start, current.blocked_end = blocked_range(booking_type, start)
        current.reschedule_count += 1
        for calendar in free:
            current.staff = calendar
            try:
                with transaction.atomic():
                    current.save(
                        update_fields=[
                            "start",
                            "end",
                            "blocked_start",
                            "blocked_end",
                            "staff",
                            "reschedule_count",
                            "updated_at",
                        ]
                    )
            except IntegrityError as exc:
                if is_overlap(exc):
                    continue
                raise
            break
        else:
            raise SlotUnavailable()
        note = f"rescheduled from {previous_start:%Y-%m-%d %H:%M} UTC"
        if current.staff_id != previous_staff_id:
            note += f" (staff {previous_staff_id or 'shared'} -> {current.staff_id or 'shared'})"
        record_status(current, current.status, actor, note)
        booking_rescheduled.send(sender=Booking, booking=current, previous_start=previous_start)
    _refresh(booking, current)
    log.info("booking_rescheduled", booking_id=current.pk, staff_id=current.staff_id)
    return booking


def booking_set_status(*, booking: Booking, status: str, actor=None, note: str = "") -> Booking:
    """Move a booking along STATUS_TRANSITIONS, recording history; InvalidTransition (409,
    extra={"allowed": [...]}) otherwise, InvalidInput for an unknown status."""
    if status not in Booking.Status.values:
        raise InvalidInput(
            fields={"status": [f"Choose one of: {', '.join(Booking.Status.values)}."]}
        )
    with transaction.atomic():
        current = _locked(booking)
        allowed = STATUS_TRANSITIONS[current.status]
        if status not in allowed:
            raise InvalidTransition(
                f"A {current.get_status_display().lower()} booking cannot become "
                f"{Booking.Status(status).label.lower()}.",
                extra={"allowed": list(allowed)},
            )
        previous = current.status
        current.status = status
        current.status_changed_at = timezone.now()
        current.status_changed_by = actor
        current.save(
            update_fields=["status", "status_changed_at", "status_changed_by", "updated_at"]
        )
        record_status(current, previous, actor, note)
        booking_status_changed.send(sender=Booking, booking=current, previous=previous)
    _refresh(booking, current)
    log.info("booking_status_changed", booking_id=current.pk, previous=previous, status=status)
    return booking

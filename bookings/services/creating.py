"""Creating bookings: by staff, through the API, and by clients themselves."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from django.db import IntegrityError, transaction
from django.utils import timezone

from bookings.models import (
    ACTIVE_STATUSES,
    Booking,
    BookingType,
)
from bookings.services.common import (
    SlotUnavailable,
    blocked_range,
    candidates,
    check_rules,
    check_start,
    free_calendars,
    is_overlap,
    record_status,
)
from bookings.signals import booking_created
from careops.errors import Conflict, InvalidInput
from contacts.models import Contact
from contacts.services import contact_upsert

log = structlog.get_logger(__name__)


def _replayed(workspace, idempotency_key: str) -> Booking | None:
    """The booking an earlier request with this Idempotency-Key made, if any."""
    if not idempotency_key:
        return None
    return Booking.objects.for_workspace(workspace).filter(idempotency_key=idempotency_key).first()


def _replay_or_refuse(workspace, idempotency_key: str) -> tuple[Booking, bool]:
    """The slot is taken. By the same request retried while the first try was still running
    (its booking is committed now, which is why the slot is taken), that booking is the answer;
    by anyone else, SlotUnavailable."""
    existing = _replayed(workspace, idempotency_key)
    if existing is None:
        raise SlotUnavailable()
    return existing, False


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
    now: datetime | None = None,
) -> tuple[Booking, bool]:
    """Book `contact` for `booking_type` at `start` (aware datetime). `staff=None` picks any
    available staff member who delivers the type (or the shared calendar when the type has no
    staff). `enforce_rules` (public and API bookings) applies minimum notice, horizon and
    working hours, and the start must be one of the offered slots; staff may book outside them
    but never over another booking. With an idempotency key already used in the workspace,
    returns that booking (created=False). Returns (booking, created).
    Raises SlotUnavailable (409), InvalidInput (wrong workspace, inactive type, staff who do not
    deliver the type, a naive start, a start against the notice or horizon)."""
    idempotency_key = (idempotency_key or "").strip()
    if len(idempotency_key) > 100:
        raise InvalidInput(fields={"idempotency_key": ["Use at most 100 characters."]})
    with transaction.atomic():
        existing = _replayed(workspace, idempotency_key)
        if existing is not None:
            return existing, False
        check_start(start)
        if booking_type.workspace_id != workspace.pk:
            raise InvalidInput(
                fields={"booking_type": ["Choose one of this workspace's services."]}
            )
        if not booking_type.is_active:
            raise InvalidInput(fields={"booking_type": ["This service cannot be booked now."]})
        if contact is None or contact.workspace_id != workspace.pk:
            raise InvalidInput(fields={"contact": ["Choose one of this workspace's contacts."]})
        if status not in ACTIVE_STATUSES:
            raise InvalidInput(fields={"status": ["A new booking is pending or confirmed."]})
        if source not in Booking.Source.values:
            raise InvalidInput(fields={"source": ["Unknown source."]})
        booking_type.workspace = workspace  # spare a query; the same row
        now = now or timezone.now()
        start = start.astimezone(UTC)
        if enforce_rules:
            check_rules(booking_type, start, now)
        calendars = candidates(booking_type, staff)
        free = free_calendars(
            booking_type=booking_type,
            calendars=calendars,
            start=start,
            enforce_rules=enforce_rules,
            now=now,
        )
        if not free:
            return _replay_or_refuse(workspace, idempotency_key)
        blocked_start, blocked_end = blocked_range(booking_type, start)
        for calendar in free:
            booking = Booking(
                workspace=workspace,
                booking_type=booking_type,
                contact=contact,
                staff=calendar,
                start=start,
                end=start + timedelta(minutes=booking_type.duration_minutes),
                blocked_start=blocked_start,
                blocked_end=blocked_end,
                status=status,
                source=source,
                notes=notes,
                idempotency_key=idempotency_key,
                status_changed_at=now,
                status_changed_by=actor,
            )
            try:
                with transaction.atomic():
                    booking.save()
            except IntegrityError as exc:
                if is_overlap(exc):
                    continue  # booked a moment ago by someone else: try the next calendar
                existing = _replayed(workspace, idempotency_key)
                if existing is not None:
                    return existing, False
                raise
            break
        else:
            return _replay_or_refuse(workspace, idempotency_key)
        record_status(booking, "", actor)
        booking_created.send(sender=Booking, booking=booking)
    log.info(
        "booking_created",
        booking_id=booking.pk,
        workspace_id=workspace.pk,
        staff_id=booking.staff_id,
        source=source,
    )
    return booking, True


def booking_book_publicly(
    *,
    workspace,
    booking_type: BookingType,
    start: datetime,
    name: str,
    email: str = "",
    phone: str = "",
    notes: str = "",
    staff=None,
    idempotency_key: str = "",
) -> tuple[Booking, bool]:
    """A client books themself (the booking page, the public API): their contact is created or
    reused by email or phone, then booked under the booking type's rules, in one transaction,
    so a refused booking leaves no new contact behind. A replayed Idempotency-Key returns its
    booking only to the same client: another client's booking is never revealed (Conflict).
    WorkspaceNotLive while the owner is still setting the workspace up."""
    workspace.check_accepting_clients()
    with transaction.atomic():
        contact, _ = contact_upsert(
            workspace=workspace,
            email=email,
            phone=phone,
            name=name,
            source=Contact.Source.BOOKING,
        )
        booking, created = booking_create(
            workspace=workspace,
            booking_type=booking_type,
            contact=contact,
            start=start,
            staff=staff,
            source=Booking.Source.PUBLIC,
            notes=notes,
            status=Booking.Status.CONFIRMED,
            idempotency_key=idempotency_key,
            enforce_rules=True,
        )
        if not created and booking.contact_id != contact.pk:
            raise Conflict("This Idempotency-Key was used for another booking.")
    return booking, created

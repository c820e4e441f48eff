"""Writes for bookings.

Every write that takes time on a calendar runs the availability check and the insert/update in
one transaction; on PostgreSQL the exclusion constraint bookings_booking_no_overlap is the proof,
and its violation (IntegrityError) is turned into SlotUnavailable (409), never a 500.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from django.core import signing
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.crypto import constant_time_compare

from bookings.availability import busy_intervals, calendars_for, free_starts
from bookings.models import (
    ACTIVE_STATUSES,
    STATUS_TRANSITIONS,
    Booking,
    BookingStatusChange,
    BookingType,
)
from bookings.signals import booking_created, booking_rescheduled, booking_status_changed
from careops.errors import Conflict, InvalidInput
from contacts.models import Contact
from contacts.services import contact_upsert

log = structlog.get_logger(__name__)

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


# --- Checks booking_create and booking_reschedule share ----------------------------------------


def _check_start(start: datetime) -> None:
    if not isinstance(start, datetime) or timezone.is_naive(start):
        raise InvalidInput(fields={"start": ["Give a date and time with its time zone."]})


def _check_rules(booking_type: BookingType, start: datetime, now: datetime) -> None:
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


def _candidates(booking_type: BookingType, staff, *, preferred=None) -> list:
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


def _free_calendars(
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
    blocked_start, blocked_end = _blocked(booking_type, start)
    busy = busy_intervals(
        workspace=booking_type.workspace,
        calendar_ids=ids,
        range_start=blocked_start,
        range_end=blocked_end,
        exclude_booking_id=exclude_booking_id,
    )
    return [c for c, pk in zip(calendars, ids, strict=True) if not busy[pk]]


def _blocked(booking_type: BookingType, start: datetime) -> tuple[datetime, datetime]:
    end = start + timedelta(minutes=booking_type.duration_minutes)
    return (
        start - timedelta(minutes=booking_type.buffer_before_minutes),
        end + timedelta(minutes=booking_type.buffer_after_minutes),
    )


def _is_overlap(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == NO_OVERLAP_CONSTRAINT


def _record(booking: Booking, from_status: str, actor, note: str = "") -> None:
    BookingStatusChange.objects.create(
        workspace_id=booking.workspace_id,
        booking=booking,
        from_status=from_status,
        to_status=booking.status,
        actor=actor,
        note=note[:255],
    )


# --- Creating -----------------------------------------------------------------------------------


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
        _check_start(start)
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
            _check_rules(booking_type, start, now)
        calendars = _candidates(booking_type, staff)
        free = _free_calendars(
            booking_type=booking_type,
            calendars=calendars,
            start=start,
            enforce_rules=enforce_rules,
            now=now,
        )
        if not free:
            return _replay_or_refuse(workspace, idempotency_key)
        blocked_start, blocked_end = _blocked(booking_type, start)
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
                if _is_overlap(exc):
                    continue  # booked a moment ago by someone else: try the next calendar
                existing = _replayed(workspace, idempotency_key)
                if existing is not None:
                    return existing, False
                raise
            break
        else:
            return _replay_or_refuse(workspace, idempotency_key)
        _record(booking, "", actor)
        transaction.on_commit(lambda: booking_created.send(sender=Booking, booking=booking))
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
    booking only to the same client: another client's booking is never revealed (Conflict)."""
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


# --- Moving -------------------------------------------------------------------------------------


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
    _check_start(start)
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
            _check_rules(booking_type, start, now)
        if staff is not None or any_staff:
            calendars = _candidates(booking_type, staff, preferred=current.staff)
        else:
            calendars = [current.staff]
        free = _free_calendars(
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
        current.blocked_start, current.blocked_end = _blocked(booking_type, start)
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
                if _is_overlap(exc):
                    continue
                raise
            break
        else:
            raise SlotUnavailable()
        note = f"rescheduled from {previous_start:%Y-%m-%d %H:%M} UTC"
        if current.staff_id != previous_staff_id:
            note += f" (staff {previous_staff_id or 'shared'} -> {current.staff_id or 'shared'})"
        _record(current, current.status, actor, note)
        transaction.on_commit(
            lambda: booking_rescheduled.send(
                sender=Booking, booking=current, previous_start=previous_start
            )
        )
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
        _record(current, previous, actor, note)
        transaction.on_commit(
            lambda: booking_status_changed.send(sender=Booking, booking=current, previous=previous)
        )
    _refresh(booking, current)
    log.info("booking_status_changed", booking_id=current.pk, previous=previous, status=status)
    return booking


# --- The client's signed links ------------------------------------------------------------------


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

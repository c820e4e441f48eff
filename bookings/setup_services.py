"""Writes of a workspace's booking setup: the services it offers (booking types), its weekly
working hours and its date overrides. Owners make these through the API and the settings pages.

Checks the database cannot express (no two overlapping periods on one calendar and day, staff
who belong to the workspace) run here, with the workspace row locked so that two owners saving
at once cannot both pass the check.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, time
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from bookings.models import AvailabilityOverride, Booking, BookingType, WorkingHours
from careops.errors import Conflict, InvalidInput
from workspaces.models import Membership, User, Workspace

SLUG_MAX_LENGTH = BookingType._meta.get_field("slug").max_length
MAX_DURATION_MINUTES = 24 * 60


def _lock_workspace(workspace) -> None:
    """Serialize setup writes of one workspace. NO KEY UPDATE, so that inserts elsewhere that
    merely reference the workspace (bookings, messages) are not blocked by it."""
    Workspace.objects.select_for_update(no_key=True).filter(pk=workspace.pk).first()


def members_by_id(*, workspace, user_ids: Iterable[int], field: str = "staff") -> list[User]:
    """The users with these ids, each a member of the workspace; InvalidInput naming `field`
    otherwise (another workspace's user is "not a member", never "exists elsewhere")."""
    wanted = list(dict.fromkeys(user_ids))
    if not wanted:
        return []
    members = {
        m.user_id: m.user
        for m in Membership.objects.for_workspace(workspace)
        .filter(user_id__in=wanted)
        .select_related("user")
    }
    missing = [pk for pk in wanted if pk not in members]
    if missing:
        raise InvalidInput(
            fields={field: [f"Not a member of this workspace: {', '.join(map(str, missing))}."]}
        )
    return [members[pk] for pk in wanted]


def member_or_none(*, workspace, user_id: int | None, field: str = "staff") -> User | None:
    if user_id is None:
        return None
    return members_by_id(workspace=workspace, user_ids=[user_id], field=field)[0]


# --- Booking types ------------------------------------------------------------------------------


def _unique_slug(workspace, name: str, *, exclude_pk: int | None) -> str:
    base = (slugify(name) or "service")[:SLUG_MAX_LENGTH]
    taken = set(
        BookingType.objects.for_workspace(workspace)
        .filter(slug__startswith=base[: SLUG_MAX_LENGTH - 4])
        .exclude(pk=exclude_pk)
        .values_list("slug", flat=True)
    )
    slug, n = base, 1
    while slug in taken:
        n += 1
        suffix = f"-{n}"
        slug = base[: SLUG_MAX_LENGTH - len(suffix)] + suffix
    return slug


def _check_booking_type(workspace, booking_type: BookingType) -> None:
    if not 0 < booking_type.duration_minutes <= MAX_DURATION_MINUTES:
        raise InvalidInput(
            fields={"duration_minutes": [f"Between 1 and {MAX_DURATION_MINUTES} minutes."]}
        )
    taken = (
        BookingType.objects.for_workspace(workspace)
        .filter(slug=booking_type.slug)
        .exclude(pk=booking_type.pk)
        .exists()
    )
    if taken:
        raise InvalidInput(fields={"slug": ["Another service of this workspace has this slug."]})


@transaction.atomic
def booking_type_save(
    *,
    workspace,
    booking_type: BookingType | None = None,
    staff_ids: list[int] | None = None,
    **fields: Any,
) -> BookingType:
    """Create (booking_type=None) or change a booking type. A blank slug is made from the
    name, with a number added when another service has it; a slug given explicitly must be
    free. `staff_ids` (None: unchanged) replaces who delivers it; each must be a member."""
    _lock_workspace(workspace)
    if booking_type is None:
        booking_type = BookingType(workspace=workspace)
    for name, value in fields.items():
        setattr(booking_type, name, value)
    if not booking_type.slug:
        booking_type.slug = _unique_slug(workspace, booking_type.name, exclude_pk=booking_type.pk)
    _check_booking_type(workspace, booking_type)
    staff = None if staff_ids is None else members_by_id(workspace=workspace, user_ids=staff_ids)
    booking_type.save()
    if staff is not None:
        booking_type.staff.set(staff)
    return booking_type


def booking_type_delete(*, booking_type: BookingType) -> None:
    """Delete a service nobody has booked; one with bookings is kept for their history."""
    if Booking.objects.filter(booking_type=booking_type).exists():
        raise Conflict(
            "This service has bookings, so it is kept for their history: deactivate it instead."
        )
    booking_type.delete()


# --- Working hours and overrides ----------------------------------------------------------------


def _check_times(start: time | None, end: time | None, *, required: bool) -> None:
    if start is None and end is None and not required:
        return
    if start is None or end is None:
        missing = "start_time" if start is None else "end_time"
        raise InvalidInput(fields={missing: ["Give both times, or neither (closed all day)."]})
    if end <= start:
        raise InvalidInput(fields={"end_time": ["Must be after the start time."]})


def _same_calendar(staff: User | None) -> Q:
    return Q(staff__isnull=True) if staff is None else Q(staff=staff)


def _describe(start: time, end: time) -> str:
    return f"{start:%H:%M}-{end:%H:%M}"


@transaction.atomic
def working_hours_save(
    *,
    workspace,
    hours: WorkingHours | None = None,
    staff_id: int | None,
    weekday: int,
    start_time: time,
    end_time: time,
) -> WorkingHours:
    """Create (hours=None) or change a weekly open period of a calendar (a member's, or the
    shared one with staff_id=None). It may not overlap another period of that calendar on the
    same weekday: join them into one instead."""
    _check_times(start_time, end_time, required=True)
    if not 0 <= weekday <= 6:
        raise InvalidInput(fields={"weekday": ["0 (Monday) to 6 (Sunday)."]})
    staff = member_or_none(workspace=workspace, user_id=staff_id)
    _lock_workspace(workspace)
    hours = hours or WorkingHours(workspace=workspace)
    clash = (
        WorkingHours.objects.for_workspace(workspace)
        .filter(_same_calendar(staff), weekday=weekday)
        .filter(start_time__lt=end_time, end_time__gt=start_time)
        .exclude(pk=hours.pk)
        .first()
    )
    if clash is not None:
        raise InvalidInput(
            fields={
                "start_time": [
                    f"Overlaps the hours {_describe(clash.start_time, clash.end_time)} "
                    "of this calendar on that day."
                ]
            }
        )
    hours.staff, hours.weekday = staff, weekday
    hours.start_time, hours.end_time = start_time, end_time
    hours.save()
    return hours


@transaction.atomic
def availability_override_save(
    *,
    workspace,
    override: AvailabilityOverride | None = None,
    staff_id: int | None,
    date: date,
    start_time: time | None = None,
    end_time: time | None = None,
    note: str = "",
) -> AvailabilityOverride:
    """Create (override=None) or change a date that differs from the week: closed (no times)
    or open at these times instead. A calendar's date is either closed or has open periods
    that do not overlap."""
    _check_times(start_time, end_time, required=False)
    staff = member_or_none(workspace=workspace, user_id=staff_id)
    _lock_workspace(workspace)
    override = override or AvailabilityOverride(workspace=workspace)
    others = (
        AvailabilityOverride.objects.for_workspace(workspace)
        .filter(_same_calendar(staff), date=date)
        .exclude(pk=override.pk)
    )
    if start_time is None:
        clash = others.first()
    else:
        clash = others.filter(
            Q(start_time__isnull=True) | Q(start_time__lt=end_time, end_time__gt=start_time)
        ).first()
    if clash is not None:
        raise InvalidInput(
            fields={"date": [f"This calendar already has an override on that date ({clash})."]}
        )
    override.staff, override.date, override.note = staff, date, note
    override.start_time, override.end_time = start_time, end_time
    override.save()
    return override

"""Reads of bookings that the API, the dashboard pages and the public pages share. Every one
takes the workspace: another workspace's rows are never in reach."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache

from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, Booking, BookingType
from careops.errors import NotFound


def _bookings(workspace, *, rows: bool = False) -> QuerySet[Booking] | QuerySet[dict]:
    if rows:
        return _listed_rows().for_workspace(workspace)
    return Booking.objects.for_workspace(workspace).select_related(
        "booking_type", "contact", "staff"
    )


def bookings_for_workspace(
    *,
    workspace,
    status: str | list[str] | tuple[str, ...] | None = None,
    start_from: datetime | None = None,
    start_to: datetime | None = None,
    staff=None,
    contact=None,
    booking_type=None,
    rows: bool = False,
) -> QuerySet[Booking] | QuerySet[dict]:
    """The workspace's bookings, soonest first, with type, contact and staff joined. `status`
    is one status or several; start_from is inclusive, start_to exclusive. rows=True: as rows
    of LISTED_COLUMNS (the API's lists), not bookings."""
    bookings = _bookings(workspace, rows=rows)
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        bookings = bookings.filter(status__in=statuses)
    if start_from is not None:
        bookings = bookings.filter(start__gte=start_from)
    if start_to is not None:
        bookings = bookings.filter(start__lt=start_to)
    if staff is not None:
        bookings = bookings.filter(staff=staff)
    if contact is not None:
        bookings = bookings.filter(contact=contact)
    if booking_type is not None:
        bookings = bookings.filter(booking_type=booking_type)
    return bookings.order_by("start", "pk")


# What the API's lists show of a booking and its joined rows (bookings.api.BookingSerializer):
# the other columns, a staff member's password hash among them, stay in the database.
LISTED_COLUMNS = (
    "id",
    "start",
    "end",
    "status",
    "source",
    "notes",
    "reschedule_count",
    "status_changed_at",
    "created_at",
    "updated_at",
    "booking_type__id",
    "booking_type__name",
    "booking_type__slug",
    "booking_type__duration_minutes",
    "contact__id",
    "contact__name",
    "contact__email",
    "contact__phone",
    "staff__id",
    "staff__name",
    "staff__email",
)


@cache
def _listed_rows() -> QuerySet[dict]:
    """All bookings as rows of LISTED_COLUMNS (`.values()`): a page renders from them without
    building four model instances per row, most of a list's cost. Built once per process and
    only ever chained from (filtered, never evaluated itself): resolving the 21 columns' joins
    cost 1.7 million instructions a request, a tenth of a page of the API's bookings."""
    return Booking.objects.values(*LISTED_COLUMNS)


def bookings_today(
    *, workspace, now: datetime | None = None, rows: bool = False
) -> QuerySet[Booking] | QuerySet[dict]:
    """The bookings starting today in the workspace's time zone, cancelled ones left out."""
    today = workspace.today(now)
    return bookings_for_workspace(
        workspace=workspace,
        start_from=workspace.midnight(today),
        start_to=workspace.midnight(today + timedelta(days=1)),
        rows=rows,
    ).exclude(status=Booking.Status.CANCELLED)


def bookings_upcoming(
    *, workspace, days: int = 7, now: datetime | None = None, rows: bool = False
) -> QuerySet[Booking] | QuerySet[dict]:
    """The active bookings starting from now until the end of the `days`th day ahead (the
    workspace's days; days=7 on a Monday runs to the end of next Monday)."""
    now = now or timezone.now()
    last_day = workspace.today(now) + timedelta(days=days)
    return bookings_for_workspace(
        workspace=workspace,
        status=ACTIVE_STATUSES,
        start_from=now,
        start_to=workspace.midnight(last_day + timedelta(days=1)),
        rows=rows,
    )


def booking_get(*, workspace, pk) -> Booking:
    """One of the workspace's bookings; NotFound for any other (or a malformed pk)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("Booking not found.") from None
    booking = _bookings(workspace).filter(pk=pk).first()
    if booking is None:
        raise NotFound("Booking not found.")
    return booking


def booking_types_for_workspace(*, workspace, active_only: bool = False) -> QuerySet[BookingType]:
    """The workspace's services by name, their staff prefetched (calendars_for reads them)."""
    types = BookingType.objects.for_workspace(workspace).prefetch_related("staff")
    if active_only:
        types = types.filter(is_active=True)
    return types.order_by("name", "pk")

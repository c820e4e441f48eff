"""When a booking type can be booked: working hours and date overrides (wall-clock times in the
workspace's time zone, so correct across daylight-saving changes) minus active bookings
(buffers included).

The rules, in one place:

- A calendar is a staff member's (WorkingHours/AvailabilityOverride with staff=that user) or
  the workspace's shared one (staff null), used by booking types that name no staff.
- A date with overrides for a calendar ignores the week's hours for that date: the overrides'
  times REPLACE them, and several overrides on one date add up. An override without times
  (closed) contributes nothing, so a date whose only override is "closed" has no hours.
- Each day's open intervals are built as aware datetimes for that date in the workspace's time
  zone (`datetime.combine(day, time, tzinfo=zone)`) and normalised to UTC. Across a DST change
  an interval keeps its wall-clock ends, so in UTC it shrinks on the spring-forward day and
  grows on the fall-back day. A wall-clock time that does not exist (inside the spring-forward
  gap) is read with zoneinfo's fold=0 semantics: with the offset in force before the gap, so it
  lands as far past the gap as it was into it (01:30 on a 01:00->02:00 gap is 02:30 after).
  An ambiguous time (repeated on fall-back) is its first occurrence. Hours never cross
  midnight (the model requires end_time > start_time).
- Start times step by booking_type.interval_minutes from each open interval's start; a slot is
  offered when the booked time [start, end) lies inside one open interval (a slot ending
  exactly at closing is offered) and [start - buffer_before, end + buffer_after) overlaps no
  active booking's blocked range on that calendar. Buffers may fall outside open hours.
- Slots start no sooner than now + min_notice_minutes and no later than now + horizon_days.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import connections
from django.db.models import Q
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, AvailabilityOverride, Booking, WorkingHours
from careops.errors import InvalidInput

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    staff_ids: tuple[int | None, ...]  # the calendars free at that time (None: shared calendar)


def zone_for(name: str, *, field: str = "tz") -> ZoneInfo:
    """The zoneinfo zone of that name; InvalidInput on `field` for an unknown one."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise InvalidInput(fields={field: ["Unknown time zone."]}) from None


def calendars_for(booking_type) -> list:
    """The calendars that can deliver the type: its staff members, or [None] (shared).

    Staff come in a stable order (by user id): booking_create's "any staff" picks the first
    free one. Uses booking_type.staff's prefetch cache when there is one."""
    staff = sorted(booking_type.staff.all(), key=lambda user: user.pk)
    return staff or [None]


def _calendar_id(calendar) -> int | None:
    if calendar is None:
        return None
    return calendar if isinstance(calendar, int) else calendar.pk


def _calendar_filter(calendar_ids: Sequence[int | None]) -> Q:
    ids = [pk for pk in calendar_ids if pk is not None]
    q = Q(staff_id__in=ids) if ids else Q(pk__in=[])
    if None in calendar_ids:
        q |= Q(staff__isnull=True)
    return q


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            if end > merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _wall_interval(day: date, start_time, end_time, zone: ZoneInfo) -> Interval | None:
    start = datetime.combine(day, start_time, tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day, end_time, tzinfo=zone).astimezone(UTC)
    return (start, end) if end > start else None  # a range inside the DST gap can vanish


def open_intervals(
    *, workspace, calendar_ids: Sequence[int | None], first_day: date, last_day: date
) -> dict[int | None, list[Interval]]:
    """Each calendar's open intervals (UTC, merged, sorted) on the workspace-local dates
    first_day..last_day. Two queries: the week's hours and the overrides."""
    zone = zone_for(workspace.timezone, field="timezone")
    scope = _calendar_filter(calendar_ids)
    # Rows as tuples: a big team's week is thousands of them (300 practitioners: 1,800).
    weekly: dict[tuple[int | None, int], list] = defaultdict(list)
    for staff_id, weekday, start_time, end_time in (
        WorkingHours.objects.for_workspace(workspace)
        .filter(scope)
        .values_list("staff_id", "weekday", "start_time", "end_time")
    ):
        weekly[(staff_id, weekday)].append((start_time, end_time))
    overridden: dict[tuple[int | None, date], list] = defaultdict(list)
    for staff_id, day, start_time, end_time in (
        AvailabilityOverride.objects.for_workspace(workspace)
        .filter(scope, date__gte=first_day, date__lte=last_day)
        .values_list("staff_id", "date", "start_time", "end_time")
    ):
        times = overridden[(staff_id, day)]
        if start_time is not None:  # none: closed that day (AvailabilityOverride.is_closed)
            times.append((start_time, end_time))

    # Practitioners mostly share their hours: each (day, hours) is converted to UTC once.
    wall: dict[tuple[date, time, time], Interval | None] = {}
    result: dict[int | None, list[Interval]] = {}
    for calendar_id in calendar_ids:
        intervals = []
        day = first_day
        while day <= last_day:
            key = (calendar_id, day)
            times = overridden[key] if key in overridden else weekly[(calendar_id, day.weekday())]
            for start_time, end_time in times:
                moment = (day, start_time, end_time)
                if moment not in wall:
                    wall[moment] = _wall_interval(day, start_time, end_time, zone)
                if wall[moment] is not None:
                    intervals.append(wall[moment])
            day += timedelta(days=1)
        result[calendar_id] = _merge(intervals)
    return result


def busy_intervals(
    *,
    workspace,
    calendar_ids: Sequence[int | None],
    range_start: datetime,
    range_end: datetime,
    exclude_booking_id: int | None = None,
) -> dict[int | None, list[Interval]]:
    """Each calendar's active bookings' blocked ranges that touch [range_start, range_end),
    merged and sorted. One query."""
    bookings = (
        Booking.objects.for_workspace(workspace)
        .filter(
            _calendar_filter(calendar_ids),
            status__in=ACTIVE_STATUSES,
            blocked_start__lt=range_end,
            blocked_end__gt=range_start,
        )
        .values_list("staff_id", "blocked_start", "blocked_end")
    )
    if exclude_booking_id is not None:
        bookings = bookings.exclude(pk=exclude_booking_id)
    rows = (
        _merged_in_database(bookings)
        if connections[bookings.db].vendor == "postgresql"
        else bookings
    )
    busy: dict[int | None, list[Interval]] = defaultdict(list)
    for staff_id, start, end in rows:
        busy[staff_id].append((start, end))
    return {calendar_id: _merge(busy[calendar_id]) for calendar_id in calendar_ids}


def _merged_in_database(bookings) -> list[tuple[int | None, datetime, datetime]]:
    """The (staff_id, blocked_start, blocked_end) rows of `bookings` merged by PostgreSQL
    (range_agg, 14+): a calendar's back-to-back and overlapping bookings come back as one
    interval. A fully booked month is thousands of bookings; read one by one, parsing their
    timestamps was most of a month's slots request (measured at 100,000 bookings). The
    ranges are half-open like the Python intervals, and valid: a check constraint holds
    blocked_start <= start < end <= blocked_end."""
    sql, params = bookings.query.sql_with_params()
    # The ORM's own SQL, wrapped; the values travel as parameters.
    merged = (
        "SELECT staff_id, lower(busy), upper(busy) FROM (SELECT b.staff_id,"  # noqa: S608
        " unnest(range_agg(tstzrange(b.blocked_start, b.blocked_end))) AS busy"
        f" FROM ({sql}) AS b GROUP BY b.staff_id) AS merged"
    )
    with connections[bookings.db].cursor() as cursor:
        cursor.execute(merged, params)
        return cursor.fetchall()


def free_starts(
    *,
    booking_type,
    calendar_ids: Sequence[int | None],
    range_start: datetime,
    range_end: datetime,
    now: datetime,
    exclude_booking_id: int | None = None,
) -> dict[int | None, list[datetime]]:
    """Each calendar's bookable start times in [range_start, range_end) under the type's rules
    (see the module doc). Three queries at most: hours, overrides, bookings."""
    workspace = booking_type.workspace
    earliest = max(range_start, now + timedelta(minutes=booking_type.min_notice_minutes))
    latest = min(range_end, now + timedelta(days=booking_type.horizon_days) + timedelta.resolution)
    if earliest >= latest or not calendar_ids:
        return {calendar_id: [] for calendar_id in calendar_ids}
    duration = timedelta(minutes=booking_type.duration_minutes)
    step = timedelta(minutes=booking_type.interval_minutes)
    before = timedelta(minutes=booking_type.buffer_before_minutes)
    after = timedelta(minutes=booking_type.buffer_after_minutes)

    zone = zone_for(workspace.timezone, field="timezone")
    # A local day runs at most 26 hours from its midnight: one day's margin on each side covers
    # any interval that can hold a start in range.
    first_day = earliest.astimezone(zone).date() - timedelta(days=1)
    last_day = latest.astimezone(zone).date() + timedelta(days=1)
    hours = open_intervals(
        workspace=workspace, calendar_ids=calendar_ids, first_day=first_day, last_day=last_day
    )
    busy = busy_intervals(
        workspace=workspace,
        calendar_ids=calendar_ids,
        range_start=earliest - before,
        range_end=latest + duration + after,
        exclude_booking_id=exclude_booking_id,
    )

    result: dict[int | None, list[datetime]] = {}
    for calendar_id in calendar_ids:
        taken = busy[calendar_id]
        taken_starts = [start for start, _ in taken]
        starts = []
        for open_start, open_end in hours[calendar_id]:
            if open_end <= earliest or open_start >= latest:
                continue
            # Skip ahead to the first step at or after `earliest` instead of walking from open.
            skipped = max(0, -(-(earliest - open_start) // step)) if open_start < earliest else 0
            start = open_start + skipped * step
            # The busy intervals starting before a candidate's end, counted by a pointer that
            # only moves forward as the candidates do (bisect once, then walk): a month of a
            # big team is tens of thousands of candidates.
            index = bisect.bisect_left(taken_starts, start + duration + after)
            while start + duration <= open_end and start < latest:
                end = start + duration + after
                while index < len(taken_starts) and taken_starts[index] < end:
                    index += 1
                if not (index > 0 and taken[index - 1][1] > start - before):
                    starts.append(start)
                start += step
        result[calendar_id] = starts
    return result


def available_slots(
    *, booking_type, start_date: date, end_date: date, tz: str, staff=None, now=None
) -> list[Slot]:
    """The free start times of `booking_type` on the days start_date..end_date (inclusive) as
    seen in time zone `tz` (the visitor's), honouring minimum notice and the horizon. A few
    queries whatever the range: a month renders at once (staff, hours, overrides, bookings;
    the booking type's workspace too unless it was select_related).

    `staff` (a user or a user id) narrows to that staff member's calendar; InvalidInput on
    `staff` when they do not deliver the type, on `tz` for an unknown time zone."""
    visitor_zone = zone_for(tz)
    now = now or timezone.now()
    calendar_ids = [_calendar_id(calendar) for calendar in calendars_for(booking_type)]
    if staff is not None:
        wanted = _calendar_id(staff)
        if wanted not in calendar_ids:
            raise InvalidInput(fields={"staff": ["This person does not offer this service."]})
        calendar_ids = [wanted]
    # No slot starts before today or after the horizon: a range reaching past them is cut to
    # them, which also keeps its ends real days (there is none after 9999-12-31).
    today = now.astimezone(visitor_zone).date()
    start_date = max(start_date, today - timedelta(days=1))
    end_date = min(end_date, today + timedelta(days=booking_type.horizon_days + 1))
    if end_date < start_date:
        return []
    range_start = datetime.combine(start_date, datetime.min.time(), tzinfo=visitor_zone)
    range_end = datetime.combine(
        end_date + timedelta(days=1), datetime.min.time(), tzinfo=visitor_zone
    )
    starts = free_starts(
        booking_type=booking_type,
        calendar_ids=calendar_ids,
        range_start=range_start.astimezone(UTC),
        range_end=range_end.astimezone(UTC),
        now=now,
    )
    by_start: dict[datetime, list[int | None]] = defaultdict(list)
    for calendar_id in calendar_ids:  # stable order: by user id, as calendars_for gives them
        for start in starts[calendar_id]:
            by_start[start].append(calendar_id)
    duration = timedelta(minutes=booking_type.duration_minutes)
    return [
        Slot(start=start, end=start + duration, staff_ids=tuple(by_start[start]))
        for start in sorted(by_start)
    ]

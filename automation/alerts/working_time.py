"""Time counted within a workspace's working hours: a message that arrives on Friday evening has
not waited over the weekend."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bookings.models import WorkingHours

# {weekday (0 is Monday): [(start, end), ...] merged and sorted}, wall-clock times.
Week = dict[int, list[tuple[time, time]]]

# How far ahead a deadline is looked for: any week with an open period reaches it in two.
HORIZON_DAYS = 15


def working_weeks(workspace_ids: Iterable[int]) -> dict[int, Week]:
    """Each workspace's working week: the union of its calendars' hours (the shared one and
    every staff member's: someone is at work). One query."""
    periods: dict[int, dict[int, list[tuple[time, time]]]] = defaultdict(lambda: defaultdict(list))
    rows = WorkingHours.objects.filter(workspace_id__in=list(workspace_ids)).values_list(
        "workspace_id", "weekday", "start_time", "end_time"
    )
    for workspace_id, weekday, start, end in rows:
        periods[workspace_id][weekday].append((start, end))
    return {
        workspace_id: {weekday: _merged(spans) for weekday, spans in days.items()}
        for workspace_id, days in periods.items()
    }


def _merged(spans: list[tuple[time, time]]) -> list[tuple[time, time]]:
    merged: list[tuple[time, time]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone).astimezone(UTC)


def working_deadline(
    week: Week | None, zone: ZoneInfo, start: datetime, minutes: int
) -> datetime | None:
    """The moment `minutes` of working time have passed since `start` (a workspace without
    working hours works around the clock). None if the week has no open period at all."""
    if not week:
        return start + timedelta(minutes=minutes)
    remaining = timedelta(minutes=minutes)
    start = start.astimezone(UTC)
    day = start.astimezone(zone).date()
    for _ in range(HORIZON_DAYS):
        for opens, closes in week.get(day.weekday(), ()):
            begin, end = max(_at(day, opens, zone), start), _at(day, closes, zone)
            if end <= begin:
                continue
            if end - begin >= remaining:
                return begin + remaining
            remaining -= end - begin
        day += timedelta(days=1)
    return None

"""When a booking type can be booked: working hours and date overrides (wall-clock times in the
workspace's time zone, so correct across daylight-saving changes) minus active bookings
(buffers included). The contract other modules build on; bodies being filled in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime


@dataclass(frozen=True)
class Slot:
    start: datetime  # aware, UTC
    end: datetime  # aware, UTC
    staff_ids: tuple[int | None, ...]  # the calendars free at that time (None: shared calendar)


def available_slots(
    *, booking_type, start_date: date, end_date: date, tz: str, staff=None, now=None
) -> list[Slot]:
    """The free start times of `booking_type` on the days start_date..end_date (inclusive) as
    seen in time zone `tz` (the visitor's), honouring minimum notice and the horizon. A few
    queries whatever the range: a month renders at once."""
    raise NotImplementedError


def calendars_for(booking_type) -> list:
    """The calendars that can deliver the type: its staff members, or [None] (shared)."""
    raise NotImplementedError

"""Which start times a booking page offers: hours, overrides, bookings and buffers, notice and
horizon, time zones and daylight-saving changes."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bookings.availability import Slot, available_slots, calendars_for
from bookings.models import Booking, BookingType
from bookings.tests.factories import (
    AvailabilityOverrideFactory,
    BookingFactory,
    BookingTypeFactory,
    WorkingHoursFactory,
)
from careops.errors import InvalidInput
from contacts.tests.factories import ContactFactory
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2026, 3, 2)  # London is on GMT (= UTC) that week
NOW = datetime(2026, 2, 27, 12, tzinfo=UTC)


def at(day: date, hour: int, minute: int = 0, zone=UTC) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=zone)


def starts(slots: list[Slot], zone=UTC) -> list[str]:
    return [f"{slot.start.astimezone(zone):%H:%M}" for slot in slots]


def slots_on(booking_type, day: date, tz: str = "Europe/London", **kwargs) -> list[Slot]:
    kwargs.setdefault("now", NOW)
    return available_slots(booking_type=booking_type, start_date=day, end_date=day, tz=tz, **kwargs)


@pytest.fixture
def monday_hours(workspace_a):
    return WorkingHoursFactory(workspace=workspace_a, weekday=0)  # 09:00-17:00, shared


# --- Working hours --------------------------------------------------------------------------------


def test_an_open_day_offers_a_slot_every_duration_from_opening(workspace_a, monday_hours):
    booking_type = BookingTypeFactory(workspace=workspace_a)

    slots = slots_on(booking_type, MONDAY)

    assert starts(slots) == [f"{h:02d}:00" for h in range(9, 17)]
    assert all(slot.end - slot.start == timedelta(hours=1) for slot in slots)
    assert all(slot.staff_ids == (None,) for slot in slots)
    assert slots_on(booking_type, MONDAY + timedelta(days=1)) == []  # Tuesday: no hours


def test_a_slot_ending_exactly_at_closing_is_offered_one_crossing_it_is_not(
    workspace_a, monday_hours
):
    booking_type = BookingTypeFactory(workspace=workspace_a, slot_interval_minutes=30)

    offered = starts(slots_on(booking_type, MONDAY))

    assert offered[0] == "09:00"
    assert offered[-1] == "16:00"  # ends 17:00, at closing
    assert "16:30" not in offered  # would end 17:30


def test_the_interval_steps_start_times_from_each_opening(workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=0, start_time=time(9), end_time=time(11))
    WorkingHoursFactory(
        workspace=workspace_a, weekday=0, start_time=time(13, 10), end_time=time(14, 30)
    )
    booking_type = BookingTypeFactory(
        workspace=workspace_a, duration_minutes=45, slot_interval_minutes=15
    )

    assert starts(slots_on(booking_type, MONDAY)) == [
        "09:00",
        "09:15",
        "09:30",
        "09:45",
        "10:00",
        "10:15",
        "13:10",
        "13:25",
        "13:40",
    ]


def test_overlapping_hours_of_one_day_merge(workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=0, start_time=time(9), end_time=time(11))
    WorkingHoursFactory(workspace=workspace_a, weekday=0, start_time=time(10), end_time=time(12))
    booking_type = BookingTypeFactory(workspace=workspace_a)

    assert starts(slots_on(booking_type, MONDAY)) == ["09:00", "10:00", "11:00"]


# --- Overrides ------------------------------------------------------------------------------------


def test_a_closed_day_has_no_slots(workspace_a, monday_hours):
    AvailabilityOverrideFactory(workspace=workspace_a, date=MONDAY)
    booking_type = BookingTypeFactory(workspace=workspace_a)

    assert slots_on(booking_type, MONDAY) == []
    assert len(slots_on(booking_type, MONDAY + timedelta(days=7))) == 8  # only that date


def test_special_hours_replace_the_weeks_hours_and_add_up(workspace_a, monday_hours):
    AvailabilityOverrideFactory(
        workspace=workspace_a, date=MONDAY, start_time=time(18), end_time=time(20)
    )
    AvailabilityOverrideFactory(
        workspace=workspace_a, date=MONDAY, start_time=time(7), end_time=time(8)
    )
    booking_type = BookingTypeFactory(workspace=workspace_a)

    assert starts(slots_on(booking_type, MONDAY)) == ["07:00", "18:00", "19:00"]


def test_special_hours_open_a_day_the_week_keeps_closed(workspace_a, monday_hours):
    tuesday = MONDAY + timedelta(days=1)
    AvailabilityOverrideFactory(
        workspace=workspace_a, date=tuesday, start_time=time(10), end_time=time(12)
    )
    booking_type = BookingTypeFactory(workspace=workspace_a)

    assert starts(slots_on(booking_type, tuesday)) == ["10:00", "11:00"]


def test_a_staff_members_override_leaves_the_others_calendar_alone(workspace_a):
    ann = MembershipFactory(workspace=workspace_a).user
    bob = MembershipFactory(workspace=workspace_a).user
    for person in (ann, bob):
        WorkingHoursFactory(workspace=workspace_a, staff=person, weekday=0)
    AvailabilityOverrideFactory(workspace=workspace_a, staff=ann, date=MONDAY)
    booking_type = BookingTypeFactory(workspace=workspace_a, staff=[ann, bob])

    slots = slots_on(booking_type, MONDAY)

    assert len(slots) == 8
    assert {slot.staff_ids for slot in slots} == {(bob.pk,)}


# --- Bookings and buffers -------------------------------------------------------------------------


def test_an_active_booking_takes_its_slot_a_cancelled_one_does_not(workspace_a, monday_hours):
    booking_type = BookingTypeFactory(workspace=workspace_a)
    BookingFactory(workspace=workspace_a, booking_type=booking_type, start=at(MONDAY, 10))
    BookingFactory(
        workspace=workspace_a,
        booking_type=booking_type,
        start=at(MONDAY, 12),
        status=Booking.Status.CANCELLED,
    )

    offered = starts(slots_on(booking_type, MONDAY))

    assert "10:00" not in offered
    assert "12:00" in offered


def test_buffers_on_both_sides_keep_slots_apart(workspace_a, monday_hours):
    existing_type = BookingTypeFactory(workspace=workspace_a, buffer_after_minutes=30)
    BookingFactory(workspace=workspace_a, booking_type=existing_type, start=at(MONDAY, 11))
    # Blocked 11:00-12:30. The new type needs 15 minutes free before its start.
    booking_type = BookingTypeFactory(
        workspace=workspace_a, buffer_before_minutes=15, slot_interval_minutes=15
    )

    offered = starts(slots_on(booking_type, MONDAY))

    assert "09:45" in offered  # ends 10:45 < 11:00
    assert "10:00" in offered  # ends 11:00, exactly where the booking starts
    assert "10:15" not in offered
    assert "12:30" not in offered  # its 15-minute buffer would start at 12:15
    assert "12:45" in offered


def test_buffers_may_fall_outside_working_hours(workspace_a, monday_hours):
    booking_type = BookingTypeFactory(
        workspace=workspace_a, buffer_before_minutes=30, buffer_after_minutes=30
    )

    offered = starts(slots_on(booking_type, MONDAY))

    assert offered[0] == "09:00"
    assert offered[-1] == "16:00"


def test_calendars_free_at_the_same_time_share_a_slot(workspace_a):
    ann = MembershipFactory(workspace=workspace_a).user
    bob = MembershipFactory(workspace=workspace_a).user
    for person in (ann, bob):
        WorkingHoursFactory(workspace=workspace_a, staff=person, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a, staff=[bob, ann])
    BookingFactory(
        workspace=workspace_a, booking_type=booking_type, staff=ann, start=at(MONDAY, 10)
    )

    slots = {slot.start: slot.staff_ids for slot in slots_on(booking_type, MONDAY)}

    assert slots[at(MONDAY, 9)] == (ann.pk, bob.pk)
    assert slots[at(MONDAY, 10)] == (bob.pk,)
    only_bob = slots_on(booking_type, MONDAY, staff=bob)
    assert {slot.staff_ids for slot in only_bob} == {(bob.pk,)}
    assert len(only_bob) == 8


def test_the_shared_calendar_ignores_staff_calendars(workspace_a, monday_hours, staff):
    booking_type = BookingTypeFactory(workspace=workspace_a)
    WorkingHoursFactory(workspace=workspace_a, staff=staff, weekday=1)
    BookingFactory(
        workspace=workspace_a, booking_type=booking_type, staff=staff, start=at(MONDAY, 9)
    )

    assert starts(slots_on(booking_type, MONDAY))[0] == "09:00"
    assert slots_on(booking_type, MONDAY + timedelta(days=1)) == []


def test_staff_who_do_not_deliver_the_type_are_invalid_input(workspace_a, monday_hours, staff):
    booking_type = BookingTypeFactory(workspace=workspace_a)

    with pytest.raises(InvalidInput) as exc_info:
        slots_on(booking_type, MONDAY, staff=staff)
    assert "staff" in exc_info.value.fields


def test_an_unknown_time_zone_is_invalid_input(workspace_a, monday_hours):
    booking_type = BookingTypeFactory(workspace=workspace_a)

    with pytest.raises(InvalidInput) as exc_info:
        slots_on(booking_type, MONDAY, tz="Mars/Olympus")
    assert "tz" in exc_info.value.fields


def test_another_workspaces_hours_and_bookings_do_not_count(workspace_a, workspace_b, monday_hours):
    booking_type = BookingTypeFactory(workspace=workspace_a)
    WorkingHoursFactory(workspace=workspace_b, weekday=1)
    other_type = BookingTypeFactory(workspace=workspace_b)
    BookingFactory(workspace=workspace_b, booking_type=other_type, start=at(MONDAY, 9))

    assert starts(slots_on(booking_type, MONDAY))[0] == "09:00"
    assert slots_on(booking_type, MONDAY + timedelta(days=1)) == []


# --- Notice and horizon ---------------------------------------------------------------------------


def test_minimum_notice_and_horizon_bound_the_slots(workspace_a):
    for weekday in range(7):
        WorkingHoursFactory(workspace=workspace_a, weekday=weekday)
    booking_type = BookingTypeFactory(workspace=workspace_a, min_notice_minutes=60, horizon_days=1)
    now = at(MONDAY, 10, 30)

    slots = available_slots(
        booking_type=booking_type,
        start_date=MONDAY,
        end_date=MONDAY + timedelta(days=3),
        tz="Europe/London",
        now=now,
    )

    assert [f"{s.start:%a %H:%M}" for s in slots] == [
        *[f"Mon {h:02d}:00" for h in range(12, 17)],
        "Tue 09:00",
        "Tue 10:00",  # 10:00 is inside the horizon (Tue 10:30)
    ]


def test_a_slot_exactly_at_the_notice_and_horizon_limits_is_offered(workspace_a, monday_hours):
    booking_type = BookingTypeFactory(workspace=workspace_a, min_notice_minutes=60, horizon_days=7)

    assert starts(slots_on(booking_type, MONDAY, now=at(MONDAY, 9)))[0] == "10:00"
    next_monday = MONDAY + timedelta(days=7)
    assert starts(slots_on(booking_type, next_monday, now=at(MONDAY, 12))) == [
        "09:00",
        "10:00",
        "11:00",
        "12:00",
    ]


# --- Time zones and daylight saving ---------------------------------------------------------------

SPRING_FORWARD = date(2026, 3, 29)  # London: 01:00 GMT -> 02:00 BST
FALL_BACK = date(2026, 10, 25)  # London: 02:00 BST -> 01:00 GMT


@pytest.mark.parametrize(
    ("day", "utc_offset_hours"), [(SPRING_FORWARD, 1), (FALL_BACK, 0), (MONDAY, 0)]
)
def test_wall_clock_hours_hold_across_dst_changes(workspace_a, day, utc_offset_hours):
    WorkingHoursFactory(workspace=workspace_a, weekday=day.weekday())
    booking_type = BookingTypeFactory(workspace=workspace_a, horizon_days=365)

    slots = slots_on(booking_type, day)

    assert starts(slots, LONDON) == [f"{h:02d}:00" for h in range(9, 17)]
    assert slots[0].start == at(day, 9 - utc_offset_hours)
    assert slots[0].start.astimezone(LONDON).utcoffset() == timedelta(hours=utc_offset_hours)


def test_hours_through_the_spring_forward_gap_shrink(workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=6, start_time=time(0), end_time=time(4))
    booking_type = BookingTypeFactory(workspace=workspace_a, horizon_days=365)

    slots = slots_on(booking_type, SPRING_FORWARD)

    # 00:00 GMT to 04:00 BST is three hours; 01:00-02:00 never happens that night.
    assert starts(slots) == ["00:00", "01:00", "02:00"]
    assert starts(slots, LONDON) == ["00:00", "02:00", "03:00"]


def test_hours_through_the_fall_back_hour_grow(workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=6, start_time=time(0), end_time=time(4))
    booking_type = BookingTypeFactory(workspace=workspace_a, horizon_days=365)

    slots = slots_on(booking_type, FALL_BACK)

    # 00:00 BST (23:00 UTC the day before) to 04:00 GMT is five hours; 01:00 happens twice.
    assert [s.start for s in slots] == [
        datetime(2026, 10, 24, 23, tzinfo=UTC) + timedelta(hours=n) for n in range(5)
    ]
    assert starts(slots, LONDON) == ["00:00", "01:00", "01:00", "02:00", "03:00"]


def test_a_start_time_inside_the_gap_reads_as_after_it(workspace_a):
    """fold=0: a wall-clock time that does not exist takes the offset before the gap."""
    WorkingHoursFactory(workspace=workspace_a, weekday=6, start_time=time(1, 30), end_time=time(5))
    booking_type = BookingTypeFactory(workspace=workspace_a, horizon_days=365)

    slots = slots_on(booking_type, SPRING_FORWARD)

    # 01:30 does not exist: read as 01:30 GMT, which is 02:30 BST; 05:00 BST closes.
    assert starts(slots, LONDON) == ["02:30", "03:30"]
    assert slots[0].start == at(SPRING_FORWARD, 1, 30)


@pytest.mark.parametrize(
    ("day", "new_york_start"), [(SPRING_FORWARD, "04:00"), (FALL_BACK, "05:00")]
)
def test_a_visitor_in_new_york_sees_the_london_9am_slot_on_the_right_day(
    workspace_a, day, new_york_start
):
    WorkingHoursFactory(workspace=workspace_a, weekday=6)
    booking_type = BookingTypeFactory(workspace=workspace_a, horizon_days=365)

    slots = slots_on(booking_type, day, tz="America/New_York")

    new_york = ZoneInfo("America/New_York")
    assert starts(slots, new_york)[0] == new_york_start
    assert {slot.start.astimezone(new_york).date() for slot in slots} == {day}
    assert len(slots) == 8


def test_a_visitor_days_are_their_own_days(workspace_a, monday_hours):
    """Tokyo is 9 hours ahead: London's Monday 15:00 and 16:00 are Tuesday there."""
    booking_type = BookingTypeFactory(workspace=workspace_a)
    tokyo = ZoneInfo("Asia/Tokyo")

    monday = slots_on(booking_type, MONDAY, tz="Asia/Tokyo")
    tuesday = slots_on(booking_type, MONDAY + timedelta(days=1), tz="Asia/Tokyo")

    assert starts(monday, tokyo) == ["18:00", "19:00", "20:00", "21:00", "22:00", "23:00"]
    assert starts(tuesday, tokyo) == ["00:00", "01:00"]


# --- Calendars and queries ------------------------------------------------------------------------


def test_calendars_are_the_types_staff_by_id_or_the_shared_one(workspace_a):
    ann = MembershipFactory(workspace=workspace_a).user
    bob = MembershipFactory(workspace=workspace_a).user

    assert calendars_for(BookingTypeFactory(workspace=workspace_a)) == [None]
    assert calendars_for(BookingTypeFactory(workspace=workspace_a, staff=[bob, ann])) == [ann, bob]


def test_a_month_of_slots_takes_three_queries(workspace_a, django_assert_num_queries):
    people = [MembershipFactory(workspace=workspace_a).user for _ in range(3)]
    for person in people:
        for weekday in range(5):
            WorkingHoursFactory(workspace=workspace_a, staff=person, weekday=weekday)
        AvailabilityOverrideFactory(workspace=workspace_a, staff=person, date=MONDAY)
    created = BookingTypeFactory(workspace=workspace_a, staff=people)
    for n in range(10):
        BookingFactory(
            workspace=workspace_a,
            booking_type=created,
            staff=people[n % 3],
            start=at(MONDAY + timedelta(days=n), 10),
        )
    booking_type = (
        BookingType.objects.select_related("workspace").prefetch_related("staff").get(pk=created.pk)
    )

    # 3 queries: working hours, overrides, bookings (type, workspace and staff already read)
    with django_assert_num_queries(3):
        slots = available_slots(
            booking_type=booking_type,
            start_date=MONDAY,
            end_date=MONDAY + timedelta(days=30),
            tz="Europe/London",
            now=NOW,
        )
    assert len(slots) > 150


# --- Properties -----------------------------------------------------------------------------------

WEEK = date(2026, 3, 23)  # Monday; London springs forward on its Sunday
hours_strategy = st.lists(
    st.one_of(
        st.none(),
        st.tuples(st.integers(0, 22 * 4), st.integers(1, 8 * 4)).map(
            lambda t: (t[0] * 15, min(t[0] * 15 + t[1] * 15, 23 * 60 + 59))
        ),
    ),
    min_size=7,
    max_size=7,
)
bookings_strategy = st.lists(
    st.tuples(
        st.integers(0, 9 * 24 * 4),  # start, quarter-hours after the week's Monday midnight UTC
        st.integers(1, 12),  # duration, quarter-hours
        st.sampled_from([Booking.Status.CONFIRMED, Booking.Status.PENDING, "cancelled"]),
    ),
    max_size=12,
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    hours=hours_strategy,
    bookings=bookings_strategy,
    duration=st.sampled_from([15, 30, 45, 60, 90]),
    interval=st.sampled_from([0, 10, 15, 30]),
    before=st.sampled_from([0, 5, 15]),
    after=st.sampled_from([0, 10, 30]),
    notice=st.integers(0, 48 * 60),
    horizon=st.integers(0, 8),
    now_offset=st.integers(-24 * 60, 3 * 24 * 60),
)
def test_slots_never_overlap_bookings_leave_hours_or_break_notice_and_horizon(
    workspace_a, hours, bookings, duration, interval, before, after, notice, horizon, now_offset
):
    with transaction.atomic():
        for weekday, window in enumerate(hours):
            if window is not None:
                start, end = window
                WorkingHoursFactory(
                    workspace=workspace_a,
                    weekday=weekday,
                    start_time=time(start // 60, start % 60),
                    end_time=time(end // 60, end % 60),
                )
        booking_type = BookingTypeFactory(
            workspace=workspace_a,
            duration_minutes=duration,
            slot_interval_minutes=interval,
            buffer_before_minutes=before,
            buffer_after_minutes=after,
            min_notice_minutes=notice,
            horizon_days=horizon,
        )
        existing_type = BookingTypeFactory(workspace=workspace_a, duration_minutes=15)
        contact = ContactFactory(workspace=workspace_a)
        monday = at(WEEK, 0)
        taken: list[tuple[datetime, datetime]] = []
        for offset, quarters, status in bookings:
            start = monday + timedelta(minutes=15 * offset)
            end = start + timedelta(minutes=15 * quarters)
            active = status != "cancelled"
            if active and any(s < end and start < e for s, e in taken):
                continue  # the database would refuse it
            BookingFactory(
                workspace=workspace_a,
                booking_type=existing_type,
                contact=contact,
                start=start,
                end=end,
                blocked_end=end,
                status=status,
            )
            if active:
                taken.append((start, end))
        now = monday + timedelta(minutes=now_offset)

        slots = available_slots(
            booking_type=booking_type,
            start_date=WEEK,
            end_date=WEEK + timedelta(days=6),
            tz="Europe/London",
            now=now,
        )

        for slot in slots:
            assert slot.end - slot.start == timedelta(minutes=duration)
            assert slot.staff_ids == (None,)
            assert slot.start >= now + timedelta(minutes=notice)
            assert slot.start <= now + timedelta(days=horizon)
            local_day = slot.start.astimezone(LONDON).date()
            assert WEEK <= local_day <= WEEK + timedelta(days=6)
            window = hours[local_day.weekday()]
            assert window is not None
            opens = datetime.combine(local_day, time(window[0] // 60, window[0] % 60), LONDON)
            closes = datetime.combine(local_day, time(window[1] // 60, window[1] % 60), LONDON)
            assert opens <= slot.start
            assert slot.end <= closes
            step = timedelta(minutes=interval or duration)
            assert (slot.start - opens.astimezone(UTC)) % step == timedelta(0)
            need_start = slot.start - timedelta(minutes=before)
            need_end = slot.end + timedelta(minutes=after)
            assert not any(s < need_end and need_start < e for s, e in taken)
        assert len({slot.start for slot in slots}) == len(slots)
        assert [slot.start for slot in slots] == sorted(slot.start for slot in slots)
        transaction.set_rollback(True)

"""The booking setup API: booking types, working hours and date overrides. Owners write,
staff read, outsiders see nothing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bookings.models import AvailabilityOverride, BookingType, WorkingHours
from bookings.tests.factories import (
    AvailabilityOverrideFactory,
    BookingFactory,
    BookingTypeFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db

TYPES = "/api/v1/booking-types"
HOURS = "/api/v1/working-hours"
OVERRIDES = "/api/v1/availability-overrides"


# --- Booking types ------------------------------------------------------------------------------


def test_an_owner_adds_a_service_with_its_staff_and_a_slug_from_its_name(
    owner_api, workspace_a, staff, owner
):
    response = owner_api.post(
        TYPES,
        {
            "name": "Deep Tissue Massage",
            "duration_minutes": 90,
            "price_display": "£80",
            "staff": [staff.pk, owner.pk],
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["slug"], body["duration_minutes"], body["staff"]) == (
        "deep-tissue-massage",
        90,
        sorted([staff.pk, owner.pk]),
    )
    kind = BookingType.objects.for_workspace(workspace_a).get()
    assert set(kind.staff.all()) == {staff, owner}


def test_a_slug_made_from_a_taken_name_gets_a_number(owner_api, workspace_a):
    BookingTypeFactory(workspace=workspace_a, name="Massage", slug="massage")

    response = owner_api.post(TYPES, {"name": "Massage"}, format="json")

    assert response.status_code == 201
    assert response.json()["slug"] == "massage-2"


def test_a_taken_slug_given_explicitly_is_a_field_error(owner_api, workspace_a, workspace_b):
    BookingTypeFactory(workspace=workspace_a, slug="massage")
    BookingTypeFactory(workspace=workspace_b, slug="facial")

    taken = owner_api.post(TYPES, {"name": "Other", "slug": "massage"}, format="json")
    free_here = owner_api.post(TYPES, {"name": "Facial", "slug": "facial"}, format="json")

    assert taken.status_code == 400
    assert set(taken.json()["fields"]) == {"slug"}
    assert free_here.status_code == 201


def test_staff_of_a_service_must_be_members(owner_api, workspace_a, outsider):
    response = owner_api.post(TYPES, {"name": "Massage", "staff": [outsider.pk]}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"staff"}
    assert not BookingType.objects.exists()


@pytest.mark.parametrize("minutes", [0, 24 * 60 + 1])
def test_a_duration_out_of_range_is_a_field_error(owner_api, workspace_a, minutes):
    response = owner_api.post(TYPES, {"name": "x", "duration_minutes": minutes}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"duration_minutes"}


def test_an_owner_changes_a_service_and_who_delivers_it(owner_api, workspace_a, staff, owner):
    kind = BookingTypeFactory(workspace=workspace_a, slug="massage", staff=[staff])

    response = owner_api.patch(
        f"{TYPES}/{kind.pk}", {"is_active": False, "staff": [owner.pk]}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["is_active"], response.json()["staff"]) == (False, [owner.pk])
    assert response.json()["slug"] == "massage"
    kind.refresh_from_db()
    assert list(kind.staff.all()) == [owner]


def test_a_service_with_bookings_is_kept_but_an_unused_one_is_deleted(owner_api, workspace_a):
    booked = BookingTypeFactory(workspace=workspace_a)
    BookingFactory(
        workspace=workspace_a, booking_type=booked, start=datetime(2026, 3, 2, 9, tzinfo=UTC)
    )
    unused = BookingTypeFactory(workspace=workspace_a)

    kept = owner_api.delete(f"{TYPES}/{booked.pk}")
    deleted = owner_api.delete(f"{TYPES}/{unused.pk}")

    assert kept.status_code == 409
    assert deleted.status_code == 204
    assert list(BookingType.objects.all()) == [booked]


def test_staff_read_the_services_but_may_not_change_them(
    staff_api, workspace_a, django_assert_max_num_queries
):
    kinds = [BookingTypeFactory(workspace=workspace_a) for _ in range(3)]

    # 5 queries: the token's user, the membership, the count, the page, the staff prefetch
    with django_assert_max_num_queries(5):
        listed = staff_api.get(TYPES)
    created = staff_api.post(TYPES, {"name": "Mine"}, format="json")
    changed = staff_api.patch(f"{TYPES}/{kinds[0].pk}", {"name": "x"}, format="json")
    deleted = staff_api.delete(f"{TYPES}/{kinds[0].pk}")

    assert listed.status_code == 200
    assert listed.json()["count"] == 3
    assert (created.status_code, changed.status_code, deleted.status_code) == (403, 403, 403)
    assert BookingType.objects.count() == 3


def test_outsiders_get_404_for_a_workspaces_setup(outsider_api, workspace_a):
    kind = BookingTypeFactory(workspace=workspace_a)
    hours = WorkingHoursFactory(workspace=workspace_a)
    override = AvailabilityOverrideFactory(workspace=workspace_a)

    for url in (f"{TYPES}/{kind.pk}", f"{HOURS}/{hours.pk}", f"{OVERRIDES}/{override.pk}"):
        assert outsider_api.get(url).status_code == 404
        assert outsider_api.patch(url, {}, format="json").status_code == 404
        assert outsider_api.delete(url).status_code == 404
    assert outsider_api.get(TYPES).json()["count"] == 0


# --- Working hours -------------------------------------------------------------------------------


def test_an_owner_sets_opening_hours_for_the_shared_and_a_staff_calendar(
    owner_api, workspace_a, staff
):
    shared = owner_api.post(
        HOURS, {"weekday": 0, "start_time": "09:00", "end_time": "12:00"}, format="json"
    )
    theirs = owner_api.post(
        HOURS,
        {"staff": staff.pk, "weekday": 0, "start_time": "10:00", "end_time": "18:00"},
        format="json",
    )

    assert shared.status_code == 201
    assert shared.json()["staff"] is None
    assert (shared.json()["start_time"], shared.json()["end_time"]) == ("09:00:00", "12:00:00")
    assert theirs.status_code == 201
    assert theirs.json()["staff"] == staff.pk
    assert WorkingHours.objects.for_workspace(workspace_a).count() == 2


def test_hours_must_end_after_they_start(owner_api, workspace_a):
    response = owner_api.post(
        HOURS, {"weekday": 0, "start_time": "12:00", "end_time": "09:00"}, format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"end_time"}


def test_overlapping_hours_on_one_calendar_and_day_are_refused(owner_api, workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)  # 09:00-17:00

    overlapping = owner_api.post(
        HOURS, {"weekday": 0, "start_time": "16:00", "end_time": "19:00"}, format="json"
    )
    adjoining = owner_api.post(
        HOURS, {"weekday": 0, "start_time": "17:00", "end_time": "19:00"}, format="json"
    )
    other_day = owner_api.post(
        HOURS, {"weekday": 1, "start_time": "16:00", "end_time": "19:00"}, format="json"
    )

    assert overlapping.status_code == 400
    assert set(overlapping.json()["fields"]) == {"start_time"}
    assert (adjoining.status_code, other_day.status_code) == (201, 201)


def test_hours_change_and_may_not_be_moved_onto_others(owner_api, workspace_a):
    morning = WorkingHoursFactory(
        workspace=workspace_a, weekday=0, start_time="09:00", end_time="12:00"
    )
    WorkingHoursFactory(workspace=workspace_a, weekday=0, start_time="13:00", end_time="17:00")

    widened = owner_api.patch(f"{HOURS}/{morning.pk}", {"end_time": "12:30"}, format="json")
    clashing = owner_api.patch(f"{HOURS}/{morning.pk}", {"end_time": "14:00"}, format="json")

    assert widened.status_code == 200
    assert widened.json()["end_time"] == "12:30:00"
    assert clashing.status_code == 400
    morning.refresh_from_db()
    assert str(morning.end_time) == "12:30:00"


def test_hours_for_a_non_member_or_a_bad_weekday_are_refused(owner_api, workspace_a, outsider):
    stranger = owner_api.post(
        HOURS,
        {"staff": outsider.pk, "weekday": 0, "start_time": "09:00", "end_time": "12:00"},
        format="json",
    )
    sunday_plus = owner_api.post(
        HOURS, {"weekday": 7, "start_time": "09:00", "end_time": "12:00"}, format="json"
    )

    assert stranger.status_code == 400
    assert set(stranger.json()["fields"]) == {"staff"}
    assert sunday_plus.status_code == 400
    assert set(sunday_plus.json()["fields"]) == {"weekday"}
    assert not WorkingHours.objects.exists()


def test_staff_read_hours_but_only_owners_change_them(staff_api, owner_api, workspace_a):
    hours = WorkingHoursFactory(workspace=workspace_a)

    assert staff_api.get(HOURS).json()["count"] == 1
    assert staff_api.delete(f"{HOURS}/{hours.pk}").status_code == 403
    assert owner_api.delete(f"{HOURS}/{hours.pk}").status_code == 204
    assert not WorkingHours.objects.exists()


# --- Overrides -----------------------------------------------------------------------------------


def test_an_owner_closes_a_day_or_opens_it_at_other_times(owner_api, workspace_a):
    closed = owner_api.post(OVERRIDES, {"date": "2026-12-25", "note": "Christmas"}, format="json")
    short = owner_api.post(
        OVERRIDES,
        {"date": "2026-12-24", "start_time": "09:00", "end_time": "13:00"},
        format="json",
    )

    assert closed.status_code == 201
    assert (closed.json()["start_time"], closed.json()["note"]) == (None, "Christmas")
    assert short.status_code == 201
    assert AvailabilityOverride.objects.for_workspace(workspace_a).count() == 2


@pytest.mark.parametrize(
    ("times", "field"),
    [
        ({"start_time": "09:00"}, "end_time"),
        ({"start_time": "13:00", "end_time": "09:00"}, "end_time"),
    ],
)
def test_an_override_has_both_times_in_order_or_none(owner_api, workspace_a, times, field):
    response = owner_api.post(OVERRIDES, {"date": "2026-12-24", **times}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}


def test_a_closed_day_and_open_times_on_one_calendar_do_not_mix(owner_api, workspace_a, staff):
    AvailabilityOverrideFactory(workspace=workspace_a, date="2026-12-25")

    open_too = owner_api.post(
        OVERRIDES,
        {"date": "2026-12-25", "start_time": "09:00", "end_time": "12:00"},
        format="json",
    )
    their_calendar = owner_api.post(
        OVERRIDES,
        {"date": "2026-12-25", "staff": staff.pk, "start_time": "09:00", "end_time": "12:00"},
        format="json",
    )

    assert open_too.status_code == 400
    assert set(open_too.json()["fields"]) == {"date"}
    assert their_calendar.status_code == 201


def test_staff_may_not_add_overrides(staff_api, workspace_a):
    response = staff_api.post(OVERRIDES, {"date": "2026-12-25"}, format="json")

    assert response.status_code == 403
    assert not AvailabilityOverride.objects.exists()

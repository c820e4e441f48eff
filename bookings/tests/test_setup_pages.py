"""The owner's booking settings pages: services (booking types), and each calendar's weekly
hours and date overrides. Owners only: staff get 403, another workspace's rows are 404."""

from __future__ import annotations

import re
from datetime import date, time

import pytest
import time_machine
from django.urls import reverse

from bookings.models import AvailabilityOverride, BookingType, WorkingHours
from bookings.tests.factories import (
    AvailabilityOverrideFactory,
    BookingFactory,
    BookingTypeFactory,
    WorkingHoursFactory,
)

pytestmark = pytest.mark.django_db


def field_errors(response) -> dict[str, str]:
    html = response.content.decode()
    return dict(re.findall(r'<p class="error" id="id_(\w+)-error">([^<]*)</p>', html))


def type_data(**changes) -> dict:
    data = {
        "name": "Deep tissue massage",
        "slug": "",
        "description": "Sixty minutes.",
        "duration_minutes": 60,
        "buffer_before_minutes": 0,
        "buffer_after_minutes": 15,
        "location": "Room 2",
        "video_link": "",
        "price_display": "£60",
        "is_active": "on",
        "min_notice_minutes": 120,
        "horizon_days": 60,
        "slot_interval_minutes": 0,
        "cancel_cutoff_hours": 24,
        "reschedule_cutoff_hours": 24,
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# --- Booking types ----------------------------------------------------------------------------


def test_owners_see_their_services(owner_client, workspace_a, workspace_b, staff):
    staff.name = "Sam Staff"
    staff.save()
    BookingTypeFactory(workspace=workspace_a, name="Massage", staff=[staff], price_display="£60")
    BookingTypeFactory(workspace=workspace_b, name="Haircut")

    response = owner_client.get(reverse("settings-booking-types"))

    assert response.status_code == 200
    listing = response.content.decode().split('data-testid="booking-types"')[1]
    assert "Massage" in listing
    assert "60 min · £60 · Sam Staff" in listing
    assert "Haircut" not in listing


def test_the_services_page_renders_in_constant_queries(
    owner_client, workspace_a, staff, django_assert_max_num_queries
):
    for _ in range(8):
        BookingTypeFactory(workspace=workspace_a, staff=[staff])
    owner_client.get(reverse("settings-booking-types"))

    # session, user, membership+workspace, the types, their staff (prefetched), the switcher
    with django_assert_max_num_queries(6):
        response = owner_client.get(reverse("settings-booking-types"))

    assert response.status_code == 200


def test_an_owner_adds_a_service_delivered_by_a_staff_member(owner_client, workspace_a, staff):
    response = owner_client.post(
        reverse("settings-booking-type-new"), {**type_data(), "staff": [staff.pk]}
    )

    assert response.status_code == 302
    assert response["Location"] == reverse("settings-booking-types")
    created = BookingType.objects.get(workspace=workspace_a)
    assert (created.name, created.slug, created.duration_minutes) == (
        "Deep tissue massage",
        "deep-tissue-massage",
        60,
    )
    assert (created.buffer_after_minutes, created.price_display) == (15, "£60")
    assert list(created.staff.all()) == [staff]


def test_a_new_service_with_errors_shows_them_on_the_fields(owner_client, workspace_a):
    response = owner_client.post(
        reverse("settings-booking-type-new"),
        type_data(name="", duration_minutes="", video_link="not a link"),
    )

    assert response.status_code == 400
    assert set(field_errors(response)) == {"name", "duration_minutes", "video_link"}
    assert not BookingType.objects.exists()


def test_a_taken_slug_is_refused_on_its_field(owner_client, workspace_a, workspace_b):
    BookingTypeFactory(workspace=workspace_a, slug="massage")
    BookingTypeFactory(workspace=workspace_b, slug="haircut")  # another workspace's: free

    taken = owner_client.post(reverse("settings-booking-type-new"), type_data(slug="massage"))
    free = owner_client.post(reverse("settings-booking-type-new"), type_data(slug="haircut"))

    assert taken.status_code == 400
    assert field_errors(taken) == {"slug": "Another service of this workspace has this slug."}
    assert free.status_code == 302


def test_a_too_long_duration_is_refused(owner_client):
    response = owner_client.post(
        reverse("settings-booking-type-new"), type_data(duration_minutes=24 * 60 + 1)
    )

    assert response.status_code == 400
    assert field_errors(response) == {
        "duration_minutes": "Ensure this value is less than or equal to 1440."
    }


def test_an_owner_edits_a_service(owner_client, workspace_a, staff, owner):
    kind = BookingTypeFactory(workspace=workspace_a, name="Massage", staff=[staff])

    page = owner_client.get(reverse("settings-booking-type-edit", args=[kind.pk]))
    response = owner_client.post(
        reverse("settings-booking-type-edit", args=[kind.pk]),
        type_data(name="Long massage", slug=kind.slug, duration_minutes=90, is_active=None)
        | {"staff": [owner.pk]},
    )

    assert page.status_code == 200
    assert b'value="Massage"' in page.content
    assert response.status_code == 302
    kind.refresh_from_db()
    assert (kind.name, kind.duration_minutes, kind.is_active) == ("Long massage", 90, False)
    assert list(kind.staff.all()) == [owner]


def test_a_refused_edit_keeps_the_stored_name_in_the_heading(owner_client, workspace_a):
    kind = BookingTypeFactory(workspace=workspace_a, name="Massage")

    response = owner_client.post(
        reverse("settings-booking-type-edit", args=[kind.pk]), type_data(name="")
    )

    assert response.status_code == 400
    assert b"<h1>Massage</h1>" in response.content
    kind.refresh_from_db()
    assert kind.name == "Massage"


def test_a_service_nobody_booked_can_be_deleted(owner_client, workspace_a):
    kind = BookingTypeFactory(workspace=workspace_a)

    response = owner_client.post(reverse("settings-booking-type-delete", args=[kind.pk]))

    assert response.status_code == 302
    assert not BookingType.objects.filter(pk=kind.pk).exists()


def test_a_booked_service_is_kept_and_the_page_says_why(owner_client, workspace_a):
    kind = BookingTypeFactory(workspace=workspace_a)
    BookingFactory(workspace=workspace_a, booking_type=kind)

    response = owner_client.post(reverse("settings-booking-type-delete", args=[kind.pk]))

    assert response.status_code == 409
    assert b"deactivate it instead" in response.content
    assert BookingType.objects.filter(pk=kind.pk).exists()


def test_staff_may_not_open_the_booking_settings(staff_client, workspace_a):
    kind = BookingTypeFactory(workspace=workspace_a)
    hours = WorkingHoursFactory(workspace=workspace_a)

    assert staff_client.get(reverse("settings-booking-types")).status_code == 403
    assert staff_client.get(reverse("settings-booking-type-new")).status_code == 403
    assert staff_client.post(reverse("settings-booking-type-new"), type_data()).status_code == 403
    edit = reverse("settings-booking-type-edit", args=[kind.pk])
    assert staff_client.post(edit, type_data(name="Mine")).status_code == 403
    assert staff_client.get(reverse("settings-availability")).status_code == 403
    add = reverse("settings-hours-add")
    assert (
        staff_client.post(
            add, {"weekday": 1, "start_time": "09:00", "end_time": "12:00"}
        ).status_code
        == 403
    )
    delete = reverse("settings-hours-delete", args=[hours.pk])
    assert staff_client.post(delete).status_code == 403
    kind.refresh_from_db()
    assert kind.name != "Mine"
    assert WorkingHours.objects.count() == 1


def test_another_workspaces_service_is_not_found(outsider_client, workspace_a):
    kind = BookingTypeFactory(workspace=workspace_a, name="Massage")

    assert (
        outsider_client.get(reverse("settings-booking-type-edit", args=[kind.pk])).status_code
        == 404
    )
    edit = reverse("settings-booking-type-edit", args=[kind.pk])
    assert outsider_client.post(edit, type_data(name="Stolen")).status_code == 404
    delete = reverse("settings-booking-type-delete", args=[kind.pk])
    assert outsider_client.post(delete).status_code == 404
    kind.refresh_from_db()
    assert kind.name == "Massage"


def test_staff_of_another_workspace_cannot_deliver_a_service(owner_client, outsider):
    response = owner_client.post(
        reverse("settings-booking-type-new"), {**type_data(), "staff": [outsider.pk]}
    )

    assert response.status_code == 400
    assert b"is not one of the available choices" in response.content
    assert not BookingType.objects.exists()


# --- Working hours and date overrides ---------------------------------------------------------


def test_the_availability_page_shows_the_shared_calendars_week(owner_client, workspace_a, staff):
    WorkingHoursFactory(workspace=workspace_a, weekday=0, start_time=time(9), end_time=time(12))
    WorkingHoursFactory(workspace=workspace_a, weekday=0, start_time=time(13), end_time=time(17))
    WorkingHoursFactory(workspace=workspace_a, staff=staff, weekday=2)

    response = owner_client.get(reverse("settings-availability"))

    assert response.status_code == 200
    week = response.content.decode().split('data-testid="working-hours"')[1].split("</table>")[0]
    monday = week.split('<th scope="row">Monday</th>')[1].split("</tr>")[0]
    assert "09:00\u201312:00" in monday and "13:00\u201317:00" in monday
    wednesday = week.split('<th scope="row">Wednesday</th>')[1].split("</tr>")[0]
    assert "Closed" in wednesday  # the staff member's hours are on their own calendar


def test_a_staff_members_calendar_shows_their_hours(owner_client, workspace_a, staff):
    WorkingHoursFactory(workspace=workspace_a, staff=staff, weekday=2)

    response = owner_client.get(reverse("settings-availability"), {"calendar": staff.pk})

    week = response.content.decode().split('data-testid="working-hours"')[1].split("</table>")[0]
    assert "09:00\u201317:00" in week.split("Wednesday")[1].split("</tr>")[0]


def test_the_availability_page_renders_in_constant_queries(
    owner_client, workspace_a, django_assert_max_num_queries
):
    for day in range(7):
        WorkingHoursFactory(workspace=workspace_a, weekday=day)
        AvailabilityOverrideFactory(workspace=workspace_a, date=date(2099, 1, day + 1))
    owner_client.get(reverse("settings-availability"))

    # session, user, membership+workspace, members, hours, overrides, the switcher
    with django_assert_max_num_queries(7):
        response = owner_client.get(reverse("settings-availability"))

    assert response.status_code == 200


def test_an_owner_adds_hours_to_a_staff_members_week(owner_client, workspace_a, staff):
    response = owner_client.post(
        reverse("settings-hours-add"),
        {"calendar": staff.pk, "weekday": 1, "start_time": "09:00", "end_time": "12:30"},
    )

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('settings-availability')}?calendar={staff.pk}#week"
    hours = WorkingHours.objects.get()
    assert (hours.workspace, hours.staff, hours.weekday) == (workspace_a, staff, 1)
    assert (hours.start_time, hours.end_time) == (time(9), time(12, 30))


def test_overlapping_hours_are_refused_on_the_form(owner_client, workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=1, start_time=time(9), end_time=time(12))

    response = owner_client.post(
        reverse("settings-hours-add"), {"weekday": 1, "start_time": "11:00", "end_time": "14:00"}
    )

    assert response.status_code == 400
    assert "Overlaps the hours 09:00-12:00" in field_errors(response)["start_time"]
    assert WorkingHours.objects.count() == 1


def test_hours_that_end_before_they_start_are_refused(owner_client):
    response = owner_client.post(
        reverse("settings-hours-add"), {"weekday": 1, "start_time": "14:00", "end_time": "09:00"}
    )

    assert response.status_code == 400
    assert field_errors(response) == {"end_time": "End after the start."}


def test_hours_cannot_go_on_another_workspaces_member(owner_client, outsider):
    response = owner_client.post(
        reverse("settings-hours-add"),
        {"calendar": outsider.pk, "weekday": 1, "start_time": "09:00", "end_time": "12:00"},
    )

    assert response.status_code == 400
    assert b"Not a member of this workspace" in response.content
    assert not WorkingHours.objects.exists()


def test_an_owner_removes_hours(owner_client, workspace_a):
    hours = WorkingHoursFactory(workspace=workspace_a)

    response = owner_client.post(reverse("settings-hours-delete", args=[hours.pk]))

    assert response.status_code == 302
    assert not WorkingHours.objects.exists()


@time_machine.travel("2026-07-01 12:00Z", tick=False)
def test_an_owner_closes_a_date_and_opens_another_at_other_times(owner_client, workspace_a):
    closed = owner_client.post(
        reverse("settings-override-add"),
        {"date": "2026-12-25", "closed": "on", "start_time": "10:00", "note": "Christmas"},
    )
    short = owner_client.post(
        reverse("settings-override-add"),
        {"date": "2026-12-24", "start_time": "09:00", "end_time": "13:00"},
    )
    page = owner_client.get(reverse("settings-availability"))

    assert (closed.status_code, short.status_code) == (302, 302)
    christmas = AvailabilityOverride.objects.get(date=date(2026, 12, 25))
    assert (christmas.is_closed, christmas.note, christmas.staff) == (True, "Christmas", None)
    eve = AvailabilityOverride.objects.get(date=date(2026, 12, 24))
    assert (eve.start_time, eve.end_time) == (time(9), time(13))
    overrides = page.content.decode().split('data-testid="overrides"')[1].split("</ul>")[0]
    assert overrides.index("Thu 24 Dec 2026") < overrides.index("Fri 25 Dec 2026")
    assert "09:00\u201313:00" in overrides and "closed" in overrides


def test_an_override_needs_times_or_closed(owner_client):
    response = owner_client.post(reverse("settings-override-add"), {"date": "2026-12-24"})

    assert response.status_code == 400
    assert field_errors(response) == {
        "start_time": "Give the opening times, or tick Closed all day.",
        "end_time": "Give the opening times, or tick Closed all day.",
    }


def test_a_second_override_on_a_closed_date_is_refused(owner_client, workspace_a):
    AvailabilityOverrideFactory(workspace=workspace_a, date=date(2099, 12, 25))

    response = owner_client.post(
        reverse("settings-override-add"),
        {"date": "2099-12-25", "start_time": "09:00", "end_time": "13:00"},
    )

    assert response.status_code == 400
    assert "already has an override on that date" in field_errors(response)["date"]


def test_an_owner_removes_an_override(owner_client, workspace_a):
    override = AvailabilityOverrideFactory(workspace=workspace_a, date=date(2099, 1, 1))

    response = owner_client.post(reverse("settings-override-delete", args=[override.pk]))

    assert response.status_code == 302
    assert not AvailabilityOverride.objects.exists()


def test_another_workspaces_hours_and_overrides_are_not_found(outsider_client, workspace_a):
    hours = WorkingHoursFactory(workspace=workspace_a)
    override = AvailabilityOverrideFactory(workspace=workspace_a)

    hours_url = reverse("settings-hours-delete", args=[hours.pk])
    override_url = reverse("settings-override-delete", args=[override.pk])

    assert outsider_client.post(hours_url).status_code == 404
    assert outsider_client.post(override_url).status_code == 404
    assert WorkingHours.objects.count() == AvailabilityOverride.objects.count() == 1

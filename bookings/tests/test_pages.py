"""The bookings dashboard: the schedule, the calendars, one booking, staff booking a client,
and the dashboard's Today panel. Times are on the workspace's clock (Europe/London)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from bookings.models import Booking, BookingStatusChange, CalendarFeed
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.tests.factories import ContactFactory
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

# Wednesday 1 July 2026, 07:00 UTC = 08:00 in London (summer time).
NOW = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def london(hour: int, minute: int = 0, *, days: int = 0) -> datetime:
    """A wall-clock time in London (UTC+1 in July) on NOW's day, as the UTC moment."""
    return datetime(2026, 7, 1, hour - 1, minute, tzinfo=UTC) + timedelta(days=days)


def booking(workspace, *, start, staff=None, **kwargs) -> Booking:
    return BookingFactory(workspace=workspace, start=start, staff=staff, **kwargs)


def queries_for(client, url: str) -> int:
    client.get(url)  # warm: the first request of a session may do more
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


# --- The schedule -----------------------------------------------------------------------------


def test_the_schedule_shows_todays_bookings_on_the_workspaces_clock(staff_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    booking(workspace_a, start=london(9), contact=ada)

    response = staff_client.get(reverse("bookings"))

    assert response.status_code == 200
    today = response.content.decode().split('data-testid="today"')[1].split("</ol>")[0]
    assert "Ada Lovelace" in today
    assert "09:00" in today
    assert "08:00" not in today  # the UTC time


def test_the_schedule_lists_the_coming_days_with_status_badges(staff_client, workspace_a):
    booking(workspace_a, start=london(10, days=2), status=Booking.Status.PENDING)
    booking(workspace_a, start=london(10, days=20))  # beyond the week

    response = staff_client.get(reverse("bookings"))

    upcoming = response.content.decode().split('data-testid="upcoming"')[1].split("</ol>")[0]
    assert upcoming.count('data-testid="booking"') == 1
    assert "Fri 3 Jul" in upcoming
    assert 'status-badge status-pending" data-testid="booking-status">Pending' in upcoming


def test_the_schedule_filters_by_staff_and_status(staff_client, workspace_a, staff, owner):
    mine = booking(workspace_a, start=london(9), staff=staff)
    theirs = booking(workspace_a, start=london(11), staff=owner)
    done = booking(workspace_a, start=london(12), staff=staff, status=Booking.Status.COMPLETED)

    by_staff = staff_client.get(reverse("bookings"), {"staff": staff.pk}).content.decode()
    by_status = staff_client.get(reverse("bookings"), {"status": "completed"}).content.decode()

    assert f'data-booking="{mine.pk}"' in by_staff
    assert f'data-booking="{done.pk}"' in by_staff
    assert f'data-booking="{theirs.pk}"' not in by_staff
    assert f'data-booking="{done.pk}"' in by_status
    assert f'data-booking="{mine.pk}"' not in by_status


def test_the_schedule_renders_in_constant_queries(
    staff_client, workspace_a, staff, django_assert_max_num_queries
):
    hours = count()

    def add(n):
        for _ in range(n):
            booking(workspace_a, start=london(8) + timedelta(hours=next(hours) * 5), staff=staff)

    add(2)
    few = queries_for(staff_client, reverse("bookings"))
    add(20)
    many = queries_for(staff_client, reverse("bookings"))

    assert few == many
    # session, user, membership+workspace, members (staff filter), today's bookings, the
    # coming days' bookings (type, contact and staff joined), the switcher's memberships
    with django_assert_max_num_queries(7):
        staff_client.get(reverse("bookings"))


def test_an_outsider_sees_only_their_own_workspaces_bookings(outsider_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    booking(workspace_a, start=london(9), contact=ada)

    response = outsider_client.get(reverse("bookings"))

    assert response.status_code == 200
    assert b"Ada Lovelace" not in response.content


def test_anonymous_visitors_are_asked_to_sign_in(client):
    response = client.get(reverse("bookings"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


# --- The calendar -----------------------------------------------------------------------------


def grid_rows(html: str, column: str) -> list[str]:
    """The grid rows of a calendar column's bookings: the page's <style> places each by its id
    (the Content-Security-Policy refuses style attributes)."""
    return [
        re.search(rf"#{block_id} {{ grid-row: ([^;]+);", html).group(1)
        for block_id in re.findall(r'id="(cal-\d+-\d+)"', column)
    ]


def test_the_day_calendar_has_a_column_per_person_with_bookings_placed_by_time(
    staff_client, workspace_a, staff, owner
):
    staff.name, owner.name = "Sam Staff", "Olive Owner"
    staff.save(), owner.save()
    booking(
        workspace_a,
        start=london(9),
        staff=staff,
        contact=ContactFactory(workspace=workspace_a, name="Ada"),
    )
    booking(
        workspace_a,
        start=london(14, 30),
        staff=owner,
        contact=ContactFactory(workspace=workspace_a, name="Bob"),
    )

    response = staff_client.get(reverse("bookings-calendar"), {"date": "2026-07-01"})

    html = response.content.decode()
    columns = re.findall(r'<section class="cal-col[^"]*" aria-label="([^"]+)"', html)
    assert columns == ["Olive Owner", "Sam Staff"]
    sam = html.split('aria-label="Sam Staff"')[1].split("</section>")[0]
    # 08:00 is the grid's top: 09:00-10:00 takes rows 5 to 9 (quarter hours).
    assert grid_rows(html, sam) == ["5 / 9"]
    assert "09:00\u201310:00" in sam
    assert "Ada" in sam
    olive = html.split('aria-label="Olive Owner"')[1].split("</section>")[0]
    assert "14:30\u201315:30" in olive


def test_the_calendar_widens_the_day_to_an_early_booking(staff_client, workspace_a, staff):
    booking(workspace_a, start=london(6, 30), staff=staff)

    response = staff_client.get(reverse("bookings-calendar"), {"date": "2026-07-01"})

    html = response.content.decode()
    assert ">06:00</span>" in html
    assert "grid-row: 3 / 7;" in html


def test_the_week_calendar_has_a_column_per_day_of_one_persons_bookings(
    staff_client, workspace_a, staff, owner
):
    mine = booking(workspace_a, start=london(9, days=2), staff=staff)
    theirs = booking(workspace_a, start=london(9, days=2), staff=owner)

    response = staff_client.get(
        reverse("bookings-calendar"), {"view": "week", "date": "2026-07-01", "staff": staff.pk}
    )

    html = response.content.decode()
    columns = re.findall(r'<section class="cal-col[^"]*" aria-label="([^"]+)"', html)
    assert columns == [
        "Mon 29 Jun",
        "Tue 30 Jun",
        "Wed 1 Jul",
        "Thu 2 Jul",
        "Fri 3 Jul",
        "Sat 4 Jul",
        "Sun 5 Jul",
    ]
    friday = html.split('aria-label="Fri 3 Jul"')[1].split("</section>")[0]
    assert reverse("booking-detail", args=[mine.pk]) in friday
    assert reverse("booking-detail", args=[theirs.pk]) not in html
    assert "Week of 29 Jun 2026" in html


def test_the_calendar_links_to_the_previous_and_next_days(staff_client):
    response = staff_client.get(reverse("bookings-calendar"), {"date": "2026-07-01"})

    html = response.content.decode()
    assert 'href="/bookings/calendar/?view=day&amp;date=2026-06-30" rel="prev"' in html
    assert 'href="/bookings/calendar/?view=day&amp;date=2026-07-02" rel="next"' in html


def test_a_malformed_date_shows_today(staff_client):
    response = staff_client.get(reverse("bookings-calendar"), {"date": "yesterday"})

    assert response.status_code == 200
    assert b"Wednesday 1 July 2026" in response.content


@pytest.mark.parametrize("view", ["day", "week"])
def test_the_calendar_renders_in_constant_queries(
    view, staff_client, workspace_a, staff, owner, django_assert_max_num_queries
):
    url = f"{reverse('bookings-calendar')}?view={view}&date=2026-07-01"

    hours = count()

    def add(n):
        for i in range(n):
            person = staff if i % 2 else owner
            booking(workspace_a, start=london(8) + timedelta(hours=next(hours) * 3), staff=person)

    add(2)
    few = queries_for(staff_client, url)
    add(16)
    many = queries_for(staff_client, url)

    assert few == many
    # session, user, membership+workspace, members (columns and filter), the range's
    # bookings (type, contact and staff joined), the switcher's memberships
    with django_assert_max_num_queries(6):
        staff_client.get(url)


# --- One booking ------------------------------------------------------------------------------


def test_the_booking_page_shows_its_details_on_the_workspaces_clock(
    staff_client, workspace_a, staff
):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    kind = BookingTypeFactory(workspace=workspace_a, name="Massage", staff=[staff])
    b = booking(
        workspace_a, start=london(9), staff=staff, contact=ada, booking_type=kind, notes="Knee"
    )

    response = staff_client.get(reverse("booking-detail", args=[b.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    details = html.split('data-testid="booking-details"')[1].split("</dl>")[0]
    assert f'href="{reverse("contact-detail", args=[ada.pk])}"' in details
    assert "Wednesday 1 July 2026, 09:00</time>\u201310:00" in details
    assert "Massage" in details
    assert "Staff" in details  # the source
    assert "Knee" in html
    assert 'value="09:00"' in html  # the reschedule form starts from the booking's time


def test_the_booking_page_renders_in_constant_queries(
    staff_client, workspace_a, staff, django_assert_max_num_queries
):
    b = booking(workspace_a, start=london(9), staff=staff)
    url = reverse("booking-detail", args=[b.pk])
    few = queries_for(staff_client, url)
    for status in ("completed",):
        BookingStatusChange.objects.create(
            workspace=workspace_a, booking=b, from_status="confirmed", to_status=status, actor=staff
        )
    for _ in range(10):
        BookingStatusChange.objects.create(
            workspace=workspace_a, booking=b, to_status="confirmed", actor=staff
        )
    many = queries_for(staff_client, url)

    assert few == many
    # session, user, membership+workspace, the booking (type, contact, staff joined), the
    # type's staff (reschedule choices), its history (actors joined), its forms, its
    # automation runs (rules joined), its reminders, the switcher
    with django_assert_max_num_queries(10):
        staff_client.get(url)


def test_another_workspaces_booking_is_not_found(outsider_client, workspace_a):
    b = booking(workspace_a, start=london(9))

    assert outsider_client.get(reverse("booking-detail", args=[b.pk])).status_code == 404
    status_url = reverse("booking-status", args=[b.pk])
    assert outsider_client.post(status_url, {"status": "completed"}).status_code == 404
    move_url = reverse("booking-reschedule", args=[b.pk])
    assert (
        outsider_client.post(move_url, {"date": "2026-07-02", "time": "10:00"}).status_code == 404
    )
    b.refresh_from_db()
    assert b.status == "confirmed"


def test_the_booking_page_offers_the_allowed_status_actions(staff_client, workspace_a):
    b = booking(workspace_a, start=london(9))

    html = staff_client.get(reverse("booking-detail", args=[b.pk])).content.decode()

    actions = html.split('id="status-actions"')[1].split("</div>")[0]
    assert re.findall(r'name="status" value="(\w+)"', actions) == [
        "completed",
        "cancelled",
        "no_show",
    ]


def test_marking_a_booking_completed_records_it(staff_client, workspace_a, staff):
    b = booking(workspace_a, start=london(9))

    response = staff_client.post(
        reverse("booking-status", args=[b.pk]), {"status": "completed"}, follow=True
    )

    assert response.status_code == 200
    assert b"The booking is completed." in response.content
    b.refresh_from_db()
    assert (b.status, b.status_changed_by) == ("completed", staff)
    change = b.history.get()
    assert (change.from_status, change.to_status, change.actor) == ("confirmed", "completed", staff)
    assert b"Confirmed \xe2\x86\x92 Completed" in response.content
    assert b'id="status-actions"' not in response.content  # nowhere to go from completed


def test_a_refused_status_change_is_shown_with_409(staff_client, workspace_a):
    b = booking(workspace_a, start=london(9), status=Booking.Status.CANCELLED)

    response = staff_client.post(reverse("booking-status", args=[b.pk]), {"status": "completed"})

    assert response.status_code == 409
    assert b"A cancelled booking cannot become completed." in response.content
    b.refresh_from_db()
    assert b.status == "cancelled"


def test_an_unknown_status_is_refused(staff_client, workspace_a):
    b = booking(workspace_a, start=london(9))

    response = staff_client.post(reverse("booking-status", args=[b.pk]), {"status": "lost"})

    assert response.status_code == 400
    assert b"Choose one of" in response.content


def test_moving_a_booking_takes_the_time_on_the_workspaces_clock(staff_client, workspace_a, staff):
    kind = BookingTypeFactory(workspace=workspace_a, staff=[staff])
    b = booking(workspace_a, start=london(9), staff=staff, booking_type=kind)

    response = staff_client.post(
        reverse("booking-reschedule", args=[b.pk]), {"date": "2026-07-02", "time": "07:30"}
    )

    assert response.status_code == 302
    b.refresh_from_db()
    assert b.start == datetime(2026, 7, 2, 6, 30, tzinfo=UTC)  # before opening: staff may
    assert (b.reschedule_count, b.staff) == (1, staff)


def test_moving_a_booking_to_another_person(staff_client, workspace_a, staff, owner):
    kind = BookingTypeFactory(workspace=workspace_a, staff=[staff, owner])
    b = booking(workspace_a, start=london(9), staff=staff, booking_type=kind)

    response = staff_client.post(
        reverse("booking-reschedule", args=[b.pk]),
        {"date": "2026-07-01", "time": "09:00", "staff": owner.pk},
    )

    assert response.status_code == 302
    b.refresh_from_db()
    assert (b.staff, b.start) == (owner, london(9))


def test_moving_a_booking_onto_another_shows_the_conflict_with_409(
    staff_client, workspace_a, staff
):
    kind = BookingTypeFactory(workspace=workspace_a, staff=[staff])
    b = booking(workspace_a, start=london(9), staff=staff, booking_type=kind)
    booking(workspace_a, start=london(14), staff=staff, booking_type=kind)

    response = staff_client.post(
        reverse("booking-reschedule", args=[b.pk]), {"date": "2026-07-01", "time": "14:30"}
    )

    assert response.status_code == 409
    assert b"This time is no longer available: choose another." in response.content
    assert b'value="14:30"' in response.content  # the form keeps what was typed
    b.refresh_from_db()
    assert (b.start, b.reschedule_count) == (london(9), 0)


def test_moving_needs_a_date_and_a_time(staff_client, workspace_a):
    b = booking(workspace_a, start=london(9))

    response = staff_client.post(reverse("booking-reschedule", args=[b.pk]), {"date": ""})

    assert response.status_code == 400
    assert response.content.count(b"This field is required.") == 2


# --- Staff book a client ----------------------------------------------------------------------


def test_staff_book_a_client_at_a_time_on_the_workspaces_clock(staff_client, workspace_a, staff):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    kind = BookingTypeFactory(workspace=workspace_a, name="Massage", staff=[staff])

    response = staff_client.post(
        reverse("booking-new"),
        {
            "contact": ada.pk,
            "booking_type": kind.pk,
            "staff": "",
            "date": "2026-07-03",
            "time": "09:00",
            "notes": "First visit",
        },
    )

    created = Booking.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("booking-detail", args=[created.pk])
    assert created.start == datetime(2026, 7, 3, 8, 0, tzinfo=UTC)
    assert (created.contact, created.staff, created.source) == (ada, staff, "staff")
    assert created.notes == "First visit"


def test_the_new_booking_form_starts_from_the_contact_page(staff_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")

    response = staff_client.get(reverse("booking-new"), {"contact": ada.pk})

    assert response.status_code == 200
    assert f'<option value="{ada.pk}" selected>Ada Lovelace</option>'.encode() in response.content
    assert b'value="2026-07-01"' in response.content  # today, in London


def test_the_new_booking_form_shows_its_errors_on_the_fields(
    staff_client, workspace_a, workspace_b
):
    stranger = ContactFactory(workspace=workspace_b)

    response = staff_client.post(reverse("booking-new"), {"contact": stranger.pk, "time": "25:00"})

    assert response.status_code == 400
    errors = re.findall(r'<p class="error" id="id_(\w+)-error">', response.content.decode())
    assert sorted(errors) == ["booking_type", "contact", "date", "time"]
    assert not Booking.objects.exists()


def test_staff_cannot_book_over_another_booking(staff_client, workspace_a, staff):
    kind = BookingTypeFactory(workspace=workspace_a, staff=[staff])
    booking(workspace_a, start=london(9), staff=staff, booking_type=kind)
    ada = ContactFactory(workspace=workspace_a)

    response = staff_client.post(
        reverse("booking-new"),
        {"contact": ada.pk, "booking_type": kind.pk, "date": "2026-07-01", "time": "09:30"},
    )

    assert response.status_code == 409
    assert b"This time is no longer available" in response.content
    assert Booking.objects.count() == 1


# --- The dashboard's Today panel and the calendar feed ----------------------------------------


def test_the_dashboard_lists_todays_bookings_with_links(staff_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    today = booking(workspace_a, start=london(9), contact=ada)
    booking(
        workspace_a,
        start=london(9, days=1),
        contact=ContactFactory(workspace=workspace_a, name="Tomorrow Tom"),
    )

    response = staff_client.get(reverse("dashboard"))

    panel = response.content.decode().split('data-testid="today-panel"')[1].split("</section>")[0]
    assert f'href="{reverse("booking-detail", args=[today.pk])}"' in panel
    assert "09:00</time> Ada Lovelace" in panel
    assert "Tomorrow Tom" not in panel


def test_the_dashboard_says_when_nothing_is_booked_today(staff_client):
    response = staff_client.get(reverse("dashboard"))

    assert b"No bookings today." in response.content


def test_the_onboarding_step_leads_to_the_services_page(owner_client):
    response = owner_client.get(reverse("dashboard"))

    step = response.content.decode().split('data-step="booking"')[1].split("</li>")[0]
    wizard_step = reverse("onboarding-step", args=["booking"])
    assert f'href="{wizard_step}"' in step
    assert (
        f'href="{reverse("settings-booking-types")}"'
        in owner_client.get(wizard_step).content.decode()
    )


def test_staff_get_their_own_calendar_feed_address(staff_client, workspace_a, staff):
    response = staff_client.get(reverse("bookings-feed"))

    feed = CalendarFeed.objects.get()
    assert (feed.workspace, feed.staff) == (workspace_a, staff)
    url = reverse("calendar-feed", args=[feed.token])
    assert f'value="http://testserver{url}"'.encode() in response.content
    assert b"feed-url-workspace" not in response.content  # owners only


def test_owners_also_get_the_workspaces_feed(owner_client, workspace_a):
    response = owner_client.get(reverse("bookings-feed"))

    assert b"feed-url-workspace" in response.content
    assert CalendarFeed.objects.filter(workspace=workspace_a, staff=None).count() == 1


def test_a_new_feed_link_revokes_the_old_one(staff_client, staff):
    staff_client.get(reverse("bookings-feed"))
    old = CalendarFeed.objects.get()

    response = staff_client.post(reverse("bookings-feed"), {"feed": "me"}, follow=True)

    old.refresh_from_db()
    assert old.revoked_at is not None
    new = CalendarFeed.objects.get(revoked_at=None)
    assert new.token.encode() in response.content
    assert old.token.encode() not in response.content


def test_the_schedule_is_in_the_navigation(staff_client, workspace_a):
    MembershipFactory(workspace=workspace_a)

    response = staff_client.get(reverse("bookings"))

    assert b'<a href="/bookings/" aria-current="page">Bookings</a>' in response.content


def test_the_dashboards_today_panel_renders_in_constant_queries(staff_client, workspace_a):
    hours = count()

    def add(n):
        for _ in range(n):
            booking(workspace_a, start=london(8) + timedelta(minutes=next(hours) * 70))

    add(1)
    few = queries_for(staff_client, reverse("dashboard"))
    add(10)
    many = queries_for(staff_client, reverse("dashboard"))

    assert few == many


def test_an_overnight_booking_shows_the_whole_day_in_both_columns(staff_client, workspace_a):
    kind = BookingTypeFactory(workspace=workspace_a, duration_minutes=120)
    night = booking(workspace_a, start=london(23), booking_type=kind)

    response = staff_client.get(
        reverse("bookings-calendar"), {"view": "week", "date": "2026-07-01"}
    )

    html = response.content.decode()
    assert ">00:00</span>" in html and ">23:00</span>" in html
    link = reverse("booking-detail", args=[night.pk])
    wednesday = html.split('aria-label="Wed 1 Jul"')[1].split("</section>")[0]
    thursday = html.split('aria-label="Thu 2 Jul"')[1].split("</section>")[0]
    assert link in wednesday and grid_rows(html, wednesday) == ["93 / 97"]
    assert link in thursday and grid_rows(html, thursday) == ["1 / 5"]

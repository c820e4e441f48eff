"""The bookings API: the public booking page's endpoints, and staff's bookings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.conf import settings
from rest_framework.throttling import ScopedRateThrottle

from bookings.api.public import booking_reference
from bookings.models import Booking, BookingStatusChange
from bookings.services import booking_from_manage_token
from bookings.tests.factories import BookingFactory, BookingTypeFactory, WorkingHoursFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from workspaces.tests.factories import MembershipFactory

# Clients reach a workspace through its public pages only once it is live.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_workspace_a")]

LIST = "/api/v1/bookings"
SLOTS = "/api/v1/bookings/slots"
TYPES = "/api/v1/bookings/types"

# Friday 27 February 2026, noon; workspace A is in London, which is on UTC in winter.
NOW = datetime(2026, 2, 27, 12, tzinfo=UTC)
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def url(booking, suffix=""):
    return f"/api/v1/bookings/{booking.pk}{suffix}"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def massage(workspace_a):
    """A 60-minute service on the shared calendar, open 09:00-17:00 on weekdays."""
    for weekday in range(5):
        WorkingHoursFactory(workspace=workspace_a, weekday=weekday)
    return BookingTypeFactory(workspace=workspace_a, name="Massage", slug="massage")


def public_form(ws, **overrides):
    return {
        "workspace": ws.slug,
        "booking_type": "massage",
        "start": "2026-03-02T09:00:00+00:00",
        "name": "Ann Lee",
        "email": "ann@example.org",
        "phone": "",
        **overrides,
    }


# --- The public booking page --------------------------------------------------------------------


def test_a_client_books_and_a_retry_with_the_same_key_returns_the_same_booking(
    anon_api, workspace_a, massage
):
    headers = {"Idempotency-Key": "8c6f0a4e-retry-me"}

    first = anon_api.post(LIST, public_form(workspace_a), format="json", headers=headers)
    again = anon_api.post(LIST, public_form(workspace_a), format="json", headers=headers)

    assert first.status_code == 201
    assert again.status_code == 200
    assert again.json() == first.json()
    booking = Booking.objects.for_workspace(workspace_a).get()
    body = first.json()
    assert "id" not in body
    assert body["reference"] == booking_reference(booking)
    assert (body["booking_type"], body["start"], body["end"], body["status"]) == (
        "Massage",
        "2026-03-02T09:00:00+00:00",
        "2026-03-02T10:00:00+00:00",
        "confirmed",
    )
    assert body["manage_url"].startswith(f"{settings.SITE_URL}/booking/")
    assert booking_from_manage_token(body["manage_url"].rsplit("/", 2)[-2]) == booking
    assert (booking.source, booking.status, booking.start) == ("public", "confirmed", MONDAY_9)
    contact = Contact.objects.for_workspace(workspace_a).get()
    assert (contact.name, contact.email, contact.source) == (
        "Ann Lee",
        "ann@example.org",
        "booking",
    )
    assert booking.contact == contact


def test_a_known_client_is_booked_on_their_existing_contact(anon_api, workspace_a, massage):
    known = ContactFactory(workspace=workspace_a, email="ann@example.org")

    response = anon_api.post(LIST, public_form(workspace_a, email="ANN@example.org"), format="json")

    assert response.status_code == 201
    assert Contact.objects.for_workspace(workspace_a).get() == known
    assert Booking.objects.get().contact == known


def test_a_taken_slot_answers_409_and_leaves_no_contact_behind(anon_api, workspace_a, massage):
    BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    response = anon_api.post(LIST, public_form(workspace_a), format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    assert not Contact.objects.filter(email="ann@example.org").exists()
    assert Booking.objects.count() == 1


def test_a_time_outside_working_hours_cannot_be_booked_publicly(anon_api, workspace_a, massage):
    response = anon_api.post(
        LIST, public_form(workspace_a, start="2026-03-02T20:00:00+00:00"), format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    assert not Booking.objects.exists()


def test_a_time_too_far_ahead_is_a_field_error(anon_api, workspace_a, massage):
    response = anon_api.post(
        LIST, public_form(workspace_a, start="2026-09-01T09:00:00+01:00"), format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"start"}


def test_someone_elses_idempotency_key_does_not_reveal_their_booking(
    anon_api, workspace_a, massage
):
    headers = {"Idempotency-Key": "shared-key"}
    anon_api.post(LIST, public_form(workspace_a), format="json", headers=headers)

    response = anon_api.post(
        LIST,
        public_form(workspace_a, email="eve@example.org", start="2026-03-02T11:00:00+00:00"),
        format="json",
        headers=headers,
    )

    assert response.status_code == 409
    assert "manage_url" not in response.json()
    assert not Contact.objects.filter(email="eve@example.org").exists()
    assert Booking.objects.count() == 1


@pytest.mark.parametrize(
    ("overrides", "fields"),
    [
        ({"start": "next monday at nine"}, {"start"}),
        ({"start": "2026-03-02T09:00:00"}, {"start"}),  # no offset
        ({"email": "", "phone": ""}, {"email"}),
        ({"name": ""}, {"name"}),
        ({"email": "ann@"}, {"email"}),
    ],
)
def test_bad_public_input_names_each_bad_field(anon_api, workspace_a, massage, overrides, fields):
    response = anon_api.post(LIST, public_form(workspace_a, **overrides), format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert set(response.json()["fields"]) == fields
    assert not Booking.objects.exists()
    assert not Contact.objects.exists()


def test_an_idempotency_key_over_100_characters_is_refused(anon_api, workspace_a, massage):
    response = anon_api.post(
        LIST, public_form(workspace_a), format="json", headers={"Idempotency-Key": "k" * 101}
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"Idempotency-Key"}


@pytest.mark.parametrize(
    "overrides",
    [{"workspace": "nowhere"}, {"booking_type": "no-such-service"}, {"booking_type": "999999"}],
)
def test_an_unknown_workspace_or_service_is_not_found(anon_api, workspace_a, massage, overrides):
    response = anon_api.post(LIST, public_form(workspace_a, **overrides), format="json")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not Contact.objects.exists()


def test_an_inactive_service_cannot_be_booked_publicly(anon_api, workspace_a, massage):
    massage.is_active = False
    massage.save()

    response = anon_api.post(LIST, public_form(workspace_a), format="json")

    assert response.status_code == 404


def test_another_workspaces_service_is_not_found(anon_api, workspace_a, workspace_b):
    BookingTypeFactory(workspace=workspace_b, slug="massage")

    response = anon_api.post(LIST, public_form(workspace_a), format="json")

    assert response.status_code == 404


def test_public_bookings_are_rate_limited(anon_api, workspace_a):
    throttle = ScopedRateThrottle()
    allowed, _ = throttle.parse_rate(throttle.THROTTLE_RATES["booking"])  # 20/hour default
    for _ in range(allowed):
        assert anon_api.post(LIST, public_form(workspace_a), format="json").status_code == 404

    response = anon_api.post(LIST, public_form(workspace_a), format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response.headers


# --- Public slots and services ------------------------------------------------------------------


def test_slots_are_given_day_by_day_in_the_visitors_time_zone(anon_api, workspace_a, massage):
    BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    response = anon_api.get(
        SLOTS,
        {
            "workspace": workspace_a.slug,
            "booking_type": "massage",
            "from": "2026-03-01",
            "to": "2026-03-02",
            "tz": "Europe/Paris",
        },
    )

    assert response.status_code == 200
    body = response.json()
    assert body["tz"] == "Europe/Paris"
    assert [day["date"] for day in body["days"]] == ["2026-03-01", "2026-03-02"]
    assert body["days"][0]["slots"] == []  # Sunday: closed
    monday = body["days"][1]["slots"]
    # 09:00-17:00 London is 10:00-18:00 Paris; 09:00 London is taken.
    assert [slot["start"] for slot in monday] == [
        f"2026-03-02T{hour}:00:00+01:00" for hour in range(11, 18)
    ]
    assert monday[0] == {
        "start": "2026-03-02T11:00:00+01:00",
        "end": "2026-03-02T12:00:00+01:00",
        "staff": [],
    }


def test_slots_default_to_the_workspaces_time_zone_and_list_free_staff(
    anon_api, workspace_a, staff
):
    for weekday in range(5):
        WorkingHoursFactory(workspace=workspace_a, staff=staff, weekday=weekday)
    BookingTypeFactory(workspace=workspace_a, slug="cut", staff=[staff])

    response = anon_api.get(
        SLOTS,
        {
            "workspace": workspace_a.slug,
            "booking_type": "cut",
            "from": "2026-03-02",
            "to": "2026-03-02",
        },
    )

    assert response.status_code == 200
    first = response.json()["days"][0]["slots"][0]
    assert response.json()["tz"] == "Europe/London"
    assert first == {
        "start": "2026-03-02T09:00:00+00:00",
        "end": "2026-03-02T10:00:00+00:00",
        "staff": [staff.pk],
    }


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"tz": "Mars/Olympus"}, "tz"),
        ({"from": "2026-03-01", "to": "2026-05-02"}, "to"),  # 63 days
        ({"from": "2026-03-05", "to": "2026-03-01"}, "to"),
        ({"from": "1 March"}, "from"),
    ],
)
def test_bad_slot_queries_are_field_errors(anon_api, workspace_a, massage, params, field):
    query = {
        "workspace": workspace_a.slug,
        "booking_type": "massage",
        "from": "2026-03-01",
        "to": "2026-03-07",
        **params,
    }

    response = anon_api.get(SLOTS, query)

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}


def test_62_days_of_slots_may_be_asked_at_once(anon_api, workspace_a, massage):
    query = {
        "workspace": workspace_a.slug,
        "booking_type": "massage",
        "from": "2026-03-01",
        "to": "2026-05-01",
    }

    response = anon_api.get(SLOTS, query)

    assert response.status_code == 200
    assert len(response.json()["days"]) == 62


def test_slots_of_an_unknown_service_are_not_found(anon_api, workspace_a, massage):
    query = {
        "workspace": workspace_a.slug,
        "booking_type": "x",
        "from": "2026-03-01",
        "to": "2026-03-01",
    }

    assert anon_api.get(SLOTS, query).status_code == 404


def test_the_public_page_lists_the_active_services(anon_api, workspace_a, massage):
    BookingTypeFactory(workspace=workspace_a, name="Retired", is_active=False)
    massage.price_display = "£60"
    massage.save()

    response = anon_api.get(TYPES, {"workspace": workspace_a.slug})

    assert response.status_code == 200
    assert response.json() == {
        "workspace": {"name": "Alpha Clinic", "slug": "alpha-clinic", "timezone": "Europe/London"},
        "booking_types": [
            {
                "name": "Massage",
                "slug": "massage",
                "duration_minutes": 60,
                "price_display": "£60",
                "description": "",
                "location": "",
            }
        ],
    }
    assert anon_api.get(TYPES, {"workspace": "nowhere"}).status_code == 404


# --- Staff book ----------------------------------------------------------------------------------


def test_staff_book_a_contact_outside_working_hours(staff_api, staff, workspace_a, massage):
    contact = ContactFactory(workspace=workspace_a)

    response = staff_api.post(
        LIST,
        {"contact_id": contact.pk, "booking_type": massage.pk, "start": "2026-03-02T20:00:00Z"},
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert body["contact"]["id"] == contact.pk
    assert body["booking_type"]["slug"] == "massage"
    assert (body["source"], body["status"]) == ("api", "confirmed")
    assert body["history"][0]["to_status"] == "confirmed"
    assert body["history"][0]["actor"]["id"] == staff.pk
    booking = Booking.objects.get()
    assert booking.start == datetime(2026, 3, 2, 20, tzinfo=UTC)


def test_staff_cannot_book_over_another_booking(staff_api, workspace_a, massage):
    BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)
    contact = ContactFactory(workspace=workspace_a)

    response = staff_api.post(
        LIST,
        {"contact_id": contact.pk, "booking_type": "massage", "start": "2026-03-02T09:30:00Z"},
        format="json",
    )

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"


def test_staff_book_only_their_workspaces_contacts_and_members(
    staff_api, workspace_a, workspace_b, outsider, massage
):
    theirs = ContactFactory(workspace=workspace_b)
    ours = ContactFactory(workspace=workspace_a)
    start = "2026-03-02T09:00:00Z"

    other_contact = staff_api.post(
        LIST, {"contact_id": theirs.pk, "booking_type": "massage", "start": start}, format="json"
    )
    other_staff = staff_api.post(
        LIST,
        {"contact_id": ours.pk, "booking_type": "massage", "start": start, "staff": outsider.pk},
        format="json",
    )

    assert other_contact.status_code == 400
    assert set(other_contact.json()["fields"]) == {"contact_id"}
    assert other_staff.status_code == 400
    assert set(other_staff.json()["fields"]) == {"staff"}
    assert not Booking.objects.exists()


# --- Lists ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("count", [3, 30])
def test_the_list_takes_a_constant_number_of_queries(
    staff_api, workspace_a, count, django_assert_max_num_queries
):
    kind = BookingTypeFactory(workspace=workspace_a)
    members = [MembershipFactory(workspace=workspace_a).user for _ in range(3)]
    for n in range(count):
        BookingFactory(
            workspace=workspace_a,
            booking_type=kind,
            staff=members[n % 3],
            start=MONDAY_9 + timedelta(hours=n),
        )

    # 3 queries: the token's user, the membership, the page (type, contact and staff joined;
    # keyset pages count nothing)
    with django_assert_max_num_queries(3):
        response = staff_api.get(LIST, {"page_size": 50})

    assert response.status_code == 200
    assert [b["id"] for b in response.json()["results"]] == sorted(
        Booking.objects.filter(workspace=workspace_a).values_list("pk", flat=True)
    )
    assert response.json()["next"] is None


def _pages(api, url: str, params: dict) -> list[list[int]]:
    """Every page of a list, following `next` links to the end."""
    pages, response = [], api.get(url, params)
    while True:
        assert response.status_code == 200, response.json()
        pages.append([b["id"] for b in response.json()["results"]])
        if response.json()["next"] is None:
            return pages
        response = api.get(response.json()["next"])


def test_the_list_pages_through_every_booking_once_in_order_keeping_its_filters(
    staff_api, workspace_a, massage, django_assert_max_num_queries
):
    members = [MembershipFactory(workspace=workspace_a).user for _ in range(3)]
    # Three calendars booked at the same times: pages end inside groups of equal starts.
    booked = [
        BookingFactory(
            workspace=workspace_a,
            booking_type=massage,
            staff=member,
            start=MONDAY_9 + timedelta(hours=hour),
            status="cancelled" if hour == 2 else "confirmed",
        )
        for hour in range(4)
        for member in members
    ]
    expected = [b.pk for b in sorted(booked, key=lambda b: (b.start, b.pk))]

    pages = _pages(staff_api, LIST, {"page_size": 2})
    confirmed = _pages(staff_api, LIST, {"page_size": 4, "status": "confirmed"})
    deep = staff_api.get(LIST, {"page_size": 2})
    for _ in range(4):
        deep = staff_api.get(deep.json()["next"])
    # 3 queries for a deep page too: user, membership, the page
    with django_assert_max_num_queries(3):
        staff_api.get(deep.json()["next"])

    assert [len(page) for page in pages] == [2] * 6
    assert [pk for page in pages for pk in page] == expected
    assert [pk for page in confirmed for pk in page] == [
        pk for pk in expected if Booking.objects.get(pk=pk).status == "confirmed"
    ]
    assert [len(page) for page in confirmed] == [4, 4, 1]


def test_a_bad_cursor_or_page_size_is_a_field_error(staff_api, workspace_a):
    cursor = staff_api.get(LIST, {"cursor": "not-a-cursor"})
    size = staff_api.get(LIST, {"page_size": "0"})

    assert cursor.status_code == 400
    assert set(cursor.json()["fields"]) == {"cursor"}
    assert size.status_code == 400
    assert set(size.json()["fields"]) == {"page_size"}


def test_the_list_filters_by_status_day_staff_contact_and_type(
    staff_api, staff, workspace_a, massage
):
    other_kind = BookingTypeFactory(workspace=workspace_a)
    ann = ContactFactory(workspace=workspace_a)
    monday = BookingFactory(
        workspace=workspace_a, booking_type=massage, contact=ann, start=MONDAY_9
    )
    tuesday = BookingFactory(
        workspace=workspace_a,
        booking_type=other_kind,
        staff=staff,
        start=MONDAY_9 + timedelta(days=1),
    )
    cancelled = BookingFactory(
        workspace=workspace_a,
        booking_type=massage,
        start=MONDAY_9 + timedelta(days=2),
        status="cancelled",
    )
    BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9 + timedelta(days=9))

    def ids(**params):
        response = staff_api.get(LIST, params)
        assert response.status_code == 200, response.json()
        return [b["id"] for b in response.json()["results"]]

    assert ids(status="cancelled") == [cancelled.pk]
    assert ids(**{"from": "2026-03-02", "to": "2026-03-03"}) == [monday.pk, tuesday.pk]
    assert ids(**{"from": "2026-03-02T10:00:00Z", "to": "2026-03-04"}) == [tuesday.pk, cancelled.pk]
    assert ids(staff=staff.pk) == [tuesday.pk]
    assert ids(contact=ann.pk) == [monday.pk]
    assert ids(booking_type=other_kind.pk, status="confirmed") == [tuesday.pk]


def test_list_days_are_the_workspaces_days(staff_api, workspace_a, massage):
    workspace_a.timezone = "America/New_York"
    workspace_a.save()
    # 23:30 on 1 March in New York is 04:30 on 2 March in UTC.
    late = BookingFactory(
        workspace=workspace_a, booking_type=massage, start=datetime(2026, 3, 2, 4, 30, tzinfo=UTC)
    )

    response = staff_api.get(LIST, {"from": "2026-03-01", "to": "2026-03-01"})

    assert [b["id"] for b in response.json()["results"]] == [late.pk]


def test_bad_list_filters_are_field_errors(staff_api, workspace_a):
    response = staff_api.get(LIST, {"from": "yesterday", "status": "lost"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"from", "status"}


def test_today_and_upcoming_follow_the_workspaces_time_zone(staff_api, workspace_a, massage):
    # Friday noon in UTC is already 01:00 on Saturday 28 February in Auckland (UTC+13).
    workspace_a.timezone = "Pacific/Auckland"
    workspace_a.save()

    def booked(day, hour):
        start = datetime(2026, 2, 27, hour, tzinfo=UTC) + timedelta(days=day - 27)
        return BookingFactory(workspace=workspace_a, booking_type=massage, start=start)

    friday_night = booked(27, 10)  # 23:00 Friday in Auckland: yesterday there
    midnight = booked(27, 11)  # 00:00 Saturday there: today, already past
    saturday = booked(27, 20)  # 09:00 Saturday
    sunday = booked(28, 20)  # 09:00 Sunday
    week_ahead = booked(34, 20)  # 09:00 Saturday 7 March: the 7th day ahead
    booked(35, 20)  # 09:00 Sunday 8 March: beyond it

    today = staff_api.get(f"{LIST}/today")
    upcoming = staff_api.get(f"{LIST}/upcoming")
    next_day = staff_api.get(f"{LIST}/upcoming", {"days": 1})

    assert friday_night.pk not in [b["id"] for b in today.json()["results"]]
    assert [b["id"] for b in today.json()["results"]] == [midnight.pk, saturday.pk]
    assert [b["id"] for b in upcoming.json()["results"]] == [saturday.pk, sunday.pk, week_ahead.pk]
    assert [b["id"] for b in next_day.json()["results"]] == [saturday.pk, sunday.pk]


# --- One booking ----------------------------------------------------------------------------------


def test_a_booking_shows_its_status_history(
    staff_api, workspace_a, massage, django_assert_max_num_queries
):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)
    staff_api.post(
        url(booking, "/status"), {"status": "completed", "note": "Went well"}, format="json"
    )

    # 4 queries: the token's user, the membership, the booking (joined), its history (actors)
    with django_assert_max_num_queries(4):
        response = staff_api.get(url(booking))

    assert response.status_code == 200
    history = response.json()["history"]
    assert [(h["from_status"], h["to_status"], h["note"]) for h in history] == [
        ("confirmed", "completed", "Went well")
    ]


def test_outsiders_and_anonymous_callers_cannot_reach_a_booking(
    outsider_api, anon_api, workspace_a, massage
):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    assert outsider_api.get(url(booking)).status_code == 404
    assert outsider_api.patch(url(booking), {"notes": "x"}, format="json").status_code == 404
    assert outsider_api.post(url(booking, "/status"), {"status": "cancelled"}).status_code == 404
    assert anon_api.get(url(booking)).status_code == 401
    assert anon_api.get(LIST).status_code == 401
    booking.refresh_from_db()
    assert (booking.notes, booking.status) == ("", "confirmed")


def test_staff_reschedule_and_reassign_a_booking(staff_api, staff, workspace_a, massage):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    response = staff_api.patch(
        url(booking), {"start": "2026-03-03T19:00:00+00:00", "notes": "Late slot"}, format="json"
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["start"], body["end"], body["notes"], body["reschedule_count"]) == (
        "2026-03-03T19:00:00Z",
        "2026-03-03T20:00:00Z",
        "Late slot",
        1,
    )
    booking.refresh_from_db()
    assert booking.start == datetime(2026, 3, 3, 19, tzinfo=UTC)


def test_only_notes_change_without_a_reschedule(staff_api, workspace_a, massage):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    response = staff_api.patch(url(booking), {"notes": "Bring forms"}, format="json")

    assert response.status_code == 200
    booking.refresh_from_db()
    assert (booking.notes, booking.reschedule_count, booking.start) == ("Bring forms", 0, MONDAY_9)


def test_a_reschedule_onto_another_booking_is_a_conflict(staff_api, workspace_a, massage):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)
    BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9 + timedelta(hours=2))

    response = staff_api.patch(
        url(booking), {"start": "2026-03-02T11:30:00Z", "notes": "moved"}, format="json"
    )

    assert response.status_code == 409
    assert response.json()["code"] == "slot_unavailable"
    booking.refresh_from_db()
    assert (booking.start, booking.notes, booking.reschedule_count) == (MONDAY_9, "", 0)


def test_a_booking_moves_to_another_staff_members_calendar(staff_api, workspace_a, staff, owner):
    kind = BookingTypeFactory(workspace=workspace_a, staff=[staff, owner])
    booking = BookingFactory(workspace=workspace_a, booking_type=kind, staff=staff, start=MONDAY_9)

    response = staff_api.patch(url(booking), {"staff": owner.pk}, format="json")

    assert response.status_code == 200
    assert response.json()["staff"]["id"] == owner.pk


def test_staff_move_a_booking_along_its_statuses(staff_api, staff, workspace_a, massage):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    done = staff_api.post(url(booking, "/status"), {"status": "completed"}, format="json")
    again = staff_api.post(url(booking, "/status"), {"status": "cancelled"}, format="json")

    assert done.status_code == 200
    assert done.json()["status"] == "completed"
    assert again.status_code == 409
    assert again.json()["code"] == "invalid_transition"
    assert again.json()["allowed"] == []
    change = BookingStatusChange.objects.get(booking=booking)
    assert (change.from_status, change.to_status, change.actor) == ("confirmed", "completed", staff)


def test_a_refused_transition_lists_the_allowed_statuses(staff_api, workspace_a, massage):
    booking = BookingFactory(
        workspace=workspace_a, booking_type=massage, start=MONDAY_9, status="pending"
    )

    response = staff_api.post(url(booking, "/status"), {"status": "completed"}, format="json")

    assert response.status_code == 409
    assert response.json()["allowed"] == ["confirmed", "cancelled"]


def test_an_unknown_status_is_a_field_error(staff_api, workspace_a, massage):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    response = staff_api.post(url(booking, "/status"), {"status": "lost"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"status"}


def test_owners_and_staff_alike_manage_bookings(owner_api, workspace_a, massage):
    booking = BookingFactory(workspace=workspace_a, booking_type=massage, start=MONDAY_9)

    response = owner_api.post(url(booking, "/status"), {"status": "cancelled"}, format="json")

    assert response.status_code == 200
    booking.refresh_from_db()
    assert booking.status == "cancelled"

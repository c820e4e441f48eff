"""Bookings as iCalendar text (RFC 5545), the client's download, and the staff's private
calendar feeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.feeds import calendar_feed_get_or_create, calendar_feed_revoke
from bookings.ics import Event, booking_ics, calendar, escape_text, feed_ics, fold
from bookings.models import Booking, CalendarFeed
from bookings.services import booking_manage_token
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from careops.errors import InvalidInput
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)
MONDAY_9 = datetime(2026, 1, 12, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def booking(workspace_a, settings):
    settings.SITE_URL = "https://app.careops.example"
    massage = BookingTypeFactory(
        workspace=workspace_a,
        name="Massage",
        location="12 High Street, Bath; first floor",
        video_link="https://meet.example/room?a=1,2",
    )
    contact = ContactFactory(workspace=workspace_a, name="Ada Lovelace", email="ada@example.org")
    return BookingFactory(
        workspace=workspace_a, booking_type=massage, contact=contact, start=MONDAY_9
    )


def _unfold(text: str) -> list[str]:
    return text.replace("\r\n ", "").split("\r\n")


# --- The text ------------------------------------------------------------------------------------


def test_text_values_escape_backslashes_semicolons_commas_and_newlines():
    assert escape_text("a\\b; c, d\ne\r\nf") == "a\\\\b\\; c\\, d\\ne\\nf"


def test_long_lines_fold_at_75_octets_without_splitting_a_character():
    line = "DESCRIPTION:" + "é" * 60  # 12 + 120 octets

    folded = fold(line)

    parts = folded.split("\r\n")
    assert all(len(part.encode()) <= 75 for part in parts)
    assert all(part.startswith(" ") for part in parts[1:])
    assert "".join(part[1:] if n else part for n, part in enumerate(parts)) == line
    assert fold("SUMMARY:short") == "SUMMARY:short"


def test_a_calendar_is_crlf_lines_in_a_vcalendar():
    event = Event(
        uid="u@h",
        start=MONDAY_9,
        end=MONDAY_9 + timedelta(hours=1),
        stamp=NOW,
        summary="Hi",
    )

    text = calendar([event])

    assert text.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//CareOps//Bookings//EN\r\n")
    assert text.endswith("END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert "\n" not in text.replace("\r\n", "")


def test_the_clients_event(booking):
    text = booking_ics(booking)
    lines = _unfold(text)

    token = booking_manage_token(booking)
    manage = f"https://app.careops.example/booking/{token}/"
    assert f"UID:careops-booking-{booking.pk}@app.careops.example" in lines
    assert f"DTSTAMP:{booking.updated_at.astimezone(UTC):%Y%m%dT%H%M%SZ}" in lines
    assert "DTSTART:20260112T090000Z" in lines
    assert "DTEND:20260112T100000Z" in lines
    assert "SUMMARY:Massage at Alpha Clinic" in lines
    assert "LOCATION:12 High Street\\, Bath\\; first floor" in lines
    assert "URL:https://meet.example/room?a=1,2" in lines
    assert (
        "DESCRIPTION:Join: https://meet.example/room?a=1\\,2\\n"
        f"To change or cancel: {manage}" in lines
    )
    assert "STATUS:CONFIRMED" in lines
    assert "SEQUENCE:0" in lines
    assert all(len(line.encode()) <= 75 for line in text.split("\r\n"))


def test_a_rescheduled_or_cancelled_booking_says_so(booking):
    booking.reschedule_count = 2
    booking.status = Booking.Status.CANCELLED

    lines = _unfold(booking_ics(booking))

    assert "SEQUENCE:2" in lines
    assert "STATUS:CANCELLED" in lines


def test_a_feed_names_the_client_in_each_event(booking):
    second = BookingFactory(
        workspace=booking.workspace,
        booking_type=booking.booking_type,
        contact=ContactFactory(workspace=booking.workspace, name="Grace Hopper", phone=""),
        start=MONDAY_9 + timedelta(days=1),
        notes="Allergic to lavender",
    )

    lines = _unfold(feed_ics([booking, second], "Alpha Clinic bookings"))

    assert "X-WR-CALNAME:Alpha Clinic bookings" in lines
    assert lines.count("BEGIN:VEVENT") == 2
    assert "SUMMARY:Massage: Ada Lovelace" in lines
    assert "SUMMARY:Massage: Grace Hopper" in lines
    assert f"DESCRIPTION:{second.contact.email}\\nAllergic to lavender" in [
        line.split("\\nhttp")[0] for line in lines
    ]


# --- The feeds -------------------------------------------------------------------------------


def _feed(client, feed):
    return client.get(reverse("calendar-feed", args=[feed.token]))


def test_a_staff_feed_has_their_active_bookings_from_a_month_ago_to_six_months_ahead(
    client, workspace_a, staff, owner
):
    massage = BookingTypeFactory(workspace=workspace_a, name="Massage")
    theirs = {
        "soon": BookingFactory(
            workspace=workspace_a, booking_type=massage, staff=staff, start=MONDAY_9
        ),
        "last month": BookingFactory(
            workspace=workspace_a, booking_type=massage, staff=staff, start=NOW - timedelta(days=29)
        ),
    }
    BookingFactory(
        workspace=workspace_a, booking_type=massage, staff=staff, start=NOW - timedelta(days=31)
    )
    BookingFactory(
        workspace=workspace_a, booking_type=massage, staff=staff, start=NOW + timedelta(days=181)
    )
    BookingFactory(
        workspace=workspace_a,
        booking_type=massage,
        staff=staff,
        start=MONDAY_9 + timedelta(days=1),
        status=Booking.Status.CANCELLED,
    )
    BookingFactory(workspace=workspace_a, booking_type=massage, staff=owner, start=MONDAY_9)
    feed = calendar_feed_get_or_create(workspace=workspace_a, staff=staff)

    response = _feed(client, feed)

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    body = response.content.decode()
    uids = sorted(line for line in _unfold(body) if line.startswith("UID:"))
    assert uids == sorted(f"UID:careops-booking-{b.pk}@localhost" for b in theirs.values())


def test_the_workspace_feed_has_every_calendar(client, workspace_a, staff, owner, workspace_b):
    massage = BookingTypeFactory(workspace=workspace_a)
    BookingFactory(workspace=workspace_a, booking_type=massage, staff=staff, start=MONDAY_9)
    BookingFactory(workspace=workspace_a, booking_type=massage, staff=None, start=MONDAY_9)
    BookingFactory(workspace=workspace_b, start=MONDAY_9)
    feed = calendar_feed_get_or_create(workspace=workspace_a, staff=None)

    body = _feed(client, feed).content.decode()

    assert body.count("BEGIN:VEVENT") == 2
    assert "X-WR-CALNAME:Alpha Clinic bookings" in body


def test_get_or_create_keeps_one_live_feed_and_a_new_link_revokes_the_old(
    client, workspace_a, staff
):
    feed = calendar_feed_get_or_create(workspace=workspace_a, staff=staff)
    assert calendar_feed_get_or_create(workspace=workspace_a, staff=staff) == feed

    calendar_feed_revoke(feed=feed)
    fresh = calendar_feed_get_or_create(workspace=workspace_a, staff=staff)

    assert fresh != feed
    assert _feed(client, feed).status_code == 404
    assert _feed(client, fresh).status_code == 200
    assert CalendarFeed.objects.filter(revoked_at__isnull=True).count() == 1


def test_only_members_get_a_feed_and_a_leavers_feed_stops(client, workspace_a, staff, outsider):
    with pytest.raises(InvalidInput):
        calendar_feed_get_or_create(workspace=workspace_a, staff=outsider)

    feed = calendar_feed_get_or_create(workspace=workspace_a, staff=staff)
    staff.memberships.all().delete()

    assert _feed(client, feed).status_code == 404


def test_an_unknown_feed_is_404(client, db):
    assert client.get(reverse("calendar-feed", args=["nope"])).status_code == 404


@pytest.mark.parametrize("size", [1, 30])
def test_the_feed_takes_the_same_queries_at_any_size(
    client, workspace_a, staff, size, django_assert_num_queries
):
    massage = BookingTypeFactory(workspace=workspace_a)
    for n in range(size):
        BookingFactory(
            workspace=workspace_a,
            booking_type=massage,
            staff=staff,
            start=MONDAY_9 + timedelta(days=n),
        )
    feed = calendar_feed_get_or_create(workspace=workspace_a, staff=staff)

    # 3 queries: the feed (workspace, staff joined), the staff member's membership, the
    # bookings (type and contact joined)
    with django_assert_num_queries(3):
        response = _feed(client, feed)

    assert response.content.decode().count("BEGIN:VEVENT") == size

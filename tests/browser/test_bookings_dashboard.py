"""Staff work the day's bookings on a phone: open the schedule, open a booking, complete it."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from bookings.models import Booking
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.tests.factories import ContactFactory
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_staff_complete_todays_booking_from_the_schedule(page, live_server, staff, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    massage = BookingTypeFactory(workspace=workspace_a, name="Massage", staff=[staff])
    # Now, to the minute: whatever the hour, it is today in the workspace's time zone.
    start = timezone.now().replace(second=0, microsecond=0)
    booking = BookingFactory(
        workspace=workspace_a, booking_type=massage, contact=ada, staff=staff, start=start
    )
    BookingFactory(
        workspace=workspace_a,
        booking_type=massage,
        staff=staff,
        start=start + timedelta(days=2),
        status=Booking.Status.PENDING,
    )
    local = timezone.localtime(start, ZoneInfo(workspace_a.timezone))
    sign_in(page, live_server, staff)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Bookings").click()
    today = page.get_by_test_id("today")
    row = today.get_by_role("link", name=re.compile("Ada Lovelace"))
    expect(row).to_contain_text(f"{local:%H:%M}")
    expect(row).to_contain_text("Massage")
    expect(row.get_by_test_id("booking-status")).to_have_text("Confirmed")
    expect(page.get_by_test_id("upcoming").get_by_test_id("booking")).to_have_count(1)

    row.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Massage with Ada Lovelace")
    page.get_by_role("button", name="Mark completed").click()

    expect(page.get_by_role("status")).to_have_text("The booking is completed.")
    expect(page.get_by_test_id("booking-status")).to_have_text("Completed")
    expect(page.get_by_test_id("history")).to_contain_text("Confirmed → Completed")
    expect(page.get_by_role("button", name="Mark completed")).to_have_count(0)
    booking.refresh_from_db()
    assert (booking.status, booking.status_changed_by) == ("completed", staff)


def test_the_week_calendar_scrolls_sideways_on_a_phone(page, live_server, staff, workspace_a):
    # Today at 10:00 on the workspace's clock: one block, whatever the hour the test runs at (a
    # booking made "now" at 23:30 runs past midnight and rightly shows in two columns).
    today_ten = timezone.localtime(timezone.now(), workspace_a.zone).replace(
        hour=10, minute=0, second=0, microsecond=0
    )
    BookingFactory(workspace=workspace_a, staff=staff, start=today_ten)
    sign_in(page, live_server, staff)

    page.goto(f"{live_server.url}/bookings/calendar/?view=week")

    expect(page.get_by_test_id("calendar-column")).to_have_count(7)
    expect(page.get_by_test_id("calendar-booking")).to_have_count(1)
    # The page itself never scrolls sideways: only the calendar's own box does.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390

"""A visitor in New York books a massage at a London clinic on their phone, then cancels it
through the link on the confirmation."""

from __future__ import annotations

import re
from datetime import time

import pytest
from playwright.sync_api import expect

from bookings.models import Booking
from bookings.tests.factories import BookingTypeFactory, WorkingHoursFactory
from tests.browser.conftest import ARTIFACTS
from workspaces.tests.factories import make_live

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def new_york_page(browser, request):
    """A phone whose clock is set to New York: the booking page should notice."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, timezone_id="America/New_York"
    )
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


def test_a_visitor_books_a_slot_in_their_time_zone_and_cancels_it(
    new_york_page, live_server, workspace_a
):
    page = new_york_page
    workspace_a.timezone = "Europe/London"
    workspace_a.save(update_fields=["timezone"])
    make_live(workspace_a)
    for weekday in range(7):
        WorkingHoursFactory(
            workspace=workspace_a, weekday=weekday, start_time=time(8), end_time=time(20)
        )
    BookingTypeFactory(
        workspace=workspace_a,
        name="Massage",
        slug="massage",
        price_display="£60",
        cancel_cutoff_hours=0,
    )

    page.goto(f"{live_server.url}/b/{workspace_a.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Book an appointment")
    page.get_by_role("link", name=re.compile("Massage")).click()

    # The page asked the browser for its zone and shows the times there.
    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
    expect(page.get_by_label("Times in")).to_have_value("America/New_York")
    slot = page.locator("button.slot").first
    expect(slot).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "booking-slot-picker-phone.png"), full_page=False)
    chosen_label = slot.inner_text()
    slot.click()

    expect(page.get_by_text(re.compile(f", {chosen_label}\N{EN DASH}"))).to_be_visible()
    expect(page.get_by_label("Leave this empty")).not_to_be_in_viewport()
    page.get_by_label("Your name").fill("Ada Lovelace")
    page.get_by_label("Email").fill("ada@example.org")
    page.get_by_label("Anything we should know?").fill("First visit")
    page.get_by_role("button", name="Book").click()

    expect(page.get_by_role("heading", name="You're booked")).to_be_visible()
    expect(page.get_by_test_id("booking-when")).to_contain_text(f", {chosen_label}\N{EN DASH}")
    expect(page.get_by_role("link", name="Add to calendar")).to_be_visible()
    booking = Booking.objects.get()
    assert (booking.contact.email, booking.source, booking.status) == (
        "ada@example.org",
        "public",
        "confirmed",
    )

    page.get_by_role("link", name="Change or cancel").click()
    expect(page.get_by_role("heading", name="Your booking")).to_be_visible()
    page.get_by_text("Cancel booking").click()
    page.get_by_role("button", name="Yes, cancel my booking").click()

    expect(page.get_by_role("status")).to_have_text("Your booking is cancelled.")
    expect(page.get_by_text("Cancel booking")).to_have_count(0)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED

"""The Content-Security-Policy in a real browser: chromium reports no violation on the key
pages, staff's and clients', and the behaviours moved out of inline script into app.js still
work under it (the calendar's person picker, the booking page's time zone)."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from bookings.services import booking_manage_token
from forms.services import submission_token
from tests.browser.conftest import ARTIFACTS, sign_in
from tests.full_data import full_workspace
from workspaces.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# Runs before any script of the page (Playwright's init scripts are not subject to the policy).
LISTEN = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


@pytest.fixture
def watched(browser, request):
    """A phone in New York whose every CSP violation and script error is collected."""
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, timezone_id="America/New_York"
    )
    context.add_init_script(LISTEN)
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.reported = []
    page.on(
        "console",
        lambda message: (
            page.reported.append(f"console: {message.text}")
            if "Content Security Policy" in message.text
            else None
        ),
    )
    page.on("pageerror", lambda error: page.reported.append(f"script error: {error}"))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def violations(page) -> list[str]:
    page.wait_for_load_state("load")
    return [*page.evaluate("window.__violations || []"), *page.reported]


def visit(page, url: str) -> list[str]:
    page.reported.clear()
    page.goto(url)
    page.wait_for_timeout(300)  # htmx's first swaps and app.js's handlers have run
    return violations(page)


@pytest.fixture
def business(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return full_workspace(name="Alpha Clinic", slug="alpha-clinic", password=PASSWORD)


def test_the_staffs_pages_report_no_violation(watched, live_server, business):
    page, w = watched, business
    sign_in(page, live_server, w.owner)
    paths = [
        reverse("dashboard"),
        reverse("inbox"),
        reverse("inbox-conversation", args=[w.conversation.pk]),
        reverse("contacts"),
        reverse("contact-detail", args=[w.contact.pk]),
        reverse("bookings"),
        reverse("bookings-calendar") + "?view=week",
        reverse("booking-detail", args=[w.booking.pk]),
        reverse("forms"),
        reverse("form-template-edit", args=[w.form_template.pk]),
        reverse("form-submission-detail", args=[w.submission.pk]),
        reverse("inventory"),
        reverse("alerts"),
        reverse("settings-integrations"),
        reverse("settings-templates"),
        reverse("settings-booking-types"),
        reverse("settings-availability"),
        reverse("settings-automation"),
    ]

    found = {path: problems for path in paths if (problems := visit(page, live_server.url + path))}

    assert found == {}


def test_the_calendar_lays_out_its_bookings_and_its_person_picker_submits(
    watched, live_server, business
):
    page, w = watched, business
    sign_in(page, live_server, w.owner)

    assert visit(page, f"{live_server.url}{reverse('bookings-calendar')}?view=week") == []
    booking = page.get_by_test_id("calendar-booking").first
    expect(booking).to_be_visible()
    # Placed by the page's nonced <style>: a row of the grid, not the first row's default.
    assert page.evaluate(
        "getComputedStyle(document.querySelector('[data-testid=calendar-booking]')).gridRowStart"
    ) not in ("auto", "")

    page.get_by_label("Staff").select_option(label=w.staff.name)

    expect(page).to_have_url(re.compile(rf"staff={w.staff.pk}"))
    assert violations(page) == []


def test_the_clients_pages_report_no_violation_and_find_the_visitors_time_zone(
    watched, live_server, business
):
    page, w = watched, business
    slug, service = w.workspace.slug, w.booking_types[0].slug

    assert visit(page, f"{live_server.url}/b/{slug}/{service}/") == []
    # app.js asked the browser for its zone and reloaded the page in it.
    expect(page).to_have_url(re.compile(r"tz=America%2FNew_York"))
    assert violations(page) == []

    paths = [
        reverse("login"),
        reverse("booking-page", args=[slug]),
        reverse("booking-manage", args=[booking_manage_token(w.booking)]),
        reverse("form-public", args=[submission_token(w.pending_submission)]),
        reverse("contact-form", args=[slug]),
    ]
    found = {path: problems for path in paths if (problems := visit(page, live_server.url + path))}

    assert found == {}


def test_the_api_docs_render_under_their_policy(watched, live_server):
    page = watched

    assert visit(page, f"{live_server.url}/api/v1/docs/") == []
    expect(page.get_by_text("CareOps API").first).to_be_visible()
    page.reported.clear()
    page.goto(f"{live_server.url}/api/v1/redoc/")
    expect(page.get_by_text("CareOps API").first).to_be_visible(timeout=30_000)  # a big schema

    # ReDoc's "powered by" logo comes from its CDN: refused, as every third party is.
    assert [v for v in violations(page) if "cdn.redoc.ly" not in v] == []

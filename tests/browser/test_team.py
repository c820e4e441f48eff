"""An owner closes the inbox to a staff member on a phone; the staff member no longer sees it."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_owner_closes_the_inbox_to_staff_who_then_cannot_open_it(
    page, live_server, owner, staff, workspace_a
):
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/settings/team/")
    membership = workspace_a.memberships.get(user=staff)
    member = page.get_by_test_id(f"member-{membership.pk}")
    member.get_by_label("Inbox").select_option("none")
    member.get_by_label("Forms").select_option("view")
    member.get_by_role("button", name="Save access").click()
    expect(page.get_by_role("status").filter(has_text="Saved what")).to_be_visible()
    membership.refresh_from_db()
    assert (membership.inbox_access, membership.forms_access) == ("none", "view")

    page.get_by_test_id("logout").click()
    sign_in(page, live_server, staff)
    nav = page.get_by_role("navigation", name="Main")
    expect(nav.get_by_role("link", name="Bookings")).to_be_visible()
    expect(nav.get_by_role("link", name="Inbox")).to_have_count(0)
    expect(page.get_by_test_id("inbox-panel")).to_have_count(0)

    page.goto(f"{live_server.url}/inbox/")
    expect(page.get_by_test_id("forbidden-reason")).to_contain_text("no access to Inbox")

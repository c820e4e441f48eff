"""The dashboard in a phone's browser: panels that refresh themselves every minute, a period
picker that swaps the figures in place, and a page that works from the keyboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import dateformat, timezone
from playwright.sync_api import expect

from bookings.tests.factories import BookingFactory
from contacts.tests.factories import ContactFactory
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_panels_refresh_every_minute_without_reloading_the_page(
    page, live_server, owner, workspace_a
):
    page.clock.install()  # the page's timers run on a clock the test moves
    sign_in(page, live_server, owner)
    today = page.get_by_test_id("today-panel")
    expect(today).to_contain_text("No bookings today.")
    page.evaluate("window.notReloaded = true")

    BookingFactory(
        workspace=workspace_a,
        contact=ContactFactory(workspace=workspace_a, name="Grace Hopper"),
        start=timezone.now().replace(second=0, microsecond=0),
    )
    page.clock.run_for(61_000)

    expect(today).to_contain_text("Grace Hopper")
    assert page.evaluate("window.notReloaded") is True


def test_the_owner_changes_the_period_and_the_figures_change_in_place(
    page, live_server, owner, workspace_a
):
    sign_in(page, live_server, owner)
    figures = page.get_by_test_id("figures-panel")
    expect(figures.get_by_label("Period")).to_have_value("30d")
    page.evaluate("window.notReloaded = true")

    figures.get_by_label("Period").select_option("7d")

    expect(page.get_by_test_id("figures-panel").get_by_label("Period")).to_have_value("7d")
    today = timezone.localtime(timezone.now(), workspace_a.zone).date()
    first_day = dateformat.format(today - timedelta(days=6), "j M Y")
    expect(page.get_by_test_id("figures-panel")).to_contain_text(first_day)
    assert page.evaluate("window.notReloaded") is True


def test_the_dashboard_works_from_the_keyboard_with_a_visible_focus(page, live_server, owner):
    sign_in(page, live_server, owner)

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Skip to content")
    expect(skip).to_be_focused()
    outline = skip.evaluate("el => getComputedStyle(el).outlineStyle")
    assert outline not in ("", "none")

    # Then on through the navigation: every stop is a link that shows it has the focus.
    for _ in range(3):
        page.keyboard.press("Tab")
        tag, style = page.evaluate(
            "el => [el.tagName, getComputedStyle(el).outlineStyle]",
            page.evaluate_handle("document.activeElement"),
        )
        assert tag == "A"
        assert style not in ("", "none")

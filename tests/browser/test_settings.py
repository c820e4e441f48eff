"""An owner connects an email provider on a phone, from the onboarding checklist to a test."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from messaging.models import Integration
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

API_KEY = "re_live_browser_secret_9876"


def test_owner_connects_an_email_provider_and_sends_a_test(
    page, live_server, owner, stand_in, settings
):
    # Plain-http API URLs (the stand-in) are allowed where console providers are: development.
    settings.MESSAGING_ALLOW_CONSOLE = True
    sign_in(page, live_server, owner)

    step = page.locator('[data-step="communication"]')
    expect(step).not_to_have_class(re.compile("done"))
    step.get_by_role("link", name="Email or SMS channel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Email or SMS channel")
    page.get_by_role("link", name="Add a provider and send a test").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Email & SMS providers")
    expect(page.get_by_text("No email provider yet.")).to_be_visible()

    page.get_by_role("link", name="Add a provider").click()
    page.get_by_label("Provider").select_option("resend")
    form = page.get_by_test_id("integration-form")
    expect(form.get_by_role("button", name="Add Resend")).to_be_visible()
    expect(page).to_have_url(re.compile(r"\?provider=resend$"))
    form.get_by_label("API key").fill(API_KEY)
    form.get_by_label("Send from").fill("hello@alpha.example")
    form.get_by_text("Advanced").click()
    form.get_by_label("API URL").fill(stand_in.url + "/resend/")
    form.get_by_role("button", name="Add Resend").click()

    expect(page.get_by_role("status").filter(has_text="Resend is added.")).to_be_visible()
    row = page.get_by_test_id("integrations-email").get_by_test_id("integration")
    expect(row).to_contain_text("Resend")
    expect(row).to_contain_text("hello@alpha.example")
    expect(row.get_by_test_id("masked-credential").first).to_have_text("••••••••9876")
    assert API_KEY not in page.content()

    row.get_by_role("button", name="Send a test").click()
    expect(row.get_by_test_id("test-result")).to_contain_text("Test sent: Resend accepted it")
    (request,) = stand_in.requests_to("/resend/emails")
    assert request.json["to"] == [owner.email]
    assert Integration.objects.get().last_success_at is not None

    page.get_by_role("link", name="Dashboard").click()
    expect(page.locator('[data-step="communication"]')).to_have_class(re.compile("done"))

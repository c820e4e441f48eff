"""An owner, on a phone, switches an automation off and rewrites the message of another."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from automation.models import Rule
from automation.rules import rules_for
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_owner_switches_a_rule_off_and_edits_the_welcome_message(
    page, live_server, owner, workspace_a
):
    sign_in(page, live_server, owner)
    page.goto(f"{live_server.url}/settings/automation/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Automation")

    forms_rule = page.locator('[data-rule="booking_forms"]')
    forms_rule.get_by_role("button", name="Switch off").click()  # htmx swaps the switch
    expect(forms_rule.get_by_test_id("rule-state")).to_have_text("Off")
    expect(forms_rule.get_by_role("button", name="Switch on")).to_be_visible()

    page.locator('[data-rule="welcome"]').get_by_role("link").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Welcome a new contact")
    page.get_by_label("Email subject").fill("Hello from {{ workspace.name }}")
    page.get_by_label("Text message (SMS)").fill("Hi {{ client.name }}")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#id_sms_body-error")).to_be_visible()

    page.get_by_label("Text message (SMS)").fill("Hi {{ contact.first_name }}, welcome!")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status").filter(has_text="is saved")).to_be_visible()
    expect(page.locator('[data-rule="welcome"]')).to_contain_text("Hello from {{ workspace.name }}")

    rules = rules_for(workspace_a)
    assert not rules[Rule.Kind.BOOKING_FORMS].is_enabled
    assert rules[Rule.Kind.WELCOME].subject == "Hello from {{ workspace.name }}"
    assert rules[Rule.Kind.WELCOME].sms_body == "Hi {{ contact.first_name }}, welcome!"

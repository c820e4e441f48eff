"""An owner builds an intake form on a phone: names it, adds fields, reorders one, previews."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from forms.models import FormTemplate
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def add_field(page, field_type: str, label: str, choices: str = "") -> None:
    form = page.get_by_test_id("field-add")
    form.get_by_label("Type").select_option(field_type)
    form.get_by_label("Label", exact=True).fill(label)
    if choices:
        form.get_by_label("Choices").fill(choices)
    form.get_by_role("button", name="Add field").click()
    expect(page.get_by_test_id("builder-notice")).to_have_text(f"“{label}” is added.")


def test_owner_builds_a_form_reorders_a_field_and_previews_it(page, live_server, owner):
    sign_in(page, live_server, owner)

    page.goto(f"{live_server.url}/forms/templates/")
    page.get_by_role("link", name="New form").click()
    page.get_by_label("Name").fill("New client intake")
    page.get_by_label("Due within (hours)").fill("24")
    page.get_by_role("button", name="Create form").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New client intake")

    add_field(page, "text", "Full name")
    add_field(page, "single_choice", "First visit?", choices="Yes\nNo")
    rows = page.get_by_test_id("builder-list").locator("li")
    expect(rows).to_have_count(2)

    page.get_by_role("button", name="Move “First visit?” up").click()
    expect(rows.first).to_contain_text("First visit?")
    expect(page.get_by_test_id("template-version")).to_have_text("Version 4")

    page.get_by_test_id("preview-link").click()
    preview = page.get_by_test_id("form-preview")
    expect(preview.get_by_role("heading", level=1)).to_have_text("New client intake")
    expect(preview.get_by_role("radio", name="Yes")).to_be_disabled()
    text = preview.inner_text()
    assert text.index("First visit?") < text.index("Full name")

    template = FormTemplate.objects.get()
    assert [f["key"] for f in template.fields] == ["first_visit", "full_name"]

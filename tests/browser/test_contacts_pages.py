"""A visitor writes through the public contact form; the owner finds them in the contacts list."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from contacts.models import Contact
from workspaces.tests.factories import PASSWORD, make_live

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_visitor_writes_in_and_the_owner_finds_them_by_searching(
    page, live_server, owner, workspace_a
):
    make_live(workspace_a)
    page.goto(f"{live_server.url}/c/{workspace_a.slug}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Contact Alpha Clinic")
    expect(page.get_by_label("Leave this empty")).not_to_be_in_viewport()
    page.get_by_label("Your name").fill("Florence Nightingale")
    page.get_by_label("Email", exact=True).fill("florence@example.org")
    page.get_by_label("Message").fill("Do you have a slot on Friday?")
    page.get_by_label("You may email me").check()
    page.get_by_role("button", name="Send").click()

    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    contact = Contact.objects.get(email="florence@example.org")
    assert (contact.workspace_id, contact.email_consent) == (workspace_a.pk, True)

    page.goto(f"{live_server.url}/accounts/login/?next=/contacts/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Contacts", level=1)).to_be_visible()

    Contact.objects.create(workspace=workspace_a, name="Mary Seacole", email="mary@example.org")
    page.reload()
    expect(page.locator(".contact-name")).to_have_count(2)

    page.get_by_label("Search").press_sequentially("floren", delay=30)

    results = page.locator("#contact-results")
    expect(results.locator(".contact-name")).to_have_count(1)
    expect(results.get_by_role("link", name="Florence Nightingale")).to_be_visible()
    expect(page).to_have_url(f"{live_server.url}/contacts/?q=floren&tag=&source=")

    results.get_by_role("link", name="Florence Nightingale").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Florence Nightingale")
    expect(page.get_by_text("florence@example.org").first).to_be_visible()

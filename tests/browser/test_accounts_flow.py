"""A new owner signs up, lands on the dashboard, signs out and back in, on a phone-sized screen."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from workspaces.models import Membership

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-enough-passphrase"


def test_owner_signs_up_signs_out_and_signs_back_in(page, live_server):
    page.goto(f"{live_server.url}/signup/")
    page.get_by_label("Your name").fill("Mary Seacole")
    page.get_by_label("Email").fill("mary@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_label("Business name").fill("Seacole Care")
    page.get_by_label("Time zone").select_option("Europe/London")
    page.get_by_role("button", name="Create account").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Seacole Care")
    expect(page.get_by_text("Finish setting up")).to_be_visible()
    assert Membership.objects.get(user__email="mary@example.com").role == "owner"

    page.get_by_test_id("logout").click()
    expect(page.get_by_role("heading", name="Sign in to CareOps")).to_be_visible()
    expect(page.get_by_test_id("logout")).to_have_count(0)

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill("mary@example.com")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Email or password is incorrect.")).to_be_visible()

    page.get_by_label("Email").fill("mary@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Seacole Care")


def test_a_member_of_two_workspaces_switches_between_them(page, live_server, owner):
    from workspaces.tests.factories import PASSWORD as FACTORY_PASSWORD
    from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

    MembershipFactory(user=owner, workspace=WorkspaceFactory(name="Zeta Studio"), role="staff")

    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(owner.email)
    page.get_by_label("Password").fill(FACTORY_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Alpha Clinic")

    page.get_by_label("Workspace").select_option(label="Zeta Studio (Staff)")
    page.get_by_role("button", name="Switch").click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Zeta Studio")
    expect(page.get_by_text("Finish setting up")).to_have_count(0)

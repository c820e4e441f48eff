from __future__ import annotations

import pytest
from django.conf import settings
from django.core import mail
from django.urls import reverse

from careops.tenancy import SESSION_KEY
from workspaces.models import Membership, User
from workspaces.services import invitation_create, invitation_token
from workspaces.tests.factories import PASSWORD, MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def test_the_dashboard_asks_anonymous_visitors_to_sign_in(client):
    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_signing_in_leads_to_the_workspace_dashboard(client, owner):
    response = client.post(
        reverse("login"), {"username": owner.email.upper(), "password": PASSWORD}, follow=True
    )

    assert response.status_code == 200
    assert b"Alpha Clinic" in response.content
    assert b"Finish setting up" in response.content  # owners of a draft workspace


def test_a_wrong_password_shows_a_clear_message(client, owner):
    response = client.post(reverse("login"), {"username": owner.email, "password": "nope"})

    assert response.status_code == 200
    assert b"Email or password is incorrect." in response.content


def test_repeated_failures_on_the_login_page_lock_it_for_a_while(client, owner):
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(reverse("login"), {"username": owner.email, "password": "nope"})

    response = client.post(reverse("login"), {"username": owner.email, "password": PASSWORD})

    assert response.status_code == 429
    assert b"Too many failed sign-in attempts" in response.content


def test_staff_see_the_dashboard_without_the_owners_setup_checklist(client, staff):
    client.force_login(staff)

    response = client.get("/")

    assert response.status_code == 200
    assert b"Finish setting up" not in response.content


def test_the_dashboard_renders_in_a_constant_number_of_queries(
    client, owner, django_assert_max_num_queries
):
    for _ in range(5):
        MembershipFactory(user=owner, workspace=WorkspaceFactory())
    client.force_login(owner)
    client.get("/")

    # session, user, membership+workspace, switcher list, onboarding checks (integrations,
    # booking types, working hours, form templates, inventory items, members, invitations),
    # the panels (10) and the owner's figures (5): see tests/test_dashboard_pages.py
    with django_assert_max_num_queries(26):
        response = client.get("/")

    assert response.status_code == 200


def test_the_switcher_changes_the_workspace_shown(client, owner):
    other = MembershipFactory(user=owner, workspace=WorkspaceFactory(name="Beta Spa"), role="staff")
    client.force_login(owner)

    response = client.post(
        reverse("workspace-switch"), {"workspace_id": other.workspace_id}, follow=True
    )

    assert response.status_code == 200
    assert b"<h1>Beta Spa</h1>" in response.content
    assert client.session[SESSION_KEY] == other.workspace_id


def test_the_switcher_refuses_another_tenants_workspace(client, owner, workspace_b):
    client.force_login(owner)

    response = client.post(reverse("workspace-switch"), {"workspace_id": workspace_b.pk})

    assert response.status_code == 404
    assert SESSION_KEY not in client.session


def test_signup_creates_the_owner_and_the_workspace_and_signs_in(client):
    response = client.post(
        reverse("signup"),
        {
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "password": "a-long-enough-passphrase",
            "workspace_name": "Hopper Therapy",
            "timezone": "America/New_York",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert b"<h1>Hopper Therapy</h1>" in response.content
    membership = Membership.objects.get(user__email="grace@example.com")
    assert (membership.role, membership.workspace.timezone) == ("owner", "America/New_York")


def test_signup_with_a_taken_email_shows_the_field_error(client, owner):
    response = client.post(
        reverse("signup"),
        {
            "name": "Copy",
            "email": owner.email,
            "password": "a-long-enough-passphrase",
            "workspace_name": "Copycat",
            "timezone": "UTC",
        },
    )

    assert response.status_code == 200
    assert b"An account with this email already exists." in response.content
    assert User.objects.filter(email=owner.email).count() == 1


def test_a_user_without_workspace_is_sent_to_create_one(client):
    user = User.objects.create_user("lonely@example.com", PASSWORD)
    client.force_login(user)

    response = client.get("/")

    assert response.status_code == 302
    assert response["Location"] == reverse("workspace-new")


def test_an_invited_person_creates_an_account_from_the_link(client, owner, workspace_a):
    invitation = invitation_create(workspace=workspace_a, actor=owner, email="nurse@example.com")
    link = reverse("invitation-accept", args=[invitation_token(invitation)])

    page = client.get(link)
    response = client.post(
        link, {"name": "Nina Nurse", "password": "a-long-enough-passphrase"}, follow=True
    )

    assert b"Join Alpha Clinic" in page.content
    assert response.status_code == 200
    assert b"<h1>Alpha Clinic</h1>" in response.content
    assert workspace_a.memberships.get(user__email="nurse@example.com").role == "staff"


def test_a_broken_invitation_link_gets_a_clear_page(client):
    response = client.get(reverse("invitation-accept", args=["forged:token"]))

    assert response.status_code == 400
    assert b"This invitation link is not valid." in response.content


def test_password_reset_sends_a_link_that_sets_a_new_password(client, owner):
    client.post(reverse("password_reset"), {"email": owner.email})

    assert len(mail.outbox) == 1
    link = next(line for line in mail.outbox[0].body.splitlines() if "/reset/" in line)
    path = link.split("://", 1)[1].split("/", 1)[1]
    form = client.get("/" + path, follow=True)
    client.post(
        form.redirect_chain[-1][0],
        {"new_password1": "brand-new-passphrase", "new_password2": "brand-new-passphrase"},
    )

    owner.refresh_from_db()
    assert owner.check_password("brand-new-passphrase")


def test_pages_work_on_a_phone_sized_layout(client, owner):
    client.force_login(owner)

    response = client.get("/")

    assert b'name="viewport" content="width=device-width, initial-scale=1"' in response.content

from __future__ import annotations

import pytest
from django.urls import reverse

from workspaces.models import User
from workspaces.tests.factories import InvitationFactory, MembershipFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = ["user", "workspace", "membership", "invitation"]


@pytest.fixture
def support(client):
    admin = User.objects.create_superuser("support@careops.test", "support-passphrase-1")
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", CHANGELISTS)
def test_each_changelist_loads_in_a_constant_number_of_queries(
    support, model, django_assert_max_num_queries
):
    for _ in range(15):
        membership = MembershipFactory()
        InvitationFactory(workspace=membership.workspace)

    # session, user, count, filtered count, page (related rows joined), plus filter choices
    with django_assert_max_num_queries(9):
        response = support.get(reverse(f"admin:workspaces_{model}_changelist"))

    assert response.status_code == 200


def test_support_finds_a_membership_by_the_members_email(support, staff):
    response = support.get(reverse("admin:workspaces_membership_changelist"), {"q": staff.email})

    assert response.status_code == 200
    assert staff.email in response.content.decode()


def test_the_workspace_page_shows_its_members_and_invitations(support, workspace_a, owner):
    InvitationFactory(workspace=workspace_a, email="pending@example.com")

    response = support.get(reverse("admin:workspaces_workspace_change", args=[workspace_a.pk]))

    assert response.status_code == 200
    assert owner.email in response.content.decode()
    assert "pending@example.com" in response.content.decode()

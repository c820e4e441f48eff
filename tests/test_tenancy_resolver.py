"""How a request's workspace is chosen (careops.tenancy.request_membership)."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from careops.errors import NotFound, WorkspaceRequired
from careops.tenancy import WORKSPACE_HEADER, request_membership
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def request_for(user, **headers):
    request = RequestFactory().get("/", headers=headers)
    request.user = user
    return request


def test_the_only_membership_is_used_when_none_is_named(staff, workspace_a):
    assert request_membership(request_for(staff)).workspace == workspace_a


def test_several_memberships_and_none_named_asks_for_the_header(owner):
    MembershipFactory(user=owner, workspace=WorkspaceFactory())

    with pytest.raises(WorkspaceRequired):
        request_membership(request_for(owner))


def test_the_header_names_one_of_the_users_workspaces(owner):
    other = MembershipFactory(user=owner, workspace=WorkspaceFactory()).workspace

    membership = request_membership(request_for(owner, **{WORKSPACE_HEADER: str(other.pk)}))

    assert membership.workspace == other


@pytest.mark.parametrize("value", ["abc", "", "99999999", "1; DROP TABLE"])
def test_a_header_naming_no_workspace_of_the_user_is_not_found(owner, value):
    with pytest.raises(NotFound):
        request_membership(request_for(owner, **{WORKSPACE_HEADER: value}))


def test_a_header_naming_another_tenants_workspace_is_not_found(owner, workspace_b):
    with pytest.raises(NotFound):
        request_membership(request_for(owner, **{WORKSPACE_HEADER: str(workspace_b.pk)}))


def test_the_url_wins_over_the_header(owner, workspace_a, workspace_b):
    request = request_for(owner, **{WORKSPACE_HEADER: str(workspace_b.pk)})

    assert request_membership(request, workspace_id=workspace_a.pk).workspace == workspace_a

from __future__ import annotations

from datetime import time

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from bookings.models import BookingType, WorkingHours
from careops.pagination import PageNumberPagination
from careops.tenancy import WORKSPACE_HEADER
from messaging.models import Integration
from workspaces.models import Invitation, Membership, Workspace
from workspaces.services import invitation_token
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


def url(workspace, suffix=""):
    return f"/api/v1/workspaces/{workspace.pk}{suffix}"


COMPLETE_DETAILS = {
    "contact_email": "hello@alpha.example",
    "address": "1 High Street, Bath",
}


def test_any_signed_in_user_creates_a_workspace_and_owns_it(outsider_api, outsider):
    response = outsider_api.post(
        "/api/v1/workspaces", {"name": "Second Shop", "timezone": "Europe/Paris"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["my_role"] == "owner"
    assert response.json()["status"] == "draft"
    workspace = Workspace.objects.get(pk=response.json()["id"])
    assert workspace.memberships.get().user == outsider


def test_list_shows_only_the_callers_workspaces_with_their_role(
    staff_api, workspace_a, workspace_b
):
    response = staff_api.get("/api/v1/workspaces")

    assert response.status_code == 200
    assert [(w["name"], w["my_role"]) for w in response.json()["results"]] == [
        ("Alpha Clinic", "staff")
    ]


def test_owner_updates_business_details(owner_api, workspace_a):
    response = owner_api.patch(
        url(workspace_a),
        {"contact_phone": "+44 117 496 0000", "timezone": "Europe/Dublin"},
        format="json",
    )

    assert response.status_code == 200
    workspace_a.refresh_from_db()
    assert (workspace_a.contact_phone, workspace_a.timezone) == (
        "+44 117 496 0000",
        "Europe/Dublin",
    )


def test_invalid_details_are_field_errors_and_nothing_changes(owner_api, workspace_a):
    response = owner_api.patch(
        url(workspace_a),
        {"timezone": "Nowhere/Town", "contact_email": "not-an-email", "name": "Renamed"},
        format="json",
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"timezone", "contact_email"}
    workspace_a.refresh_from_db()
    assert workspace_a.name == "Alpha Clinic"


def test_read_only_fields_cannot_be_patched(owner_api, workspace_a):
    owner_api.patch(url(workspace_a), {"status": "active", "slug": "x"}, format="json")

    workspace_a.refresh_from_db()
    assert (workspace_a.status, workspace_a.slug) == ("draft", "alpha-clinic")


def test_staff_reads_the_workspace_but_cannot_change_it(staff_api, workspace_a):
    assert staff_api.get(url(workspace_a)).status_code == 200

    response = staff_api.patch(url(workspace_a), {"name": "Mine now"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    workspace_a.refresh_from_db()
    assert workspace_a.name == "Alpha Clinic"


def test_onboarding_lists_each_step_with_what_is_missing(staff_api, workspace_a):
    response = staff_api.get(url(workspace_a, "/onboarding"))

    assert response.status_code == 200
    body = response.json()
    assert body["ready"] is False
    details = next(s for s in body["steps"] if s["key"] == "business_details")
    assert details == {
        "key": "business_details",
        "title": "Business details and time zone",
        "required": True,
        "done": False,
        "missing": [
            "A contact email or phone number for clients.",
            "The business address.",
        ],
    }


def test_activate_refuses_with_the_list_of_unmet_steps(owner_api, workspace_a):
    response = owner_api.post(url(workspace_a, "/activate"))

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "onboarding_incomplete"
    assert [s["key"] for s in body["steps"]] == ["business_details", "communication", "booking"]
    workspace_a.refresh_from_db()
    assert workspace_a.status == "draft"


def test_activate_puts_a_ready_workspace_live(owner_api, workspace_a):
    owner_api.patch(url(workspace_a), COMPLETE_DETAILS, format="json")
    Integration.objects.create(
        workspace=workspace_a, channel="email", provider="console", from_address="a@example.com"
    )
    BookingType.objects.create(workspace=workspace_a, name="Massage", slug="massage")
    WorkingHours.objects.create(
        workspace=workspace_a, weekday=0, start_time=time(9), end_time=time(17)
    )

    assert owner_api.get(url(workspace_a, "/onboarding")).json()["ready"] is True
    response = owner_api.post(url(workspace_a, "/activate"))

    assert response.status_code == 200
    assert response.json()["status"] == "active"
    workspace_a.refresh_from_db()
    assert workspace_a.activated_at is not None


def test_staff_cannot_activate(staff_api, workspace_a):
    assert staff_api.post(url(workspace_a, "/activate")).status_code == 403


# --- Invitations --------------------------------------------------------------------------------


def invite(client, workspace, email="new.hire@example.com", role="staff"):
    return client.post(
        url(workspace, "/invitations"), {"email": email, "role": role}, format="json"
    )


def token_from_email(message) -> str:
    link = next(line for line in message.body.splitlines() if "/invitations/" in line)
    return link.rstrip("/").rsplit("/", 1)[-1]


def test_owner_invites_staff_by_email(owner_api, workspace_a, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(owner_api, workspace_a, "New.Hire@Example.com")

    assert response.status_code == 201
    assert response.json()["email"] == "new.hire@example.com"
    assert response.json()["status"] == "pending"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["new.hire@example.com"]
    assert "Alpha Clinic" in mail.outbox[0].subject
    assert "/invitations/" in mail.outbox[0].body


def test_inviting_the_same_address_again_resends_one_invitation(
    owner_api, workspace_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = invite(owner_api, workspace_a)
    with django_capture_on_commit_callbacks(execute=True):
        second = invite(owner_api, workspace_a)

    assert first.json()["id"] == second.json()["id"]
    assert workspace_a.invitations.count() == 1
    assert len(mail.outbox) == 2


def test_inviting_a_member_is_a_field_error(owner_api, workspace_a, staff):
    response = invite(owner_api, workspace_a, staff.email)

    assert response.status_code == 400
    assert response.json()["fields"]["email"][0]["message"] == "This person is already a member."


def test_staff_cannot_invite_or_see_invitations(staff_api, workspace_a):
    assert invite(staff_api, workspace_a).status_code == 403
    assert staff_api.get(url(workspace_a, "/invitations")).status_code == 403


def register_invited(client, token, email="new.hire@example.com"):
    return client.post(
        "/api/v1/auth/register",
        {"email": email, "password": "a-long-enough-passphrase", "invitation_token": token},
        format="json",
    )


def test_invited_person_registers_with_the_token_and_joins_as_staff(
    owner_api, anon_api, workspace_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(owner_api, workspace_a)
    token = token_from_email(mail.outbox[0])

    response = register_invited(anon_api, token)

    assert response.status_code == 201
    assert response.json()["workspace"]["my_role"] == "staff"
    assert Membership.objects.get(user__email="new.hire@example.com").workspace == workspace_a
    replay = anon_api.post("/api/v1/invitations/accept", {"token": token}, format="json")
    assert replay.status_code == 401


def test_existing_user_accepts_an_invitation_once(
    owner_api, outsider_api, outsider, workspace_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(owner_api, workspace_a, outsider.email)
    token = token_from_email(mail.outbox[0])

    accepted = outsider_api.post("/api/v1/invitations/accept", {"token": token}, format="json")
    again = outsider_api.post("/api/v1/invitations/accept", {"token": token}, format="json")

    assert accepted.status_code == 200
    assert accepted.json()["workspace"]["id"] == workspace_a.pk
    assert again.status_code == 400
    assert again.json()["fields"]["token"][0]["message"] == "This invitation has been accepted."


def test_an_invitation_for_another_address_cannot_be_accepted(
    owner_api, outsider_api, outsider, workspace_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        invite(owner_api, workspace_a, "someone.else@example.com")
    token = token_from_email(mail.outbox[0])

    response = outsider_api.post("/api/v1/invitations/accept", {"token": token}, format="json")

    assert response.status_code == 403
    assert not workspace_a.memberships.filter(user=outsider).exists()


def test_a_forged_token_is_refused(outsider_api):
    forged = outsider_api.post(
        "/api/v1/invitations/accept", {"token": "eyJpIjoxfQ:forged:signature"}, format="json"
    )

    assert forged.status_code == 400
    assert forged.json()["fields"]["token"][0]["message"] == "This invitation link is not valid."


def test_an_expired_token_is_refused(owner_api, anon_api, workspace_a, settings):
    invitation_id = invite(owner_api, workspace_a).json()["id"]
    token = invitation_token(Invitation.objects.get(pk=invitation_id))

    with time_machine.travel(timezone.now() + settings.INVITATION_MAX_AGE, tick=False):
        expired = register_invited(anon_api, token)

    assert expired.status_code == 400
    assert expired.json()["fields"]["token"][0]["message"] == "This invitation has expired."
    assert not Membership.objects.filter(user__email="new.hire@example.com").exists()


def test_revoked_invitation_cannot_be_accepted(owner_api, outsider_api, outsider, workspace_a):
    invitation_id = invite(owner_api, workspace_a, outsider.email).json()["id"]
    token = invitation_token(Invitation.objects.get(pk=invitation_id))

    assert owner_api.delete(url(workspace_a, f"/invitations/{invitation_id}")).status_code == 204
    response = outsider_api.post("/api/v1/invitations/accept", {"token": token}, format="json")

    assert response.status_code == 400
    assert response.json()["fields"]["token"][0]["message"] == "This invitation has been revoked."


# --- Memberships --------------------------------------------------------------------------------


def test_members_list_the_team_in_a_constant_number_of_queries(
    staff_api, workspace_a, owner, staff, django_assert_max_num_queries
):
    MembershipFactory.create_batch(20, workspace=workspace_a)

    # 4 queries: the user (JWT), the membership with its workspace, count, the page with users
    with django_assert_max_num_queries(4):
        response = staff_api.get(url(workspace_a, "/memberships") + "?page_size=50")

    assert response.status_code == 200
    assert response.json()["count"] == 22


def test_owner_removes_a_staff_member(owner_api, workspace_a, staff):
    membership = workspace_a.memberships.get(user=staff)

    response = owner_api.delete(url(workspace_a, f"/memberships/{membership.pk}"))

    assert response.status_code == 204
    assert not workspace_a.memberships.filter(user=staff).exists()


def test_the_last_owner_cannot_be_removed(owner_api, workspace_a, owner):
    membership = workspace_a.memberships.get(user=owner)

    response = owner_api.delete(url(workspace_a, f"/memberships/{membership.pk}"))

    assert response.status_code == 409
    assert workspace_a.memberships.filter(user=owner).exists()


def test_staff_cannot_remove_members(staff_api, workspace_a, owner):
    membership = workspace_a.memberships.get(user=owner)

    assert staff_api.delete(url(workspace_a, f"/memberships/{membership.pk}")).status_code == 403


def test_a_removed_member_loses_access_at_once(owner_api, staff_api, workspace_a, staff):
    owner_api.delete(url(workspace_a, f"/memberships/{workspace_a.memberships.get(user=staff).pk}"))

    assert staff_api.get(url(workspace_a)).status_code == 404


# --- Workspace context ---------------------------------------------------------------------------


def test_a_user_in_several_workspaces_names_one_by_header(owner, owner_api, workspace_a):
    other = WorkspaceFactory(name="Other")
    MembershipFactory(workspace=other, user=owner, role="staff")

    assert owner_api.get("/api/v1/workspaces/0/memberships").status_code == 404

    response = owner_api.get(
        url(workspace_a, "/memberships"), headers={WORKSPACE_HEADER: str(other.pk)}
    )
    # The URL names the workspace; a header never overrides it.
    assert response.status_code == 200
    assert {m["user"]["email"] for m in response.json()["results"]} == {owner.email}


def test_member_lists_filter_and_order_by_documented_fields(staff_api, workspace_a, owner, staff):
    def emails(query):
        response = staff_api.get(url(workspace_a, "/memberships") + query)
        return [m["user"]["email"] for m in response.json()["results"]]

    bad_filter = staff_api.get(url(workspace_a, "/memberships") + "?role=emperor")

    assert emails("?role=owner") == [owner.email]
    assert emails("?ordering=-created_at") == list(reversed(emails("")))
    assert sorted(emails("")) == sorted([owner.email, staff.email])
    assert bad_filter.status_code == 400
    assert "role" in bad_filter.json()["fields"]


def test_a_huge_page_size_is_capped_not_refused(staff_api, workspace_a, monkeypatch):
    monkeypatch.setattr(PageNumberPagination, "max_page_size", 2)
    MembershipFactory.create_batch(3, workspace=workspace_a)

    response = staff_api.get(url(workspace_a, "/memberships") + "?page_size=100000")

    assert response.status_code == 200
    assert response.json()["count"] == 4
    assert len(response.json()["results"]) == 2

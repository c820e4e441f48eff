"""Staff access per area: owners open Inbox, Bookings, Forms and Inventory to each staff member
(no access, view only, view and act), on the team page or the API, and an invitation carries the
areas its staff member starts with. The sweeps (tests/test_tenancy_sweep.py,
tests/test_pages_tenancy_sweep.py) prove every route obeys them; this file, the rest."""

from __future__ import annotations

import re

import pytest
from django.core import mail
from django.urls import reverse

from automation.models import Alert
from bookings.tests.factories import BookingFactory
from contacts.tests.factories import ContactFactory
from inventory.tests.factories import InventoryItemFactory
from messaging.tests.factories import ConversationFactory, MessageFactory
from workspaces import services
from workspaces.models import Access, Area, Invitation, Membership
from workspaces.tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db

ALL_ACT = dict.fromkeys(Area.values, Access.ACT)


def staff_membership(workspace, staff) -> Membership:
    return workspace.memberships.get(user=staff)


def set_access(workspace, staff, **levels) -> Membership:
    membership = staff_membership(workspace, staff)
    membership.set_area_access(levels)
    membership.save()
    return membership


# --- The rule -----------------------------------------------------------------------------------


def test_a_new_staff_member_acts_in_every_area_until_an_owner_says_otherwise(workspace_a, staff):
    assert staff_membership(workspace_a, staff).areas == ALL_ACT


def test_an_owner_acts_in_every_area_whatever_the_columns_say(workspace_a, owner):
    membership = staff_membership(workspace_a, owner)
    membership.set_area_access(dict.fromkeys(Area.values, Access.NONE))

    assert membership.areas == ALL_ACT
    assert membership.visible_areas == frozenset(Area.values)


def test_the_database_refuses_an_unknown_level(workspace_a, staff):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Membership.objects.filter(workspace=workspace_a, user=staff).update(inbox_access="admin")


# --- Invitations carry the areas ----------------------------------------------------------------


def test_an_invitation_keeps_its_areas_and_the_new_member_starts_with_them(workspace_a, owner):
    invitation = services.invitation_create(
        workspace=workspace_a,
        actor=owner,
        email="New.Person@example.com",
        access={"inbox": "none", "inventory": "view"},
    )
    user = UserFactory(email="new.person@example.com")

    membership = services.invitation_accept(invitation=invitation, user=user)

    assert membership.areas == {
        "inbox": "none",
        "bookings": "act",
        "forms": "act",
        "inventory": "view",
    }


def test_inviting_the_same_address_again_takes_the_new_areas(workspace_a, owner):
    services.invitation_create(
        workspace=workspace_a, actor=owner, email="a@example.com", access={"forms": "none"}
    )
    services.invitation_create(
        workspace=workspace_a, actor=owner, email="a@example.com", access={"forms": "view"}
    )

    invitation = Invitation.objects.get(workspace=workspace_a, email="a@example.com")
    assert invitation.forms_access == "view"


def test_the_invitation_page_shows_the_areas_before_accepting(client, workspace_a, owner):
    invitation = services.invitation_create(
        workspace=workspace_a,
        actor=owner,
        email="b@example.com",
        access={"inbox": "none", "bookings": "view"},
    )

    response = client.get(
        reverse("invitation-accept", args=[services.invitation_token(invitation)])
    )

    areas = response.content.decode().split('data-testid="invitation-areas"')[1].split("</ul>")[0]
    assert "<strong>Inbox</strong>: no access" in areas
    assert "<strong>Bookings</strong>: view only" in areas
    assert "<strong>Forms</strong>: view and act" in areas


def test_an_invitation_with_a_bad_area_or_level_is_refused_by_field(owner_api, workspace_a):
    url = f"/api/v1/workspaces/{workspace_a.pk}/invitations"

    response = owner_api.post(
        url, {"email": "c@example.com", "access": {"inbox": "all"}}, format="json"
    )

    assert response.status_code == 400
    assert "access.inbox" in response.json()["fields"]
    assert not Invitation.objects.filter(email="c@example.com").exists()


def test_the_api_invites_with_areas_and_lists_them(owner_api, workspace_a):
    url = f"/api/v1/workspaces/{workspace_a.pk}/invitations"

    created = owner_api.post(
        url, {"email": "d@example.com", "access": {"inventory": "none"}}, format="json"
    )

    assert created.status_code == 201
    assert created.json()["access"] == ALL_ACT | {"inventory": "none"}
    assert owner_api.get(url).json()["results"][0]["access"]["inventory"] == "none"


# --- Owners change a member's areas -------------------------------------------------------------


def memberships_url(workspace, membership=None) -> str:
    base = f"/api/v1/workspaces/{workspace.pk}/memberships"
    return f"{base}/{membership.pk}" if membership else base


def test_an_owner_closes_an_area_to_a_staff_member_through_the_api(owner_api, workspace_a, staff):
    membership = staff_membership(workspace_a, staff)

    response = owner_api.patch(
        memberships_url(workspace_a, membership),
        {"access": {"inbox": "none", "forms": "view"}},
        format="json",
    )

    assert response.status_code == 200
    assert response.json()["access"] == ALL_ACT | {"inbox": "none", "forms": "view"}
    membership.refresh_from_db()
    assert (membership.inbox_access, membership.forms_access) == ("none", "view")


def test_staff_cannot_change_anyones_areas(staff_api, workspace_a, staff):
    membership = staff_membership(workspace_a, staff)

    response = staff_api.patch(
        memberships_url(workspace_a, membership), {"access": {"inbox": "act"}}, format="json"
    )

    assert response.status_code == 403


def test_an_owners_areas_cannot_be_narrowed(owner_api, workspace_a, owner):
    response = owner_api.patch(
        memberships_url(workspace_a, staff_membership(workspace_a, owner)),
        {"access": {"inbox": "none"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["fields"]["access"][0]["message"] == "Owners always have every area."


def test_a_bad_level_is_refused_by_field_and_nothing_changes(owner_api, workspace_a, staff):
    membership = staff_membership(workspace_a, staff)

    response = owner_api.patch(
        memberships_url(workspace_a, membership),
        {"access": {"inbox": "none", "bookings": "everything"}},
        format="json",
    )

    assert response.status_code == 400
    assert "access.bookings" in response.json()["fields"]
    membership.refresh_from_db()
    assert membership.areas == ALL_ACT


def test_another_workspaces_member_is_not_found(outsider_api, workspace_a, staff):
    response = outsider_api.patch(
        memberships_url(workspace_a, staff_membership(workspace_a, staff)),
        {"access": {"inbox": "none"}},
        format="json",
    )

    assert response.status_code == 404


def test_me_tells_a_client_what_the_member_may_open(staff_api, workspace_a, staff):
    set_access(workspace_a, staff, inbox="none")

    memberships = staff_api.get("/api/v1/auth/me").json()["memberships"]

    assert memberships[0]["access"] == ALL_ACT | {"inbox": "none"}


# --- The team page ------------------------------------------------------------------------------


def test_the_team_page_is_for_owners(staff_client):
    assert staff_client.get(reverse("settings-team")).status_code == 403


def test_an_owner_sets_a_staff_members_areas_on_the_team_page(owner_client, workspace_a, staff):
    membership = staff_membership(workspace_a, staff)
    prefix = f"m{membership.pk}"

    response = owner_client.post(
        reverse("settings-team-access", args=[membership.pk]),
        {
            f"{prefix}-inbox_access": "none",
            f"{prefix}-bookings_access": "view",
            f"{prefix}-forms_access": "act",
            f"{prefix}-inventory_access": "none",
        },
    )

    assert response.status_code == 302
    membership.refresh_from_db()
    assert membership.areas == {
        "inbox": "none",
        "bookings": "view",
        "forms": "act",
        "inventory": "none",
    }
    page = owner_client.get(reverse("settings-team")).content.decode()
    member = page.split(f'data-testid="member-{membership.pk}"')[1].split("</li>")[0]
    assert re.search(
        r'name="m\d+-bookings_access"[^>]*>.*?<option value="view" selected', member, re.S
    )


def test_a_bad_level_on_the_team_page_is_a_400_with_the_field_named(
    owner_client, workspace_a, staff
):
    membership = staff_membership(workspace_a, staff)
    prefix = f"m{membership.pk}"

    response = owner_client.post(
        reverse("settings-team-access", args=[membership.pk]),
        {f"{prefix}-inbox_access": "everything"},
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    membership.refresh_from_db()
    assert membership.areas == ALL_ACT


def test_an_owner_invites_with_areas_from_the_team_page(
    owner_client, workspace_a, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("settings-team"),
            {
                "email": "e@example.com",
                "role": "staff",
                "inbox_access": "act",
                "bookings_access": "act",
                "forms_access": "view",
                "inventory_access": "none",
            },
        )

    assert response.status_code == 302
    invitation = Invitation.objects.get(workspace=workspace_a, email="e@example.com")
    assert invitation.area_access() == ALL_ACT | {"forms": "view", "inventory": "none"}
    assert len(mail.outbox) == 1
    assert "e@example.com" in owner_client.get(reverse("settings-team")).content.decode()


def test_an_owner_withdraws_an_invitation_and_removes_a_member(owner_client, workspace_a, staff):
    invitation = services.invitation_create(
        workspace=workspace_a, actor=workspace_a.memberships.first().user, email="f@example.com"
    )
    membership = staff_membership(workspace_a, staff)

    owner_client.post(reverse("settings-team-invitation-revoke", args=[invitation.pk]))
    owner_client.post(reverse("settings-team-remove", args=[membership.pk]))

    invitation.refresh_from_db()
    assert invitation.status == "revoked"
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_the_last_owner_is_not_removed_from_the_team_page(owner_client, workspace_a, owner):
    membership = staff_membership(workspace_a, owner)

    response = owner_client.post(reverse("settings-team-remove", args=[membership.pk]), follow=True)

    assert Membership.objects.filter(pk=membership.pk).exists()
    assert "at least one owner" in response.content.decode()


# --- What staff see -----------------------------------------------------------------------------


def test_a_closed_area_answers_403_saying_why(staff_client, workspace_a, staff):
    set_access(workspace_a, staff, inbox="none")

    response = staff_client.get(reverse("inbox"))

    assert response.status_code == 403
    assert "You have no access to Inbox" in response.content.decode()


def test_view_only_staff_see_a_conversation_without_the_reply_box(staff_client, workspace_a, staff):
    set_access(workspace_a, staff, inbox="view")
    conversation = ConversationFactory(workspace=workspace_a)

    page = staff_client.get(reverse("inbox-conversation", args=[conversation.pk]))
    refused = staff_client.post(reverse("inbox-reply", args=[conversation.pk]), {"body": "Hi"})

    assert page.status_code == 200
    assert 'data-testid="view-only"' in page.content.decode()
    assert 'name="body"' not in page.content.decode()
    assert refused.status_code == 403
    assert not conversation.messages.exists()


def test_view_only_staff_see_a_booking_without_its_buttons(staff_client, workspace_a, staff):
    set_access(workspace_a, staff, bookings="view")
    booking = BookingFactory(workspace=workspace_a, contact=ContactFactory(workspace=workspace_a))

    page = staff_client.get(reverse("booking-detail", args=[booking.pk])).content.decode()

    assert 'id="status-actions"' not in page
    assert reverse("booking-reschedule", args=[booking.pk]) not in page
    assert 'data-testid="view-only"' in page


def test_view_only_staff_see_stock_without_recording_it(staff_client, workspace_a, staff):
    set_access(workspace_a, staff, inventory="view")
    item = InventoryItemFactory(workspace=workspace_a)

    page = staff_client.get(reverse("inventory-detail", args=[item.pk])).content.decode()
    refused = staff_client.post(reverse("inventory-usage", args=[item.pk]), {"quantity": 1})

    assert reverse("inventory-usage", args=[item.pk]) not in page
    assert refused.status_code == 403


def test_the_dashboard_leaves_out_the_areas_closed_to_staff(staff_client, workspace_a, staff):
    set_access(workspace_a, staff, inbox="none", forms="none")

    page = staff_client.get(reverse("dashboard")).content.decode()

    assert 'data-testid="inbox-panel"' not in page
    assert 'data-testid="forms-panel"' not in page
    assert 'data-testid="today-panel"' in page
    assert 'data-testid="alerts-panel"' in page


def test_staff_see_only_the_alerts_of_their_areas(staff_api, staff_client, workspace_a, staff):
    set_access(workspace_a, staff, inventory="none")
    for kind, subject in ((Alert.Kind.STOCK_LOW, "inventory_item"), (Alert.Kind.FORM_OVERDUE, "x")):
        Alert.objects.create(
            workspace=workspace_a, kind=kind, subject_type=subject, subject_id=1, message=kind
        )
    stock = Alert.objects.get(kind=Alert.Kind.STOCK_LOW)

    listed = staff_api.get("/api/v1/alerts").json()["results"]
    page = staff_client.get(reverse("alerts")).content.decode()
    acknowledged = staff_api.post(f"/api/v1/alerts/{stock.pk}/acknowledge")

    assert [alert["kind"] for alert in listed] == ["form_overdue"]
    assert "stock_low" not in page
    assert acknowledged.status_code == 404


def test_view_only_staff_may_not_acknowledge_an_alert(staff_api, workspace_a, staff):
    set_access(workspace_a, staff, forms="view")
    alert = Alert.objects.create(
        workspace=workspace_a, kind=Alert.Kind.FORM_OVERDUE, subject_type="x", subject_id=1
    )

    response = staff_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")

    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.acknowledged_at is None


def test_a_staff_member_in_two_workspaces_has_each_ones_areas(workspace_a, workspace_b, staff):
    MembershipFactory(workspace=workspace_b, user=staff, inbox_access=Access.NONE)

    assert staff_membership(workspace_a, staff).can_act(Area.INBOX)
    assert not staff_membership(workspace_b, staff).can_view(Area.INBOX)


def test_a_contacts_timeline_leaves_out_the_areas_closed_to_staff(
    staff_api, staff_client, workspace_a, staff
):
    set_access(workspace_a, staff, inbox="none", forms="view")
    contact = ContactFactory(workspace=workspace_a)
    BookingFactory(workspace=workspace_a, contact=contact)
    conversation = ConversationFactory(workspace=workspace_a, contact=contact)
    MessageFactory(conversation=conversation, body="Private words")

    timeline = staff_api.get(f"/api/v1/contacts/{contact.pk}").json()["timeline"]
    page = staff_client.get(reverse("contact-detail", args=[contact.pk])).content.decode()

    assert {entry["kind"] for entry in timeline} == {"booking"}
    assert "Private words" not in page
    assert 'data-testid="send-form"' not in page

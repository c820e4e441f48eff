"""What the big API lists read: the token's user and the X-Workspace-ID membership in one query
(careops.auth, its SQL written once: careops.db.JoinedSelect), and only the columns the lists
show (never a user's password hash)."""

from __future__ import annotations

from datetime import date

import pytest
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from bookings import selectors as booking_selectors
from bookings.api.bookings import BookingFilterSerializer
from bookings.models import Booking
from bookings.selectors import bookings_for_workspace
from bookings.tests.factories import BookingFactory
from conftest import api_client_for
from contacts.tests.factories import ContactFactory
from messaging import selectors as messaging_selectors
from messaging.models import Conversation
from messaging.selectors import conversations_list
from messaging.tests.factories import ConversationFactory
from workspaces.models import Membership
from workspaces.selectors import memberships_with_user
from workspaces.tests.factories import MembershipFactory, UserFactory

BOOKINGS = "/api/v1/bookings"
TODAY = "/api/v1/bookings/today"
CONVERSATIONS = "/api/v1/messages/conversations"
CONTACTS = "/api/v1/contacts"


def _api(user, workspace) -> APIClient:
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}",
        HTTP_X_WORKSPACE_ID=str(workspace.pk),
    )
    return client


@pytest.fixture
def listed(workspace_a):
    """A booking with a member's calendar and an assigned conversation in workspace A."""
    member = MembershipFactory(workspace=workspace_a).user
    contact = ContactFactory(workspace=workspace_a)
    BookingFactory(workspace=workspace_a, contact=contact, staff=member)
    ConversationFactory(workspace=workspace_a, contact=contact, assigned_to=member)
    return member


@pytest.mark.parametrize("url", [BOOKINGS, TODAY, CONVERSATIONS])
def test_a_list_reads_the_user_with_the_membership_and_no_password_hash_but_the_callers(
    staff, workspace_a, listed, url, django_assert_max_num_queries
):
    api = _api(staff, workspace_a)

    # 2 queries: the membership of the X-Workspace-ID workspace with its user and workspace
    # joined, the page (its joined rows' listed columns only)
    with django_assert_max_num_queries(2) as captured:
        response = api.get(url)

    assert response.status_code == 200
    page_sql = captured.captured_queries[-1]["sql"]
    assert '"password"' not in page_sql


def test_the_lists_show_the_joined_rows_as_before(staff, workspace_a, listed):
    api = _api(staff, workspace_a)

    booking = api.get(BOOKINGS).json()["results"][0]
    conversation = api.get(CONVERSATIONS).json()["results"][0]

    assert booking["staff"] == {"id": listed.pk, "name": listed.name, "email": listed.email}
    assert conversation["assigned_to"] == {
        "id": listed.pk,
        "name": listed.name,
        "email": listed.email,
    }
    assert booking["contact"] == conversation["contact"]
    assert set(booking["contact"]) == {"id", "name", "email", "phone"}


def test_the_contacts_list_takes_the_same_shortcut(
    staff, workspace_a, listed, django_assert_max_num_queries
):
    api = _api(staff, workspace_a)

    # 3 queries: membership with its user, the page, its tags
    with django_assert_max_num_queries(3):
        response = api.get(CONTACTS)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_an_outsider_naming_the_workspace_gets_404_without_asking_twice(
    outsider, workspace_a, listed, django_assert_max_num_queries
):
    api = _api(outsider, workspace_a)

    # 2 queries: no membership of workspace A, then the token's user on its own
    with django_assert_max_num_queries(2):
        response = api.get(BOOKINGS)

    assert response.status_code == 404


def test_an_inactive_user_is_refused_when_naming_the_workspace(staff, workspace_a):
    api = _api(staff, workspace_a)
    staff.is_active = False
    staff.save(update_fields=["is_active"])

    response = api.get(BOOKINGS)

    assert response.status_code == 401


def test_a_token_from_before_a_password_change_is_refused_when_naming_the_workspace(
    staff, workspace_a
):
    api = _api(staff, workspace_a)
    staff.set_password("a-brand-new-password-123")
    staff.save(update_fields=["password"])

    response = api.get(BOOKINGS)

    assert response.status_code == 401


def test_a_url_naming_another_workspace_than_the_header_is_still_checked(
    staff, workspace_a, workspace_b
):
    # The header's membership (A) is read with the user; the URL's workspace (B) is not hers.
    api = _api(staff, workspace_a)

    response = api.get(f"/api/v1/workspaces/{workspace_b.pk}")

    assert response.status_code == 404


# --- No X-Workspace-ID: the caller's only workspace, read with the user -------------------------


@pytest.mark.parametrize("url", [BOOKINGS, CONVERSATIONS])
def test_without_the_header_the_only_membership_is_read_with_the_user(
    staff, staff_api, workspace_a, listed, url, django_assert_max_num_queries
):
    # 2 queries: the user's first two memberships with the user and workspace joined, the page
    with django_assert_max_num_queries(2):
        response = staff_api.get(url)

    assert response.status_code == 200
    assert len(response.json()["results"]) == 1


def test_without_the_header_two_memberships_still_ask_for_it(staff, staff_api, workspace_b):
    MembershipFactory(workspace=workspace_b, user=staff)

    response = staff_api.get(BOOKINGS)

    assert response.status_code == 400
    assert "X-Workspace-ID" in str(response.json())


def test_without_the_header_a_user_of_no_workspace_is_told_so(db):
    lone = UserFactory()

    response = api_client_for(lone).get(BOOKINGS)

    assert response.status_code == 404


@pytest.mark.parametrize("change", ["deactivate", "password"])
def test_without_the_header_the_user_read_with_the_membership_is_still_checked(
    staff, staff_api, change
):
    if change == "deactivate":
        staff.is_active = False
    else:
        staff.set_password("a-brand-new-password-123")
    staff.save()

    response = staff_api.get(BOOKINGS)

    assert response.status_code == 401


# --- The membership read itself (workspaces.selectors.memberships_with_user) ------------------


def _same_row(found, expected) -> None:
    """Every stored field alike, as the ORM reads it (JSON, times and choices included)."""
    for field in type(expected)._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name


@pytest.mark.parametrize("named", [True, False])
def test_the_membership_read_gives_what_select_related_gives(
    staff, workspace_a, named, django_assert_num_queries
):
    expected = Membership.objects.select_related("user", "workspace").get(user=staff)

    with django_assert_num_queries(1):
        found = memberships_with_user(
            user_field="id", user_key=staff.pk, workspace_id=workspace_a.pk if named else None
        )
    # The user and the workspace came with it: reading them asks nothing more.
    with django_assert_num_queries(0):
        (membership,) = found
        user, workspace = membership.user, membership.workspace

    _same_row(membership, expected)
    _same_row(user, expected.user)
    _same_row(workspace, expected.workspace)
    assert membership._state.adding is False
    assert membership._state.db == "default"
    assert workspace.today() == expected.workspace.today()


def test_the_membership_read_finds_only_the_named_workspaces(staff, workspace_a, workspace_b):
    assert (
        memberships_with_user(user_field="id", user_key=staff.pk, workspace_id=workspace_b.pk) == []
    )
    assert memberships_with_user(user_field="id", user_key=staff.pk, workspace_id=10**20) == []


def test_without_a_workspace_the_membership_read_gives_the_first_two_by_id(
    staff, workspace_a, workspace_b
):
    second = MembershipFactory(workspace=workspace_b, user=staff)
    MembershipFactory(user=staff)

    found = memberships_with_user(user_field="id", user_key=staff.pk, workspace_id=None)

    assert [m.pk for m in found] == [staff.memberships.get(workspace=workspace_a).pk, second.pk]


def test_a_token_naming_no_user_id_is_refused(workspace_a):
    token = RefreshToken()
    token["user_id"] = "not-a-number"
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {token.access_token}", HTTP_X_WORKSPACE_ID=str(workspace_a.pk)
    )

    response = client.get(BOOKINGS)

    assert response.status_code == 401


# --- The lists' rows, their columns and joins resolved once per process -------------------------


def test_the_booking_rows_are_the_bookings_own_and_each_call_starts_afresh(
    workspace_a, workspace_b, listed
):
    BookingFactory(workspace=workspace_b, status=Booking.Status.CANCELLED)

    a_rows = list(bookings_for_workspace(workspace=workspace_a, rows=True))
    b_cancelled = list(bookings_for_workspace(workspace=workspace_b, status="cancelled", rows=True))
    a_again = list(bookings_for_workspace(workspace=workspace_a, rows=True))

    expected = list(
        bookings_for_workspace(workspace=workspace_a).values(*booking_selectors.LISTED_COLUMNS)
    )
    assert a_rows == a_again == expected
    assert a_rows[0]["staff__id"] == listed.pk
    assert [row["id"] for row in b_cancelled] == [
        booking.pk for booking in Booking.objects.filter(workspace=workspace_b)
    ]
    # The shared queryset is only ever chained from: never filtered, never evaluated itself.
    assert not booking_selectors._listed_rows().query.where
    assert booking_selectors._listed_rows()._result_cache is None


def test_the_inbox_rows_are_the_conversations_own_with_has_failed(
    staff, workspace_a, workspace_b, listed
):
    ConversationFactory(workspace=workspace_b)

    rows = list(conversations_list(workspace=workspace_a, user=staff, rows=True))
    mine = list(conversations_list(workspace=workspace_a, user=listed, assigned="me", rows=True))
    others = list(conversations_list(workspace=workspace_b, user=staff, rows=True))

    (conversation,) = conversations_list(workspace=workspace_a, user=staff)
    assert rows == mine
    assert rows[0]["id"] == conversation.pk
    assert rows[0]["has_failed"] is False
    assert rows[0]["assigned_to__id"] == listed.pk
    assert [row["id"] for row in others] == [
        c.pk for c in Conversation.objects.filter(workspace=workspace_b)
    ]
    assert not messaging_selectors._listed_rows().query.where
    assert messaging_selectors._listed_rows()._result_cache is None


# --- Query parameters: the declared fields copied shallowly (careops.serializers) ---------------


def test_query_parameters_validate_alike_on_copies_of_fields_left_unbound():
    good = BookingFilterSerializer(data={"status": "cancelled", "staff": "7", "from": "2030-01-02"})
    bad = BookingFilterSerializer(data={"status": "nope", "staff": "0", "from": "soon"})

    assert good.is_valid()
    assert good.validated_data == {"status": "cancelled", "staff": 7, "from": date(2030, 1, 2)}
    assert not bad.is_valid()
    assert set(bad.errors) == {"status", "staff", "from"}
    assert good.fields["staff"] is not bad.fields["staff"]
    assert good.fields["staff"].parent is good
    # The class's own fields are never bound: each serializer binds its copies.
    declared = BookingFilterSerializer._declared_fields["staff"]
    assert declared.parent is None
    assert declared.field_name is None

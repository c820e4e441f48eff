"""Support deactivates a workspace: its members are told why instead of getting their pages,
its public pages and API take nothing, nothing more is sent to its clients (failed, not
lost: retried once it is back), and reactivating puts it back as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.admin.models import CHANGE, LogEntry
from django.urls import reverse

from bookings.tests.factories import BookingTypeFactory
from careops.errors import InvalidInput
from contacts.tests.factories import ContactFactory
from messaging.models import Channel, Message
from messaging.services import message_retry, message_send
from messaging.tests.factories import ConversationFactory, IntegrationFactory
from workspaces import services
from workspaces.models import Membership, Workspace, WorkspaceDeactivated
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory, make_live

pytestmark = pytest.mark.django_db

SOON = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


def deactivate(workspace, actor) -> Workspace:
    return services.workspace_deactivate(workspace=workspace, actor=actor, reason="Unpaid")


def test_deactivating_needs_a_reason_and_records_when(workspace_a, owner):
    make_live(workspace_a)

    with pytest.raises(InvalidInput) as refused:
        services.workspace_deactivate(workspace=workspace_a, actor=owner, reason="  ")
    deactivate(workspace_a, owner)

    assert refused.value.fields == {"reason": ["Say why the workspace is deactivated."]}
    workspace_a.refresh_from_db()
    assert workspace_a.status == Workspace.Status.DEACTIVATED
    assert workspace_a.deactivated_at is not None
    assert workspace_a.deactivated_reason == "Unpaid"


def test_reactivating_returns_a_live_workspace_to_live_and_a_draft_to_its_setup(
    workspace_a, workspace_b, owner
):
    make_live(workspace_a)
    for workspace in (workspace_a, workspace_b):
        deactivate(workspace, owner)
        services.workspace_reactivate(workspace=workspace, actor=owner)
        workspace.refresh_from_db()

    assert workspace_a.status == Workspace.Status.ACTIVE
    assert workspace_b.status == Workspace.Status.DRAFT
    assert workspace_a.deactivated_at is None and workspace_a.deactivated_reason == ""


def test_a_deactivated_workspace_cannot_be_put_live_by_its_owner(workspace_a, owner):
    workspace = deactivate(workspace_a, owner)

    with pytest.raises(WorkspaceDeactivated):
        services.workspace_activate(workspace=workspace, actor=owner)


def test_members_api_calls_get_403_workspace_deactivated(workspace_a, owner, owner_api):
    deactivate(workspace_a, owner)

    response = owner_api.get("/api/v1/contacts", HTTP_X_WORKSPACE_ID=str(workspace_a.pk))

    assert response.status_code == 403
    assert response.json()["code"] == "workspace_deactivated"


def test_members_pages_say_it_is_deactivated_and_their_other_workspace_still_works(
    client, workspace_a, owner
):
    other = WorkspaceFactory(name="Other Practice")
    MembershipFactory(workspace=other, user=owner, role=Membership.Role.OWNER)
    deactivate(workspace_a, owner)
    client.force_login(owner)
    client.post(reverse("workspace-switch"), {"workspace_id": workspace_a.pk})

    blocked = client.get(reverse("dashboard"))
    client.post(reverse("workspace-switch"), {"workspace_id": other.pk})
    other_page = client.get(reverse("dashboard"))

    assert blocked.status_code == 403
    html = blocked.content.decode()
    assert "Alpha Clinic is deactivated" in html
    assert "Unpaid" not in html  # the reason is for the team, not shown to members
    assert other_page.status_code == 200


def test_its_public_pages_and_api_take_nothing(client, anon_api, workspace_a, owner):
    make_live(workspace_a)
    BookingTypeFactory(workspace=workspace_a, name="Massage", slug="massage")
    deactivate(workspace_a, owner)

    page = client.get(reverse("booking-page", args=[workspace_a.slug])).content.decode()
    form = client.get(reverse("contact-form", args=[workspace_a.slug])).content.decode()
    booking = anon_api.post(
        "/api/v1/bookings",
        {
            "workspace": workspace_a.slug,
            "booking_type": "massage",
            "start": SOON.isoformat(),
            "name": "Ann Lee",
            "email": "ann@example.org",
        },
        format="json",
    )

    assert "Not accepting bookings online" in page and "<form" not in page
    assert "Not accepting messages here" in form
    assert booking.status_code == 409
    assert booking.json()["code"] == "workspace_not_live"


def test_nothing_is_sent_to_its_clients_until_it_is_back_then_a_retry_sends(
    workspace_a, owner, stand_in, django_capture_on_commit_callbacks
):
    make_live(workspace_a)
    IntegrationFactory(
        workspace=workspace_a,
        provider="resend",
        channel=Channel.EMAIL,
        from_address="hello@alpha.example",
        credentials={"api_key": "re_key_1234", "api_url": stand_in.url + "/resend/"},
    )
    contact = ContactFactory(workspace=workspace_a, email="dana@example.org")
    conversation = ConversationFactory(contact=contact)
    deactivate(workspace_a, owner)

    with django_capture_on_commit_callbacks(execute=True):
        message = message_send(
            conversation=conversation, body="See you Monday", subject="Visit", channel="email"
        )
    message.refresh_from_db()
    held_requests = len(stand_in.requests_to("/resend/emails"))
    services.workspace_reactivate(workspace=workspace_a, actor=owner)
    with django_capture_on_commit_callbacks(execute=True):
        message_retry(message=message, actor=owner)
    message.refresh_from_db()

    assert held_requests == 0
    assert message.status == Message.Status.SENT
    assert len(stand_in.requests_to("/resend/emails")) == 1


def test_support_deactivates_from_the_admin_with_a_reason_and_it_is_logged(
    admin_client, admin_user, workspace_a
):
    make_live(workspace_a)
    url = reverse("admin:workspaces_workspace_changelist")
    chosen = {"action": "deactivate_selected", "_selected_action": [workspace_a.pk]}

    asked = admin_client.post(url, chosen)
    done = admin_client.post(url, {**chosen, "reason": "Chargeback on the card"})

    assert asked.status_code == 200
    assert "Deactivate workspaces" in asked.content.decode()
    assert done.status_code == 302
    workspace_a.refresh_from_db()
    assert workspace_a.status == Workspace.Status.DEACTIVATED
    assert workspace_a.deactivated_reason == "Chargeback on the card"
    entry = LogEntry.objects.get(object_id=str(workspace_a.pk))
    assert entry.action_flag == CHANGE
    assert entry.user == admin_user
    assert entry.change_message == "Deactivated: Chargeback on the card"

    admin_client.post(url, {"action": "reactivate_selected", "_selected_action": [workspace_a.pk]})
    workspace_a.refresh_from_db()
    assert workspace_a.status == Workspace.Status.ACTIVE


def test_a_deactivated_workspace_without_a_date_is_refused_by_the_database(workspace_a):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Workspace.objects.filter(pk=workspace_a.pk).update(status="deactivated")

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from bookings.models import Booking, BookingStatusChange, CalendarFeed
from bookings.services import booking_set_status
from bookings.tests.factories import (
    AvailabilityOverrideFactory,
    BookingFactory,
    BookingTypeFactory,
    WorkingHoursFactory,
)
from contacts.tests.factories import ContactFactory
from workspaces.models import User
from workspaces.tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = ["bookingtype", "workinghours", "availabilityoverride", "booking", "calendarfeed"]
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def support(client):
    admin = User.objects.create_superuser("support@careops.test", "support-passphrase-1")
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", CHANGELISTS)
@pytest.mark.parametrize("rows", [2, 12])
def test_each_changelist_loads_in_a_constant_number_of_queries(
    support, model, rows, django_assert_max_num_queries
):
    member = MembershipFactory().user  # one user (hashing passwords is slow): rows still join
    for n in range(rows):
        workspace = WorkspaceFactory()
        kind = BookingTypeFactory(workspace=workspace, staff=[member])
        WorkingHoursFactory(workspace=workspace, staff=member)
        AvailabilityOverrideFactory(workspace=workspace, staff=member)
        BookingFactory(
            workspace=workspace,
            booking_type=kind,
            staff=member,
            start=MONDAY_9 + timedelta(days=n),
        )
        CalendarFeed.objects.create(workspace=workspace, staff=member)

    # session, user, count, filtered count, the page (related rows joined), the date
    # hierarchy, and the workspace filter's choices
    with django_assert_max_num_queries(8):
        response = support.get(reverse(f"admin:bookings_{model}_changelist"))

    assert response.status_code == 200


def test_support_finds_bookings_by_the_contacts_email(support, workspace_a):
    ann = BookingFactory(
        workspace=workspace_a,
        contact=ContactFactory(workspace=workspace_a, email="findme@example.org"),
        start=MONDAY_9,
    )
    BookingFactory(workspace=workspace_a, start=MONDAY_9 + timedelta(hours=2))

    response = support.get(reverse("admin:bookings_booking_changelist"), {"q": "findme@"})

    assert [b.pk for b in response.context["cl"].result_list] == [ann.pk]


def test_the_booking_page_shows_its_history_read_only(support, workspace_a, owner):
    booking = BookingFactory(workspace=workspace_a, start=MONDAY_9)
    booking_set_status(booking=booking, status="completed", actor=owner, note="All done")

    response = support.get(reverse("admin:bookings_booking_change", args=[booking.pk]))

    assert response.status_code == 200
    page = response.content.decode()
    assert "All done" in page
    assert 'name="start' not in page  # times move only through the services
    assert booking.manage_nonce not in page


def test_support_cancels_the_selected_bookings_through_the_service(support, workspace_a):
    confirmed = BookingFactory(workspace=workspace_a, start=MONDAY_9)
    completed = BookingFactory(
        workspace=workspace_a, start=MONDAY_9 + timedelta(hours=3), status="completed"
    )

    response = support.post(
        reverse("admin:bookings_booking_changelist"),
        {"action": "cancel_selected", "_selected_action": [confirmed.pk, completed.pk]},
        follow=True,
    )

    assert response.status_code == 200
    confirmed.refresh_from_db()
    completed.refresh_from_db()
    assert (confirmed.status, completed.status) == (Booking.Status.CANCELLED, "completed")
    change = BookingStatusChange.objects.get(booking=confirmed)
    assert (change.to_status, change.note) == ("cancelled", "Cancelled by support")
    page = response.content.decode()
    assert "1 booking(s) cancelled." in page
    assert "1 booking(s) skipped" in page


def test_a_feed_token_is_masked_and_feeds_can_be_revoked(support, workspace_a):
    feed = CalendarFeed.objects.create(workspace=workspace_a)

    listed = support.get(reverse("admin:bookings_calendarfeed_changelist"))
    shown = support.get(reverse("admin:bookings_calendarfeed_change", args=[feed.pk]))
    support.post(
        reverse("admin:bookings_calendarfeed_changelist"),
        {"action": "revoke_selected", "_selected_action": [feed.pk]},
    )

    for response in (listed, shown):
        assert feed.token not in response.content.decode()
        assert feed.token[-4:] in response.content.decode()
    feed.refresh_from_db()
    assert feed.revoked_at is not None


def test_support_cannot_add_rows_that_belong_to_a_workspace(support):
    for model in CHANGELISTS:
        assert support.get(reverse(f"admin:bookings_{model}_add")).status_code == 403

"""The reads pages and the API share: scoped to a workspace, days in its time zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from bookings.models import Booking
from bookings.selectors import (
    booking_get,
    booking_types_for_workspace,
    bookings_for_workspace,
    bookings_today,
    bookings_upcoming,
)
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from careops.errors import NotFound

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 2, 27, 12, tzinfo=UTC)  # Friday; 01:00 Saturday in Auckland


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def test_another_workspaces_booking_is_not_found(workspace_a, workspace_b):
    mine = BookingFactory(workspace=workspace_a, start=NOW + timedelta(days=1))
    theirs = BookingFactory(workspace=workspace_b, start=NOW + timedelta(days=1))

    assert booking_get(workspace=workspace_a, pk=mine.pk) == mine
    for pk in (theirs.pk, "nope", None):
        with pytest.raises(NotFound):
            booking_get(workspace=workspace_a, pk=pk)


def test_the_list_filters_and_joins_in_one_query(
    workspace_a, workspace_b, staff, django_assert_num_queries
):
    booking_type = BookingTypeFactory(workspace=workspace_a)
    first = BookingFactory(
        workspace=workspace_a, booking_type=booking_type, staff=staff, start=NOW + timedelta(days=1)
    )
    second = BookingFactory(
        workspace=workspace_a,
        booking_type=booking_type,
        start=NOW + timedelta(days=2),
        status=Booking.Status.CANCELLED,
    )
    BookingFactory(workspace=workspace_b, start=NOW + timedelta(days=1))

    # 1 query: bookings with type, contact and staff joined
    with django_assert_num_queries(1):
        rows = [
            (b.pk, b.booking_type.name, b.contact.name, b.staff)
            for b in bookings_for_workspace(workspace=workspace_a)
        ]
    assert [pk for pk, *_ in rows] == [first.pk, second.pk]
    assert list(bookings_for_workspace(workspace=workspace_a, status="cancelled")) == [second]
    assert list(bookings_for_workspace(workspace=workspace_a, staff=staff)) == [first]
    assert list(
        bookings_for_workspace(workspace=workspace_a, start_to=NOW + timedelta(days=2))
    ) == [first]
    assert list(
        bookings_for_workspace(workspace=workspace_a, start_from=NOW + timedelta(days=2))
    ) == [second]
    assert list(bookings_for_workspace(workspace=workspace_a, contact=first.contact)) == [first]


def test_today_and_upcoming_are_the_workspaces_days(workspace_a):
    workspace_a.timezone = "Pacific/Auckland"
    workspace_a.save()
    booking_type = BookingTypeFactory(workspace=workspace_a)

    def booking(**kwargs):
        return BookingFactory(workspace=workspace_a, booking_type=booking_type, **kwargs)

    yesterday_there = booking(start=datetime(2026, 2, 27, 9, 30, tzinfo=UTC))  # 22:30 Friday
    earlier_today = booking(start=datetime(2026, 2, 27, 11, tzinfo=UTC))  # 00:00 Saturday
    later_today = booking(start=datetime(2026, 2, 27, 20, tzinfo=UTC))  # 09:00 Saturday
    booking(start=datetime(2026, 2, 27, 21, tzinfo=UTC), status=Booking.Status.CANCELLED)
    tomorrow = booking(start=datetime(2026, 2, 28, 20, tzinfo=UTC))  # 09:00 Sunday
    beyond = booking(start=datetime(2026, 3, 1, 11, tzinfo=UTC))  # 00:00 Monday

    assert list(bookings_today(workspace=workspace_a)) == [earlier_today, later_today]
    assert list(bookings_upcoming(workspace=workspace_a, days=1)) == [later_today, tomorrow]
    assert beyond in bookings_upcoming(workspace=workspace_a, days=2)
    assert yesterday_there not in bookings_upcoming(workspace=workspace_a)


def test_booking_types_by_name_active_only_on_request(workspace_a, workspace_b):
    zeta = BookingTypeFactory(workspace=workspace_a, name="Zeta")
    alpha = BookingTypeFactory(workspace=workspace_a, name="Alpha", is_active=False)
    BookingTypeFactory(workspace=workspace_b, name="Beta")

    assert list(booking_types_for_workspace(workspace=workspace_a)) == [alpha, zeta]
    assert list(booking_types_for_workspace(workspace=workspace_a, active_only=True)) == [zeta]

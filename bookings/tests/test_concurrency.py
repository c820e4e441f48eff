"""No double booking when clients race for one slot: real threads, real PostgreSQL connections,
the exclusion constraint bookings_booking_no_overlap deciding."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from bookings.models import Booking, BookingStatusChange
from bookings.services import SlotUnavailable, booking_create, booking_reschedule
from bookings.tests.factories import BookingTypeFactory, WorkingHoursFactory
from contacts.tests.factories import ContactFactory
from tests.concurrency import race as race_threads
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 2, 27, 12, tzinfo=UTC)
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)
RACERS = 8


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def race(target, count: int = RACERS) -> tuple[list, list[BaseException]]:
    return race_threads(target, count)


def test_of_eight_clients_booking_one_slot_exactly_one_succeeds(workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a)
    contacts = [ContactFactory(workspace=workspace_a) for _ in range(RACERS)]

    results, errors = race(
        lambda i: booking_create(
            workspace=workspace_a,
            booking_type=booking_type,
            contact=contacts[i],
            start=MONDAY_9,
            source=Booking.Source.PUBLIC,
        )
    )

    assert len(results) == 1
    assert len(errors) == RACERS - 1
    assert all(isinstance(error, SlotUnavailable) for error in errors)
    assert Booking.objects.filter(workspace=workspace_a).count() == 1
    assert BookingStatusChange.objects.count() == 1


def test_clients_racing_for_any_staff_fill_each_calendar_once(workspace_a):
    people = [MembershipFactory(workspace=workspace_a).user for _ in range(3)]
    for person in people:
        WorkingHoursFactory(workspace=workspace_a, staff=person, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a, staff=people)
    contacts = [ContactFactory(workspace=workspace_a) for _ in range(RACERS)]

    results, errors = race(
        lambda i: booking_create(
            workspace=workspace_a, booking_type=booking_type, contact=contacts[i], start=MONDAY_9
        )
    )

    assert len(results) == 3, errors
    assert all(isinstance(error, SlotUnavailable) for error in errors)
    assert sorted(b.staff_id for b, _ in results) == sorted(p.pk for p in people)


def test_a_retried_request_racing_itself_makes_one_booking(workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a)
    contact = ContactFactory(workspace=workspace_a)

    results, errors = race(
        lambda i: booking_create(
            workspace=workspace_a,
            booking_type=booking_type,
            contact=contact,
            start=MONDAY_9,
            idempotency_key="retry-me",
        ),
        count=4,
    )

    assert errors == []
    assert len({booking.pk for booking, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, False, False, True]
    assert Booking.objects.filter(workspace=workspace_a).count() == 1


def test_a_reschedule_racing_a_new_booking_for_the_same_slot_lets_one_win(workspace_a):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a)
    contact = ContactFactory(workspace=workspace_a)
    moving, _ = booking_create(
        workspace=workspace_a, booking_type=booking_type, contact=contact, start=MONDAY_9
    )
    target = MONDAY_9.replace(hour=12)

    def act(i: int):
        if i == 0:
            return booking_reschedule(booking=Booking.objects.get(pk=moving.pk), start=target)
        return booking_create(
            workspace=workspace_a, booking_type=booking_type, contact=contact, start=target
        )

    results, errors = race(act, count=2)

    assert len(results) == 1
    assert [type(error) for error in errors] == [SlotUnavailable]
    assert Booking.objects.filter(workspace=workspace_a, start=target).count() == 1

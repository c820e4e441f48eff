"""Booking writes: creating, moving, status changes, the client's signed links."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.core import signing
from django.db import IntegrityError

from bookings.models import STATUS_TRANSITIONS, Booking, BookingStatusChange
from bookings.services import (
    CutoffPassed,
    InvalidTransition,
    SlotUnavailable,
    booking_cancel_by_client,
    booking_create,
    booking_from_manage_token,
    booking_manage_token,
    booking_reschedule,
    booking_reschedule_by_client,
    booking_set_status,
)
from bookings.signals import (
    booking_created,
    booking_rescheduled,
    booking_status_changed,
)
from bookings.tests.factories import BookingFactory, BookingTypeFactory, WorkingHoursFactory
from careops.errors import InvalidInput
from contacts.tests.factories import ContactFactory
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

# Monday 2 March 2026, London = UTC (GMT). "Now" is the Friday before, at noon.
NOW = datetime(2026, 2, 27, 12, tzinfo=UTC)
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def contact(workspace_a):
    return ContactFactory(workspace=workspace_a)


@pytest.fixture
def shared_type(workspace_a):
    """A 60-minute service on the shared calendar, open 09:00-17:00 on weekdays."""
    for weekday in range(5):
        WorkingHoursFactory(workspace=workspace_a, weekday=weekday)
    return BookingTypeFactory(workspace=workspace_a, name="Massage", slug="massage")


def _staff_type(workspace, *people, **fields):
    for person in people:
        for weekday in range(5):
            WorkingHoursFactory(workspace=workspace, staff=person, weekday=weekday)
    return BookingTypeFactory(workspace=workspace, staff=list(people), **fields)


def _book(workspace, booking_type, contact, start=MONDAY_9, **kwargs):
    return booking_create(
        workspace=workspace, booking_type=booking_type, contact=contact, start=start, **kwargs
    )


# --- booking_create ---------------------------------------------------------------------------


def test_a_booking_on_an_offered_slot_is_created_with_history_and_an_event_after_commit(
    workspace_a, shared_type, contact, owner, django_capture_on_commit_callbacks
):
    received = []

    def receiver(sender, booking, **kwargs):
        received.append(booking.pk)

    booking_created.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            booking, created = _book(workspace_a, shared_type, contact, actor=owner)
    finally:
        booking_created.disconnect(receiver)

    assert created is True
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (MONDAY_9, MONDAY_9 + timedelta(hours=1))
    assert booking.staff_id is None
    assert booking.status == Booking.Status.CONFIRMED
    change = BookingStatusChange.objects.get(booking=booking)
    assert (change.from_status, change.to_status, change.actor) == ("", "confirmed", owner)
    assert received == [booking.pk]


def test_buffers_widen_the_blocked_range(workspace_a, contact):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)
    booking_type = BookingTypeFactory(
        workspace=workspace_a, buffer_before_minutes=15, buffer_after_minutes=30
    )

    booking, _ = _book(workspace_a, booking_type, contact, start=MONDAY_9 + timedelta(hours=1))

    assert booking.blocked_start == MONDAY_9 + timedelta(minutes=45)
    assert booking.blocked_end == MONDAY_9 + timedelta(hours=2, minutes=30)


def test_the_same_slot_twice_is_refused_with_slot_unavailable(workspace_a, shared_type, contact):
    _book(workspace_a, shared_type, contact)

    with pytest.raises(SlotUnavailable) as exc_info:
        _book(workspace_a, shared_type, ContactFactory(workspace=workspace_a))
    assert exc_info.value.status_code == 409
    assert Booking.objects.count() == 1


def test_staff_may_book_outside_hours_but_never_over_another_booking(
    workspace_a, shared_type, contact
):
    evening = MONDAY_9 + timedelta(hours=11)  # 20:00, after closing
    with pytest.raises(SlotUnavailable):
        _book(workspace_a, shared_type, contact, start=evening)

    _, created = _book(workspace_a, shared_type, contact, start=evening, enforce_rules=False)
    assert created
    with pytest.raises(SlotUnavailable):
        _book(
            workspace_a,
            shared_type,
            contact,
            start=evening + timedelta(minutes=30),
            enforce_rules=False,
        )


def test_a_start_off_the_slot_grid_is_refused_for_clients(workspace_a, shared_type, contact):
    with pytest.raises(SlotUnavailable):
        _book(workspace_a, shared_type, contact, start=MONDAY_9 + timedelta(minutes=10))


def test_minimum_notice_and_horizon_are_enforced_for_clients(workspace_a, contact):
    for weekday in range(7):
        WorkingHoursFactory(workspace=workspace_a, weekday=weekday, start_time=time(0, 0))
    booking_type = BookingTypeFactory(
        workspace=workspace_a, min_notice_minutes=180, horizon_days=10
    )

    with pytest.raises(InvalidInput) as too_soon:
        _book(workspace_a, booking_type, contact, start=NOW + timedelta(hours=2))
    assert "start" in too_soon.value.fields
    with pytest.raises(InvalidInput) as too_far:
        _book(workspace_a, booking_type, contact, start=NOW + timedelta(days=10, hours=1))
    assert "start" in too_far.value.fields

    booking, _ = _book(workspace_a, booking_type, contact, start=NOW + timedelta(hours=3))
    assert booking.start == NOW + timedelta(hours=3)


def test_a_naive_start_is_invalid_input(workspace_a, shared_type, contact):
    with pytest.raises(InvalidInput) as exc_info:
        _book(workspace_a, shared_type, contact, start=datetime(2026, 3, 2, 9))  # noqa: DTZ001
    assert "start" in exc_info.value.fields


def test_another_workspaces_type_or_contact_is_refused(
    workspace_a, workspace_b, shared_type, contact
):
    other_type = BookingTypeFactory(workspace=workspace_b)
    with pytest.raises(InvalidInput) as wrong_type:
        _book(workspace_a, other_type, contact)
    assert "booking_type" in wrong_type.value.fields

    with pytest.raises(InvalidInput) as wrong_contact:
        _book(workspace_a, shared_type, ContactFactory(workspace=workspace_b))
    assert "contact" in wrong_contact.value.fields


def test_an_inactive_type_cannot_be_booked(workspace_a, shared_type, contact):
    shared_type.is_active = False
    shared_type.save()

    with pytest.raises(InvalidInput) as exc_info:
        _book(workspace_a, shared_type, contact)
    assert "booking_type" in exc_info.value.fields


def test_a_staff_member_who_does_not_deliver_the_type_is_refused(workspace_a, staff, contact):
    other = MembershipFactory(workspace=workspace_a).user
    booking_type = _staff_type(workspace_a, staff)

    with pytest.raises(InvalidInput) as exc_info:
        _book(workspace_a, booking_type, contact, staff=other)
    assert "staff" in exc_info.value.fields


def test_any_staff_picks_the_first_free_one_then_the_next(workspace_a, contact):
    first = MembershipFactory(workspace=workspace_a).user
    second = MembershipFactory(workspace=workspace_a).user
    booking_type = _staff_type(workspace_a, second, first)

    one, _ = _book(workspace_a, booking_type, contact)
    two, _ = _book(workspace_a, booking_type, ContactFactory(workspace=workspace_a))

    assert (one.staff, two.staff) == (first, second)
    with pytest.raises(SlotUnavailable):
        _book(workspace_a, booking_type, ContactFactory(workspace=workspace_a))


def test_the_chosen_staff_member_busy_is_slot_unavailable_even_if_another_is_free(
    workspace_a, contact
):
    first = MembershipFactory(workspace=workspace_a).user
    second = MembershipFactory(workspace=workspace_a).user
    booking_type = _staff_type(workspace_a, first, second)
    _book(workspace_a, booking_type, contact, staff=first)

    with pytest.raises(SlotUnavailable):
        _book(workspace_a, booking_type, contact, staff=first)
    booking, _ = _book(workspace_a, booking_type, contact, staff=second)
    assert booking.staff == second


def test_an_idempotency_key_replayed_returns_the_same_booking(workspace_a, shared_type, contact):
    booking, created = _book(workspace_a, shared_type, contact, idempotency_key="abc-123")
    again, created_again = _book(workspace_a, shared_type, contact, idempotency_key="abc-123")

    assert (created, created_again) == (True, False)
    assert again.pk == booking.pk
    assert Booking.objects.count() == 1


def test_the_same_idempotency_key_in_another_workspace_is_another_booking(
    workspace_a, workspace_b, shared_type, contact
):
    _book(workspace_a, shared_type, contact, idempotency_key="abc-123")
    WorkingHoursFactory(workspace=workspace_b, weekday=0)
    other_type = BookingTypeFactory(workspace=workspace_b)

    _, created = _book(
        workspace_b,
        other_type,
        ContactFactory(workspace=workspace_b),
        idempotency_key="abc-123",
    )
    assert created


# --- The database constraint -------------------------------------------------------------------


def test_the_database_refuses_an_overlapping_active_booking(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)

    with pytest.raises(IntegrityError, match="bookings_booking_no_overlap"):
        BookingFactory(
            workspace=workspace_a,
            booking_type=shared_type,
            contact=contact,
            start=booking.start + timedelta(minutes=30),
        )


def test_a_cancelled_booking_may_overlap(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)
    BookingFactory(
        workspace=workspace_a,
        booking_type=shared_type,
        contact=contact,
        start=booking.start,
        status=Booking.Status.CANCELLED,
    )
    booking_set_status(booking=booking, status=Booking.Status.CANCELLED)

    again, created = _book(workspace_a, shared_type, ContactFactory(workspace=workspace_a))
    assert created and again.start == booking.start


def test_buffers_are_part_of_the_constraint(workspace_a, contact):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a, buffer_after_minutes=15)
    booking, _ = _book(workspace_a, booking_type, contact)

    with pytest.raises(IntegrityError):
        BookingFactory(
            workspace=workspace_a,
            booking_type=booking_type,
            contact=contact,
            start=booking.end + timedelta(minutes=10),
        )


# --- booking_set_status ------------------------------------------------------------------------

ALLOWED = [(src, dst) for src, targets in STATUS_TRANSITIONS.items() for dst in targets]
REFUSED = [
    ("pending", "completed"),
    ("pending", "no_show"),
    ("confirmed", "pending"),
    ("confirmed", "confirmed"),
    ("cancelled", "confirmed"),
    ("completed", "cancelled"),
    ("no_show", "confirmed"),
]


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_every_allowed_transition_is_made_and_recorded(
    workspace_a, shared_type, contact, owner, from_status, to_status
):
    booking = BookingFactory(
        workspace=workspace_a,
        booking_type=shared_type,
        contact=contact,
        start=MONDAY_9,
        status=from_status,
    )
    seen = []

    def receiver(sender, booking, previous, **kwargs):
        seen.append((previous, booking.status))

    booking_status_changed.connect(receiver)
    try:
        booking_set_status(booking=booking, status=to_status, actor=owner, note="why")
    finally:
        booking_status_changed.disconnect(receiver)

    booking.refresh_from_db()
    assert booking.status == to_status
    assert booking.status_changed_by == owner
    assert booking.status_changed_at == NOW
    change = booking.history.get()
    assert (change.from_status, change.to_status, change.note) == (from_status, to_status, "why")


def test_a_receiver_failing_inside_the_status_transaction_rolls_the_change_back(
    workspace_a, shared_type, contact, owner
):
    booking = BookingFactory(
        workspace=workspace_a, booking_type=shared_type, contact=contact, start=MONDAY_9
    )

    def receiver(sender, booking, previous, **kwargs):
        raise RuntimeError("the stock could not be recorded")

    booking_status_changed.connect(receiver)
    try:
        with pytest.raises(RuntimeError):
            booking_set_status(booking=booking, status="completed", actor=owner)
    finally:
        booking_status_changed.disconnect(receiver)

    booking.refresh_from_db()
    assert booking.status == "confirmed"
    assert not booking.history.exists()


@pytest.mark.parametrize(("from_status", "to_status"), REFUSED)
def test_a_refused_transition_lists_the_allowed_ones(
    workspace_a, shared_type, contact, from_status, to_status
):
    booking = BookingFactory(
        workspace=workspace_a,
        booking_type=shared_type,
        contact=contact,
        start=MONDAY_9,
        status=from_status,
    )

    with pytest.raises(InvalidTransition) as exc_info:
        booking_set_status(booking=booking, status=to_status)

    assert exc_info.value.status_code == 409
    assert exc_info.value.extra == {"allowed": list(STATUS_TRANSITIONS[from_status])}
    booking.refresh_from_db()
    assert booking.status == from_status
    assert not booking.history.exists()


def test_an_unknown_status_is_invalid_input(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)
    with pytest.raises(InvalidInput):
        booking_set_status(booking=booking, status="archived")


# --- booking_reschedule ------------------------------------------------------------------------


def test_rescheduling_moves_the_booking_counts_and_tells_the_old_start(
    workspace_a, shared_type, contact, owner, django_capture_on_commit_callbacks
):
    booking, _ = _book(workspace_a, shared_type, contact)
    seen = []

    def receiver(sender, booking, previous_start, **kwargs):
        seen.append((booking.start, previous_start))

    new_start = MONDAY_9 + timedelta(hours=2)
    booking_rescheduled.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            moved = booking_reschedule(booking=booking, start=new_start, actor=owner)
    finally:
        booking_rescheduled.disconnect(receiver)

    assert moved is booking
    booking.refresh_from_db()
    assert (booking.start, booking.end) == (new_start, new_start + timedelta(hours=1))
    assert booking.reschedule_count == 1
    assert seen == [(new_start, MONDAY_9)]
    assert booking.history.filter(note__startswith="rescheduled from").count() == 1


def test_rescheduling_into_its_own_time_overlapping_itself_is_fine(workspace_a, contact):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a, slot_interval_minutes=30)
    booking, _ = _book(workspace_a, booking_type, contact)

    booking_reschedule(booking=booking, start=MONDAY_9 + timedelta(minutes=30))

    booking.refresh_from_db()
    assert booking.start == MONDAY_9 + timedelta(minutes=30)


def test_rescheduling_over_another_booking_is_refused(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)
    _book(workspace_a, shared_type, contact, start=MONDAY_9 + timedelta(hours=2))

    with pytest.raises(SlotUnavailable):
        booking_reschedule(booking=booking, start=MONDAY_9 + timedelta(hours=2))
    with pytest.raises(SlotUnavailable):
        booking_reschedule(
            booking=booking, start=MONDAY_9 + timedelta(hours=2, minutes=30), enforce_rules=False
        )
    booking.refresh_from_db()
    assert booking.start == MONDAY_9
    assert booking.reschedule_count == 0


def test_a_cancelled_booking_cannot_be_rescheduled(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)
    booking_set_status(booking=booking, status=Booking.Status.CANCELLED)

    with pytest.raises(InvalidTransition):
        booking_reschedule(booking=booking, start=MONDAY_9 + timedelta(hours=2))


def test_rescheduling_to_another_staff_member(workspace_a, contact):
    first = MembershipFactory(workspace=workspace_a).user
    second = MembershipFactory(workspace=workspace_a).user
    booking_type = _staff_type(workspace_a, first, second)
    booking, _ = _book(workspace_a, booking_type, contact, staff=first)

    booking_reschedule(booking=booking, start=MONDAY_9, staff=second)

    booking.refresh_from_db()
    assert booking.staff == second


# --- The client's signed links -------------------------------------------------------------------


def test_a_manage_token_names_its_booking(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)

    assert booking_from_manage_token(booking_manage_token(booking)).pk == booking.pk


@pytest.mark.parametrize("token", ["", "garbage", "a:b:c"])
def test_a_forged_token_is_not_valid(token):
    with pytest.raises(InvalidInput) as exc_info:
        booking_from_manage_token(token)
    assert exc_info.value.fields == {"token": ["This link is not valid."]}


def test_a_new_nonce_revokes_the_old_links(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)
    token = booking_manage_token(booking)
    Booking.objects.filter(pk=booking.pk).update(manage_nonce="fresh")

    with pytest.raises(InvalidInput):
        booking_from_manage_token(token)


def test_a_token_signed_for_something_else_is_not_valid(workspace_a, shared_type, contact):
    booking, _ = _book(workspace_a, shared_type, contact)
    token = signing.dumps({"b": booking.pk, "n": booking.manage_nonce}, salt="other")

    with pytest.raises(InvalidInput):
        booking_from_manage_token(token)


def test_the_client_cancels_before_the_cutoff(workspace_a, shared_type, contact, frozen):
    booking, _ = _book(workspace_a, shared_type, contact)  # cutoffs: 24 hours
    frozen.move_to(MONDAY_9 - timedelta(hours=24))

    booking_cancel_by_client(booking=booking, reason="Ill")

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    change = booking.history.latest("created_at")
    assert change.actor is None
    assert change.note == "cancelled by client: Ill"


def test_the_client_cannot_cancel_past_the_cutoff(workspace_a, shared_type, contact, frozen):
    booking, _ = _book(workspace_a, shared_type, contact)
    frozen.move_to(MONDAY_9 - timedelta(hours=24) + timedelta(seconds=1))

    with pytest.raises(CutoffPassed):
        booking_cancel_by_client(booking=booking)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED


def test_the_client_reschedules_before_the_cutoff_onto_an_offered_slot(
    workspace_a, shared_type, contact, frozen
):
    booking, _ = _book(workspace_a, shared_type, contact)
    frozen.move_to(MONDAY_9 - timedelta(hours=25))

    with pytest.raises(SlotUnavailable):
        booking_reschedule_by_client(booking=booking, start=MONDAY_9 + timedelta(hours=10))
    booking_reschedule_by_client(booking=booking, start=MONDAY_9 + timedelta(hours=3))

    booking.refresh_from_db()
    assert booking.start == MONDAY_9 + timedelta(hours=3)


def test_the_client_cannot_reschedule_past_the_cutoff(workspace_a, contact, frozen):
    WorkingHoursFactory(workspace=workspace_a, weekday=0)
    booking_type = BookingTypeFactory(workspace=workspace_a, reschedule_cutoff_hours=48)
    booking, _ = _book(workspace_a, booking_type, contact)
    frozen.move_to(MONDAY_9 - timedelta(hours=47))

    with pytest.raises(CutoffPassed):
        booking_reschedule_by_client(booking=booking, start=MONDAY_9 + timedelta(hours=3))


def test_the_client_keeps_their_staff_member_when_free_else_gets_another(workspace_a, contact):
    first = MembershipFactory(workspace=workspace_a).user
    second = MembershipFactory(workspace=workspace_a).user
    booking_type = _staff_type(workspace_a, first, second)
    booking, _ = _book(workspace_a, booking_type, contact, staff=second)

    booking_reschedule_by_client(booking=booking, start=MONDAY_9 + timedelta(hours=1))
    booking.refresh_from_db()
    assert booking.staff == second

    _book(
        workspace_a,
        booking_type,
        ContactFactory(workspace=workspace_a),
        staff=second,
        start=MONDAY_9 + timedelta(hours=3),
    )
    booking_reschedule_by_client(booking=booking, start=MONDAY_9 + timedelta(hours=3))
    booking.refresh_from_db()
    assert booking.staff == first


def test_booking_with_any_of_many_staff_takes_a_constant_number_of_queries(
    workspace_a, contact, django_assert_max_num_queries
):
    people = [MembershipFactory(workspace=workspace_a).user for _ in range(6)]
    booking_type = _staff_type(workspace_a, *people)
    for person in people[:5]:
        _book(workspace_a, booking_type, ContactFactory(workspace=workspace_a), staff=person)

    # 11 queries: the transaction's savepoint; the type's staff, working hours, overrides,
    # bookings; the insert's savepoint, insert, release; the history row; the automation
    # event; release
    with django_assert_max_num_queries(11):
        booking, _ = _book(workspace_a, booking_type, contact)
    assert booking.staff == people[5]

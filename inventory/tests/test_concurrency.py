"""Stock under concurrent usage: real threads, each on its own PostgreSQL connection, the F()
UPDATE and the never-negative check constraint deciding."""

from __future__ import annotations

import pytest

from bookings.tests.factories import BookingFactory, BookingTypeFactory
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from inventory.services import InsufficientStock, booking_consume, stock_move
from inventory.signals import stock_low
from inventory.tests.factories import InventoryItemFactory
from tests.concurrency import race

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 8
Kind = InventoryUsage.Kind


def test_parallel_usages_leave_exactly_the_initial_stock_minus_each_one(workspace_a):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=50, low_stock_threshold=0)

    results, errors = race(
        lambda i: stock_move(
            item=InventoryItem.objects.get(pk=item.pk), kind=Kind.USAGE, quantity=1
        ),
        RACERS,
    )

    assert errors == []
    assert len(results) == RACERS
    assert InventoryItem.objects.get(pk=item.pk).quantity_on_hand == 50 - RACERS
    balances = sorted(
        InventoryUsage.objects.filter(item=item).values_list("balance_after", flat=True)
    )
    assert balances == list(range(50 - RACERS, 50))  # each saw its own, distinct result


def test_parallel_usages_of_the_last_units_never_take_stock_below_zero(workspace_a):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=3, low_stock_threshold=0)

    results, errors = race(
        lambda i: stock_move(
            item=InventoryItem.objects.get(pk=item.pk), kind=Kind.USAGE, quantity=1
        ),
        RACERS,
    )

    assert len(results) == 3
    assert len(errors) == RACERS - 3
    assert all(isinstance(error, InsufficientStock) for error in errors)
    assert InventoryItem.objects.get(pk=item.pk).quantity_on_hand == 0
    assert InventoryUsage.objects.filter(item=item).count() == 3


def test_parallel_usages_crossing_the_threshold_raise_one_low_stock_event(workspace_a):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=10, low_stock_threshold=5)
    events: list[int] = []
    stock_low.connect(
        lambda sender, item, **kw: events.append(item.pk), weak=False, dispatch_uid="t"
    )
    try:
        _, errors = race(
            lambda i: stock_move(
                item=InventoryItem.objects.get(pk=item.pk), kind=Kind.USAGE, quantity=1
            ),
            RACERS,
        )
    finally:
        stock_low.disconnect(dispatch_uid="t")

    assert errors == []
    assert events == [item.pk]
    assert InventoryItem.objects.get(pk=item.pk).quantity_on_hand == 10 - RACERS


def test_a_booking_consumed_by_racing_completions_uses_its_stock_once(workspace_a):

    facial = BookingTypeFactory(workspace=workspace_a)
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=20, low_stock_threshold=0)
    BookingTypeConsumption.objects.create(
        workspace=workspace_a, booking_type=facial, item=item, quantity=2
    )
    booking = BookingFactory(workspace=workspace_a, booking_type=facial)

    # Past the status lock that normally serializes completions: the unique index decides.
    _, errors = race(lambda i: booking_consume(booking=booking), 4)

    assert errors == []
    assert InventoryItem.objects.get(pk=item.pk).quantity_on_hand == 18
    assert InventoryUsage.objects.filter(booking=booking).count() == 1

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F, Sum

from bookings.models import Booking
from bookings.services import InvalidTransition, booking_set_status
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from careops.errors import Forbidden, InvalidInput
from inventory import services
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from inventory.services import InsufficientStock, stock_move
from inventory.signals import stock_low
from inventory.tests.factories import InventoryItemFactory

pytestmark = pytest.mark.django_db

Kind = InventoryUsage.Kind
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.fixture
def low_events():
    """The items stock_low was raised for, in order."""
    events: list[int] = []

    def record(sender, item, **kwargs):
        events.append(item.pk)

    stock_low.connect(record, dispatch_uid="test.low_events")
    yield events
    stock_low.disconnect(dispatch_uid="test.low_events")


def stored(item: InventoryItem) -> InventoryItem:
    return InventoryItem.objects.get(pk=item.pk)


# --- Items ------------------------------------------------------------------------------------


def test_a_new_items_opening_stock_is_its_first_restock(workspace_a, owner):
    item = services.item_create(
        workspace=workspace_a, actor=owner, name="Gloves", sku="GL-1", quantity_on_hand=12
    )

    (opening,) = item.history.all()
    assert (opening.kind, opening.change, opening.balance_after) == (Kind.RESTOCK, 12, 12)
    assert opening.actor == owner
    assert stored(item).quantity_on_hand == 12


def test_the_sku_is_unique_in_the_workspace_whatever_its_case(workspace_a, workspace_b, owner):
    services.item_create(workspace=workspace_a, actor=owner, name="Gloves", sku="gl-1")

    with pytest.raises(InvalidInput) as refused:
        services.item_create(workspace=workspace_a, actor=owner, name="Other", sku="GL-1")

    assert "sku" in refused.value.fields
    services.item_create(workspace=workspace_b, actor=owner, name="Gloves", sku="GL-1")


def test_items_may_share_an_empty_sku(workspace_a, owner):
    services.item_create(workspace=workspace_a, actor=owner, name="Gloves")
    services.item_create(workspace=workspace_a, actor=owner, name="Masks")

    assert InventoryItem.objects.filter(workspace=workspace_a, sku="").count() == 2


def test_an_items_quantity_is_not_edited_directly(workspace_a, owner):
    item = InventoryItemFactory(workspace=workspace_a)

    with pytest.raises(InvalidInput) as refused:
        services.item_update(item=item, actor=owner, quantity_on_hand=99)

    assert "quantity_on_hand" in refused.value.fields


@pytest.mark.parametrize("bad", [-1, 2**31, 1.5, "3", True])
def test_bad_quantities_are_refused_with_the_fields_name(workspace_a, owner, bad):
    item = InventoryItemFactory(workspace=workspace_a)

    with pytest.raises(InvalidInput) as refused:
        stock_move(item=item, kind=Kind.USAGE, quantity=bad, actor=owner)

    assert "quantity" in refused.value.fields
    assert stored(item).quantity_on_hand == 10


# --- Stock moves ------------------------------------------------------------------------------


def test_usage_takes_from_stock_and_records_the_balance(workspace_a, owner):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=10)

    usage = stock_move(item=item, kind=Kind.USAGE, quantity=3, actor=owner, note="Room 2")

    assert (usage.change, usage.balance_after, usage.shortfall) == (-3, 7, 0)
    assert item.quantity_on_hand == 7
    assert stored(item).quantity_on_hand == 7


def test_usage_beyond_stock_is_refused_and_changes_nothing(workspace_a, owner):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=2)

    with pytest.raises(InsufficientStock) as refused:
        stock_move(item=item, kind=Kind.USAGE, quantity=3, actor=owner)

    assert refused.value.extra == {"quantity_on_hand": 2}
    assert stored(item).quantity_on_hand == 2
    assert not item.history.exists()


def test_an_allowed_shortfall_stops_stock_at_zero_and_records_what_was_missing(workspace_a, owner):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=2)

    usage = stock_move(item=item, kind=Kind.USAGE, quantity=5, actor=owner, allow_shortfall=True)

    assert (usage.quantity, usage.change, usage.balance_after, usage.shortfall) == (5, -2, 0, 3)
    assert stored(item).quantity_on_hand == 0


def test_a_correction_records_the_difference_from_the_count(workspace_a, owner):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=10)

    down = stock_move(item=item, kind=Kind.CORRECTION, quantity=7, actor=owner)
    up = stock_move(item=item, kind=Kind.CORRECTION, quantity=9, actor=owner)

    assert (down.change, down.quantity, down.balance_after) == (-3, 3, 7)
    assert (up.change, up.quantity, up.balance_after) == (2, 2, 9)
    assert stored(item).quantity_on_hand == 9


def test_the_ledger_adds_up_to_the_quantity_on_hand_after_a_mix_of_moves(workspace_a, owner):
    item = services.item_create(
        workspace=workspace_a, actor=owner, name="Gloves", quantity_on_hand=20
    )
    stock_move(item=item, kind=Kind.USAGE, quantity=4, actor=owner)
    stock_move(item=item, kind=Kind.RESTOCK, quantity=10, actor=owner)
    stock_move(item=item, kind=Kind.CORRECTION, quantity=23, actor=owner)
    stock_move(item=item, kind=Kind.USAGE, quantity=30, actor=owner, allow_shortfall=True)
    stock_move(item=item, kind=Kind.RESTOCK, quantity=6, actor=owner)

    total = item.history.aggregate(total=Sum("change"))["total"]
    latest = item.history.order_by("-created_at", "-pk").first()
    assert total == stored(item).quantity_on_hand == latest.balance_after == 6


def test_a_restock_beyond_the_integer_range_is_refused(workspace_a, owner):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=2**31 - 5)

    with pytest.raises(InvalidInput) as refused:
        stock_move(item=item, kind=Kind.RESTOCK, quantity=10, actor=owner)

    assert "quantity" in refused.value.fields
    assert stored(item).quantity_on_hand == 2**31 - 5


# --- The low-stock event ----------------------------------------------------------------------


def test_stock_low_fires_once_on_the_crossing_not_again_while_low(workspace_a, owner, low_events):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=5, low_stock_threshold=3)

    stock_move(item=item, kind=Kind.USAGE, quantity=1, actor=owner)  # 4: above
    stock_move(item=item, kind=Kind.USAGE, quantity=1, actor=owner)  # 3: at the threshold
    stock_move(item=item, kind=Kind.USAGE, quantity=1, actor=owner)  # 2: still low

    assert low_events == [item.pk]
    assert stored(item).low_since is not None


def test_a_restock_above_the_threshold_rearms_the_event(workspace_a, owner, low_events):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=4, low_stock_threshold=3)
    stock_move(item=item, kind=Kind.USAGE, quantity=2, actor=owner)

    stock_move(item=item, kind=Kind.RESTOCK, quantity=1, actor=owner)  # 3: still low
    assert low_events == [item.pk]
    stock_move(item=item, kind=Kind.RESTOCK, quantity=5, actor=owner)  # 8: re-armed
    assert stored(item).low_since is None
    stock_move(item=item, kind=Kind.USAGE, quantity=6, actor=owner)  # 2: low again

    assert low_events == [item.pk, item.pk]


def test_raising_the_threshold_above_the_stock_makes_the_item_low(workspace_a, owner, low_events):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=5, low_stock_threshold=2)

    services.item_update(item=item, actor=owner, low_stock_threshold=5)
    services.item_update(item=item, actor=owner, name="Nitrile gloves")

    assert low_events == [item.pk]
    assert stored(item).low_since is not None


def test_lowering_the_threshold_below_the_stock_rearms_without_an_event(
    workspace_a, owner, low_events
):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=2, low_stock_threshold=2)

    services.item_update(item=item, actor=owner, low_stock_threshold=1)

    assert low_events == []
    assert stored(item).low_since is None


def test_a_new_item_at_its_threshold_is_low_without_an_event(workspace_a, owner, low_events):
    item = services.item_create(
        workspace=workspace_a, actor=owner, name="Masks", quantity_on_hand=1, low_stock_threshold=2
    )

    assert stored(item).low_since is not None
    assert low_events == []


# --- Bookings consume -------------------------------------------------------------------------


@pytest.fixture
def facial(workspace_a):
    booking_type = BookingTypeFactory(workspace=workspace_a, name="Facial")
    gloves = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=10)
    masks = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=1, low_stock_threshold=0)
    BookingTypeConsumption.objects.create(
        workspace=workspace_a, booking_type=booking_type, item=gloves, quantity=2
    )
    BookingTypeConsumption.objects.create(
        workspace=workspace_a, booking_type=booking_type, item=masks, quantity=3
    )
    booking = BookingFactory(workspace=workspace_a, booking_type=booking_type, start=MONDAY_9)
    return booking, gloves, masks


def test_completing_a_booking_uses_what_its_service_consumes(facial, owner):
    booking, gloves, masks = facial

    booking_set_status(booking=booking, status=Booking.Status.COMPLETED, actor=owner)

    assert stored(gloves).quantity_on_hand == 8
    # The service was delivered: what was missing is noted, stock stops at zero.
    assert stored(masks).quantity_on_hand == 0
    usage = masks.history.get()
    assert (usage.kind, usage.booking, usage.shortfall, usage.actor) == (
        Kind.BOOKING,
        booking,
        2,
        owner,
    )


def test_a_second_completion_attempt_changes_nothing(facial, owner):
    booking, gloves, _ = facial
    booking_set_status(booking=booking, status=Booking.Status.COMPLETED, actor=owner)

    with pytest.raises(InvalidTransition):
        booking_set_status(booking=booking, status=Booking.Status.COMPLETED, actor=owner)
    assert services.booking_consume(booking=booking, actor=owner) == []

    assert stored(gloves).quantity_on_hand == 8
    assert InventoryUsage.objects.filter(booking=booking).count() == 2


def test_a_cancelled_booking_consumes_nothing(facial, owner):
    booking, gloves, _ = facial

    booking_set_status(booking=booking, status=Booking.Status.CANCELLED, actor=owner)

    assert stored(gloves).quantity_on_hand == 10
    assert not InventoryUsage.objects.exists()


def test_a_consumption_of_zero_removes_it(workspace_a, owner):
    booking_type = BookingTypeFactory(workspace=workspace_a)
    item = InventoryItemFactory(workspace=workspace_a)
    services.consumption_set(booking_type=booking_type, item=item, quantity=2, actor=owner)
    services.consumption_set(booking_type=booking_type, item=item, quantity=3, actor=owner)
    assert BookingTypeConsumption.objects.get().quantity == 3

    services.consumption_set(booking_type=booking_type, item=item, quantity=0, actor=owner)

    assert not BookingTypeConsumption.objects.exists()


def test_a_service_of_another_workspace_cannot_consume_an_item(workspace_a, workspace_b, owner):
    item = InventoryItemFactory(workspace=workspace_a)
    theirs = BookingTypeFactory(workspace=workspace_b)

    with pytest.raises(InvalidInput):
        services.consumption_set(booking_type=theirs, item=item, quantity=1, actor=owner)


def test_the_database_itself_refuses_a_negative_stock(workspace_a):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=1)

    with pytest.raises(IntegrityError), transaction.atomic():
        InventoryItem.objects.filter(pk=item.pk).update(quantity_on_hand=F("quantity_on_hand") - 2)

    assert stored(item).quantity_on_hand == 1


# --- Review fixes -------------------------------------------------------------------------------


def test_an_inactive_item_falling_low_raises_no_event_but_is_low(workspace_a, owner, low_events):
    item = InventoryItemFactory(
        workspace=workspace_a, quantity_on_hand=5, low_stock_threshold=2, is_active=False
    )

    stock_move(item=item, kind=Kind.USAGE, quantity=4, actor=owner)

    assert low_events == []
    assert stored(item).low_since is not None


@pytest.mark.owner_role
def test_the_sku_check_uses_the_lower_case_unique_index(workspace_a, owner):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    # Enough of the workspace's items that only the SKU index finds one cheaply: with a
    # handful, the (workspace, name) index costs the planner the same and it may take either.
    InventoryItem.objects.bulk_create(
        InventoryItem(workspace=workspace_a, name=f"Item {n}", sku=f"SKU-{n}") for n in range(300)
    )
    with CaptureQueriesContext(connection) as queries:
        services.sku_check(workspace_a, "Gl-1")
    (check,) = [q["sql"] for q in queries.captured_queries if "LOWER(" in q["sql"]]
    assert "UPPER(" not in check

    with connection.cursor() as cursor:
        # Fresh statistics: rows earlier tests left behind (or their absence) must not steer
        # the planner to another index of the table.
        cursor.execute("ANALYZE inventory_inventoryitem")
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {check}")
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "inventory_inventoryitem_unique_sku" in plan


def test_only_an_owner_may_allow_a_shortfall_whoever_calls(workspace_a, owner, staff):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=3)

    with pytest.raises(Forbidden):
        stock_move(item=item, kind=Kind.USAGE, quantity=5, actor=staff, allow_shortfall=True)
    with pytest.raises(Forbidden):
        stock_move(item=item, kind=Kind.USAGE, quantity=5, actor=None, allow_shortfall=True)
    assert stored(item).quantity_on_hand == 3

    usage = stock_move(item=item, kind=Kind.USAGE, quantity=5, actor=owner, allow_shortfall=True)
    assert (usage.shortfall, stored(item).quantity_on_hand) == (2, 0)


def test_an_owner_of_another_workspace_may_not_allow_a_shortfall(workspace_a, outsider):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=3)

    with pytest.raises(Forbidden):
        stock_move(item=item, kind=Kind.USAGE, quantity=5, actor=outsider, allow_shortfall=True)

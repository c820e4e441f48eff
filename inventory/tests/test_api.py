from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bookings.tests.factories import BookingFactory, BookingTypeFactory
from inventory import services
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from inventory.services import stock_move
from inventory.signals import stock_low
from inventory.tests.factories import InventoryItemFactory

pytestmark = pytest.mark.django_db

Kind = InventoryUsage.Kind
MONDAY_9 = datetime(2026, 3, 2, 9, tzinfo=UTC)


def stored(item: InventoryItem) -> InventoryItem:
    return InventoryItem.objects.get(pk=item.pk)


@pytest.fixture
def gloves(workspace_a):
    return InventoryItemFactory(
        workspace=workspace_a, name="Gloves", sku="GL-1", quantity_on_hand=10, low_stock_threshold=3
    )


def usage(api, item, quantity, **extra):
    return api.post(
        "/api/v1/inventory/usage", {"item": item.pk, "quantity": quantity, **extra}, format="json"
    )


# --- Items ------------------------------------------------------------------------------------


def test_staff_add_an_item_with_its_opening_stock(staff_api, workspace_a):
    response = staff_api.post(
        "/api/v1/inventory",
        {"name": "Gloves", "sku": "GL-1", "unit": "box", "quantity_on_hand": 12},
        format="json",
    )

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["name"], body["quantity_on_hand"], body["is_low"]) == ("Gloves", 12, False)
    item = InventoryItem.objects.get(workspace=workspace_a)
    assert item.history.get().change == 12


def test_a_taken_sku_in_another_case_is_a_clear_400(owner_api, gloves):
    response = owner_api.post(
        "/api/v1/inventory", {"name": "More gloves", "sku": "gl-1"}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["fields"]["sku"][0]["message"].startswith("Another item")


def test_a_sku_race_lost_to_the_unique_index_is_a_400_not_a_500(
    owner_api, owner, workspace_a, monkeypatch
):
    services.item_create(workspace=workspace_a, actor=owner, name="Gloves", sku="GL-1")
    # As if the other insert landed after this request's check: only the unique index sees it.
    monkeypatch.setattr(services, "sku_check", lambda *args, **kwargs: None)

    response = owner_api.post("/api/v1/inventory", {"name": "Other", "sku": "gl-1"}, format="json")

    assert response.status_code == 400
    assert "sku" in response.json()["fields"]
    assert InventoryItem.objects.count() == 1


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quantity_on_hand", -1),
        ("quantity_on_hand", 2**31),
        ("quantity_on_hand", "lots"),
        ("low_stock_threshold", 1.5),
        ("name", ""),
    ],
)
def test_bad_item_input_is_a_400_naming_the_field(owner_api, field, value):
    response = owner_api.post("/api/v1/inventory", {"name": "Gloves", field: value}, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]
    assert not InventoryItem.objects.exists()


def test_the_list_searches_name_and_sku_and_filters_active(owner_api, workspace_a, gloves):
    InventoryItemFactory(workspace=workspace_a, name="Masks", sku="MK-9", is_active=False)

    by_sku = owner_api.get("/api/v1/inventory", {"q": "mk-"}).json()
    active = owner_api.get("/api/v1/inventory", {"active": "true"}).json()

    assert [item["name"] for item in by_sku["results"]] == ["Masks"]
    assert [item["name"] for item in active["results"]] == ["Gloves"]


@pytest.mark.parametrize("items", [3, 30])
def test_the_list_takes_a_constant_number_of_queries(
    owner_api, workspace_a, items, django_assert_max_num_queries
):
    InventoryItemFactory.create_batch(items, workspace=workspace_a)

    # 5 queries: the token's user, the workspace membership, the count, the page of items,
    # the page's stock forecast
    with django_assert_max_num_queries(5):
        response = owner_api.get("/api/v1/inventory")

    assert response.status_code == 200
    assert response.json()["count"] == items


@pytest.mark.parametrize("items", [3, 30])
def test_the_low_stock_list_takes_a_constant_number_of_queries(
    owner_api, workspace_a, items, django_assert_max_num_queries
):
    InventoryItemFactory.create_batch(
        items, workspace=workspace_a, quantity_on_hand=1, low_stock_threshold=5
    )

    # 5 queries: the token's user, the workspace membership, the count, the page of items,
    # the page's stock forecast
    with django_assert_max_num_queries(5):
        response = owner_api.get("/api/v1/inventory/low-stock")

    assert response.status_code == 200
    assert response.json()["count"] == items


def test_the_low_stock_list_shows_active_items_at_or_below_their_threshold(
    owner_api, workspace_a, gloves
):
    InventoryItemFactory(workspace=workspace_a, name="Masks", quantity_on_hand=2)
    InventoryItemFactory(workspace=workspace_a, name="Old", quantity_on_hand=0, is_active=False)

    response = owner_api.get("/api/v1/inventory/low-stock")

    assert response.status_code == 200
    assert [item["name"] for item in response.json()["results"]] == ["Masks"]


def test_patching_the_threshold_above_the_stock_makes_the_item_low(owner_api, gloves):
    events = []
    stock_low.connect(
        lambda sender, item, **kw: events.append(item.pk), weak=False, dispatch_uid="t"
    )
    try:
        response = owner_api.patch(
            f"/api/v1/inventory/{gloves.pk}", {"low_stock_threshold": 10}, format="json"
        )
    finally:
        stock_low.disconnect(dispatch_uid="t")

    assert response.status_code == 200
    assert response.json()["is_low"] is True
    assert events == [gloves.pk]


def test_patching_the_quantity_is_refused(owner_api, gloves):
    response = owner_api.patch(
        f"/api/v1/inventory/{gloves.pk}", {"quantity_on_hand": 99}, format="json"
    )

    assert response.status_code == 400
    assert "quantity_on_hand" in response.json()["fields"]
    assert stored(gloves).quantity_on_hand == 10


# --- Stock moves ------------------------------------------------------------------------------


def test_staff_record_a_usage_and_see_the_new_stock(staff_api, staff, gloves):
    response = usage(staff_api, gloves, 4, note="Room 2")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["usage"]["change"] == -4
    assert body["usage"]["actor"]["id"] == staff.pk
    assert body["item"]["quantity_on_hand"] == 6
    assert stored(gloves).quantity_on_hand == 6


def test_a_usage_can_name_a_booking_of_the_workspace(owner_api, workspace_a, workspace_b, gloves):
    ours = BookingFactory(workspace=workspace_a, start=MONDAY_9)
    theirs = BookingFactory(workspace=workspace_b, start=MONDAY_9)

    assert usage(owner_api, gloves, 1, booking=ours.pk).status_code == 201
    refused = usage(owner_api, gloves, 1, booking=theirs.pk)

    assert refused.status_code == 400
    assert "booking" in refused.json()["fields"]
    assert stored(gloves).quantity_on_hand == 9


def test_a_usage_beyond_stock_is_a_409_saying_how_many_are_left(owner_api, gloves):
    response = usage(owner_api, gloves, 11)

    assert response.status_code == 409
    assert response.json()["code"] == "insufficient_stock"
    assert response.json()["quantity_on_hand"] == 10
    assert stored(gloves).quantity_on_hand == 10


def test_an_owner_may_allow_a_shortfall(owner_api, gloves):
    response = usage(owner_api, gloves, 15, allow_shortfall=True)

    assert response.status_code == 201
    assert response.json()["usage"]["shortfall"] == 5
    assert stored(gloves).quantity_on_hand == 0


def test_staff_may_not_allow_a_shortfall(staff_api, gloves):
    response = usage(staff_api, gloves, 15, allow_shortfall=True)

    assert response.status_code == 403
    assert "owner" in response.json()["message"]
    assert stored(gloves).quantity_on_hand == 10


@pytest.mark.parametrize("quantity", [0, -2, 2**31, 1.5, "two", None])
def test_bad_usage_quantities_are_400s_naming_the_quantity(owner_api, gloves, quantity):
    response = owner_api.post(
        "/api/v1/inventory/usage", {"item": gloves.pk, "quantity": quantity}, format="json"
    )

    assert response.status_code == 400
    assert "quantity" in response.json()["fields"]
    assert stored(gloves).quantity_on_hand == 10


def test_a_restock_adds_to_stock(staff_api, gloves):
    response = staff_api.post(
        f"/api/v1/inventory/{gloves.pk}/restock", {"quantity": 5, "note": "Delivery"}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["item"]["quantity_on_hand"] == 15


def test_an_owner_corrects_the_count_and_the_history_records_the_difference(owner_api, gloves):
    response = owner_api.post(
        f"/api/v1/inventory/{gloves.pk}/correction", {"counted": 7}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["usage"]["change"] == -3
    assert stored(gloves).quantity_on_hand == 7


def test_staff_may_not_correct_the_count(staff_api, gloves):
    response = staff_api.post(
        f"/api/v1/inventory/{gloves.pk}/correction", {"counted": 7}, format="json"
    )

    assert response.status_code == 403
    assert stored(gloves).quantity_on_hand == 10


@pytest.mark.parametrize("moves", [3, 30])
def test_the_history_is_newest_first_in_a_constant_number_of_queries(
    owner_api, owner, gloves, moves, django_assert_max_num_queries
):
    for _ in range(moves):
        stock_move(item=gloves, kind=Kind.RESTOCK, quantity=1, actor=owner)

    # 5 queries: the token's user, the workspace membership, the item, the count, the page of
    # moves (who made each joined)
    with django_assert_max_num_queries(5):
        response = owner_api.get(f"/api/v1/inventory/{gloves.pk}/history")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == moves
    assert body["results"][0]["balance_after"] == 10 + moves


# --- Consumptions -----------------------------------------------------------------------------


def test_an_owner_says_what_a_service_consumes(owner_api, workspace_a, gloves):
    facial = BookingTypeFactory(workspace=workspace_a, name="Facial")

    response = owner_api.post(
        f"/api/v1/inventory/{gloves.pk}/consumptions",
        {"booking_type": facial.pk, "quantity": 2},
        format="json",
    )
    listed = owner_api.get(f"/api/v1/inventory/{gloves.pk}/consumptions")

    assert response.status_code == 200
    assert listed.json() == [{"booking_type": {"id": facial.pk, "name": "Facial"}, "quantity": 2}]


def test_a_consumption_of_zero_removes_it(owner_api, workspace_a, gloves):
    facial = BookingTypeFactory(workspace=workspace_a)
    BookingTypeConsumption.objects.create(
        workspace=workspace_a, booking_type=facial, item=gloves, quantity=2
    )

    response = owner_api.post(
        f"/api/v1/inventory/{gloves.pk}/consumptions",
        {"booking_type": facial.pk, "quantity": 0},
        format="json",
    )

    assert response.json() == []
    assert not BookingTypeConsumption.objects.exists()


def test_staff_read_but_may_not_set_consumptions(staff_api, workspace_a, gloves):
    facial = BookingTypeFactory(workspace=workspace_a)

    read = staff_api.get(f"/api/v1/inventory/{gloves.pk}/consumptions")
    write = staff_api.post(
        f"/api/v1/inventory/{gloves.pk}/consumptions",
        {"booking_type": facial.pk, "quantity": 2},
        format="json",
    )

    assert read.status_code == 200
    assert write.status_code == 403
    assert not BookingTypeConsumption.objects.exists()


def test_another_workspaces_service_cannot_consume_an_item(owner_api, workspace_b, gloves):
    theirs = BookingTypeFactory(workspace=workspace_b)

    response = owner_api.post(
        f"/api/v1/inventory/{gloves.pk}/consumptions",
        {"booking_type": theirs.pk, "quantity": 2},
        format="json",
    )

    assert response.status_code == 400
    assert "booking_type" in response.json()["fields"]


# --- Tenancy ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "data"),
    [
        ("get", "/api/v1/inventory/{pk}", None),
        ("patch", "/api/v1/inventory/{pk}", {"name": "Mine now"}),
        ("post", "/api/v1/inventory/{pk}/restock", {"quantity": 1}),
        ("post", "/api/v1/inventory/{pk}/correction", {"counted": 1}),
        ("get", "/api/v1/inventory/{pk}/history", None),
        ("get", "/api/v1/inventory/{pk}/consumptions", None),
        ("post", "/api/v1/inventory/{pk}/consumptions", {"booking_type": 1, "quantity": 1}),
        ("post", "/api/v1/inventory/usage", {"item": "{pk}", "quantity": 1}),
    ],
)
def test_an_outsider_gets_404_for_another_workspaces_item(outsider_api, gloves, method, path, data):
    if data and data.get("item") == "{pk}":
        data = {**data, "item": gloves.pk}

    response = getattr(outsider_api, method)(path.format(pk=gloves.pk), data, format="json")

    assert response.status_code == 404
    assert stored(gloves).quantity_on_hand == 10
    assert stored(gloves).name == "Gloves"


def test_an_outsider_lists_only_their_own_items(outsider_api, gloves):
    assert outsider_api.get("/api/v1/inventory").json()["count"] == 0
    assert outsider_api.get("/api/v1/inventory/low-stock").json()["count"] == 0


def test_signed_out_callers_get_401(anon_api, gloves):
    assert anon_api.get("/api/v1/inventory").status_code == 401

from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.tests.factories import BookingTypeFactory
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from inventory.services import stock_move
from inventory.tests.factories import InventoryItemFactory

pytestmark = pytest.mark.django_db

Kind = InventoryUsage.Kind
HTMX = {"HX-Request": "true"}


def stored(item: InventoryItem) -> InventoryItem:
    return InventoryItem.objects.get(pk=item.pk)


@pytest.fixture
def gloves(workspace_a):
    return InventoryItemFactory(
        workspace=workspace_a, name="Gloves", sku="GL-1", quantity_on_hand=10, low_stock_threshold=3
    )


# --- The list ---------------------------------------------------------------------------------


def test_the_list_highlights_low_stock(owner_client, workspace_a, gloves):
    masks = InventoryItemFactory(workspace=workspace_a, name="Masks", quantity_on_hand=1)

    page = owner_client.get(reverse("inventory")).content.decode()

    assert "Gloves" in page
    low_row = page.split(f'data-testid="inventory-row-{masks.pk}"')[0].rsplit("<tr", 1)[1]
    ok_row = page.split(f'data-testid="inventory-row-{gloves.pk}"')[0].rsplit("<tr", 1)[1]
    assert "inventory-low" in low_row
    assert "inventory-low" not in ok_row


def test_low_only_shows_just_the_low_items(owner_client, workspace_a, gloves):
    InventoryItemFactory(workspace=workspace_a, name="Masks", quantity_on_hand=1)

    response = owner_client.get(reverse("inventory"), {"low": "1"}, headers=HTMX)

    assert [item.name for item in response.context["items"]] == ["Masks"]
    assert "<html" not in response.content.decode()  # the rows partial only


def test_search_finds_items_by_sku(owner_client, workspace_a, gloves):
    InventoryItemFactory(workspace=workspace_a, name="Masks", sku="MK-9")

    response = owner_client.get(reverse("inventory"), {"q": "gl-"})

    assert [item.name for item in response.context["items"]] == ["Gloves"]


def test_the_list_shows_only_the_workspaces_own_items(outsider_client, gloves):
    response = outsider_client.get(reverse("inventory"))

    assert "Gloves" not in response.content.decode()


@pytest.mark.parametrize("items", [3, 30])
def test_the_list_page_takes_a_constant_number_of_queries(
    owner_client, workspace_a, items, django_assert_max_num_queries
):
    InventoryItemFactory.create_batch(items, workspace=workspace_a)

    # 7 queries: session, user, workspace membership, the count, the page of items, the
    # page's stock forecast, the workspace switcher's memberships
    with django_assert_max_num_queries(7):
        response = owner_client.get(reverse("inventory"))

    assert response.status_code == 200


# --- Adding and editing -----------------------------------------------------------------------


def test_staff_add_an_item_with_opening_stock(staff_client, workspace_a):
    response = staff_client.post(
        reverse("inventory-new"),
        {
            "name": "Gloves",
            "sku": "GL-1",
            "unit": "box",
            "quantity_on_hand": "12",
            "low_stock_threshold": "3",
            "reorder_quantity": "20",
            "is_active": "on",
        },
    )

    item = InventoryItem.objects.get(workspace=workspace_a)
    assert response.status_code == 302
    assert response.url == reverse("inventory-detail", args=[item.pk])
    assert item.quantity_on_hand == 12
    assert item.history.get().change == 12


def test_a_taken_sku_is_shown_on_the_form(owner_client, gloves):
    response = owner_client.post(
        reverse("inventory-new"),
        {
            "name": "More gloves",
            "sku": "gl-1",
            "unit": "box",
            "quantity_on_hand": "0",
            "low_stock_threshold": "0",
            "reorder_quantity": "0",
        },
    )

    assert response.status_code == 400
    assert "already has the SKU" in response.content.decode()
    assert InventoryItem.objects.count() == 1


def test_editing_an_item_leaves_its_quantity_alone(owner_client, gloves):
    response = owner_client.post(
        reverse("inventory-edit", args=[gloves.pk]),
        {
            "name": "Nitrile gloves",
            "sku": "GL-1",
            "unit": "box",
            "low_stock_threshold": "12",
            "reorder_quantity": "20",
            "is_active": "on",
            "quantity_on_hand": "999",
        },
    )

    assert response.status_code == 302
    item = stored(gloves)
    assert (item.name, item.quantity_on_hand, item.is_low) == ("Nitrile gloves", 10, True)
    assert item.low_since is not None


# --- One item ---------------------------------------------------------------------------------


def test_the_item_page_shows_its_history(owner_client, owner, gloves):
    stock_move(item=gloves, kind=Kind.USAGE, quantity=2, actor=owner, note="Room 2")

    response = owner_client.get(reverse("inventory-detail", args=[gloves.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Usage -2" in page
    assert "Room 2" in page


@pytest.mark.parametrize("moves", [3, 30])
def test_the_item_page_takes_a_constant_number_of_queries(
    owner_client, owner, gloves, moves, django_assert_max_num_queries
):
    for _ in range(moves):
        stock_move(item=gloves, kind=Kind.RESTOCK, quantity=1, actor=owner)

    # 9 queries: session, user, workspace membership, the item, the history's count and page
    # (who made each joined), the consumptions (service joined), the services of the owner's
    # consumption form, the workspace switcher's memberships
    with django_assert_max_num_queries(9):
        response = owner_client.get(reverse("inventory-detail", args=[gloves.pk]))

    assert response.status_code == 200


def test_recording_a_usage_with_htmx_swaps_the_stock_panel(staff_client, gloves):
    response = staff_client.post(
        reverse("inventory-usage", args=[gloves.pk]), {"quantity": "8"}, headers=HTMX
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.lstrip().startswith('<div id="stock"')
    assert 'data-testid="low-badge"' in page
    assert stored(gloves).quantity_on_hand == 2


def test_a_usage_beyond_stock_is_refused_on_the_form(staff_client, gloves):
    response = staff_client.post(reverse("inventory-usage", args=[gloves.pk]), {"quantity": "11"})

    assert response.status_code == 409
    assert "Only 10 in stock" in response.content.decode()
    assert stored(gloves).quantity_on_hand == 10


def test_a_refused_usage_with_htmx_shows_the_error_in_the_panel(staff_client, gloves):
    response = staff_client.post(
        reverse("inventory-usage", args=[gloves.pk]), {"quantity": "0"}, headers=HTMX
    )

    assert response.status_code == 200  # htmx 2 swaps only 2xx: the panel carries the error
    assert 'id="usage_quantity-error"' in response.content.decode()
    assert stored(gloves).quantity_on_hand == 10


def test_staff_may_not_record_a_shortfall(staff_client, gloves):
    response = staff_client.post(
        reverse("inventory-usage", args=[gloves.pk]), {"quantity": "12", "allow_shortfall": "on"}
    )

    assert response.status_code == 409
    assert stored(gloves).quantity_on_hand == 10


def test_an_owner_records_a_shortfall(owner_client, gloves):
    response = owner_client.post(
        reverse("inventory-usage", args=[gloves.pk]), {"quantity": "12", "allow_shortfall": "on"}
    )

    assert response.status_code == 302
    usage = gloves.history.get()
    assert (usage.shortfall, usage.balance_after) == (2, 0)


def test_a_restock_adds_to_stock(staff_client, gloves):
    response = staff_client.post(
        reverse("inventory-restock", args=[gloves.pk]), {"quantity": "5", "note": "Delivery"}
    )

    assert response.status_code == 302
    assert stored(gloves).quantity_on_hand == 15


def test_staff_may_not_correct_the_count(staff_client, gloves):
    url = reverse("inventory-correction", args=[gloves.pk])

    refused = staff_client.post(url, {"counted": "4"})
    assert refused.status_code == 403
    assert stored(gloves).quantity_on_hand == 10


def test_an_owner_corrects_the_count(owner_client, gloves):
    response = owner_client.post(
        reverse("inventory-correction", args=[gloves.pk]), {"counted": "4"}
    )

    assert response.status_code == 302
    assert gloves.history.get().change == -6
    assert stored(gloves).quantity_on_hand == 4


def test_an_owner_says_what_a_service_consumes(owner_client, workspace_a, gloves):
    facial = BookingTypeFactory(workspace=workspace_a, name="Facial")

    response = owner_client.post(
        reverse("inventory-consumptions", args=[gloves.pk]),
        {"booking_type": facial.pk, "quantity": "2"},
    )
    page = owner_client.get(reverse("inventory-detail", args=[gloves.pk])).content.decode()

    assert response.status_code == 302
    assert "Facial: 2 box per booking" in page


def test_staff_may_not_set_consumptions(staff_client, workspace_a, gloves):
    facial = BookingTypeFactory(workspace=workspace_a)

    response = staff_client.post(
        reverse("inventory-consumptions", args=[gloves.pk]),
        {"booking_type": facial.pk, "quantity": "2"},
    )

    assert response.status_code == 403
    assert not BookingTypeConsumption.objects.exists()


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("inventory-detail", None),
        ("inventory-edit", None),
        ("inventory-usage", {"quantity": "1"}),
        ("inventory-restock", {"quantity": "1"}),
        ("inventory-correction", {"counted": "1"}),
        ("inventory-consumptions", {"booking_type": "1", "quantity": "1"}),
    ],
)
def test_an_outsider_gets_404_for_another_workspaces_item(outsider_client, gloves, name, data):
    url = reverse(name, args=[gloves.pk])

    response = outsider_client.post(url, data) if data else outsider_client.get(url)

    assert response.status_code == 404
    assert stored(gloves).quantity_on_hand == 10


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get(reverse("inventory"))

    assert response.status_code == 302
    assert "login" in response.url


def test_a_search_holding_a_nul_is_ignored_not_a_500(owner_client, gloves):
    response = owner_client.get("/inventory/?q=%00")

    assert response.status_code == 200
    assert gloves.name in response.content.decode()


def test_the_api_refuses_a_search_holding_a_nul(owner_api, gloves):
    assert owner_api.get("/api/v1/inventory?q=%00").status_code == 400

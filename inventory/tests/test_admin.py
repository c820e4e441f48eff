from __future__ import annotations

import pytest
from django.urls import reverse

from bookings.tests.factories import BookingFactory, BookingTypeFactory
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from inventory.services import stock_move
from inventory.signals import stock_low
from inventory.tests.factories import InventoryItemFactory
from workspaces.models import User
from workspaces.tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = ["inventoryitem", "inventoryusage", "bookingtypeconsumption"]
Kind = InventoryUsage.Kind


@pytest.fixture
def support(client):
    admin = User.objects.create_superuser("support@careops.test", "support-passphrase-1")
    client.force_login(admin)
    return client


@pytest.mark.parametrize("model", CHANGELISTS)
@pytest.mark.parametrize("rows", [2, 12])
def test_each_changelist_loads_in_a_constant_number_of_queries(
    support, owner, model, rows, django_assert_max_num_queries
):

    for _ in range(rows):
        workspace = WorkspaceFactory()
        item = InventoryItemFactory(workspace=workspace)
        kind = BookingTypeFactory(workspace=workspace)
        BookingTypeConsumption.objects.create(
            workspace=workspace, booking_type=kind, item=item, quantity=1
        )
        booking = BookingFactory(workspace=workspace, booking_type=kind)
        stock_move(item=item, kind=Kind.USAGE, quantity=1, actor=owner, booking=booking)

    # session, user, count, filtered count, the page (related rows joined), the date
    # hierarchy, and the workspace filter's choices
    with django_assert_max_num_queries(8):
        response = support.get(reverse(f"admin:inventory_{model}_changelist"))

    assert response.status_code == 200


def test_support_finds_items_by_sku(support, workspace_a):
    gloves = InventoryItemFactory(workspace=workspace_a, sku="GL-77")
    InventoryItemFactory(workspace=workspace_a)

    response = support.get(reverse("admin:inventory_inventoryitem_changelist"), {"q": "gl-77"})

    assert [item.pk for item in response.context["cl"].result_list] == [gloves.pk]


def test_the_ledger_is_read_only(support, owner, workspace_a):
    item = InventoryItemFactory(workspace=workspace_a)
    usage = stock_move(item=item, kind=Kind.USAGE, quantity=1, actor=owner)

    shown = support.get(reverse("admin:inventory_inventoryusage_change", args=[usage.pk]))
    changed = support.post(
        reverse("admin:inventory_inventoryusage_change", args=[usage.pk]), {"change": "50"}
    )
    deleted = support.post(reverse("admin:inventory_inventoryusage_delete", args=[usage.pk]))

    assert shown.status_code == 200
    assert 'name="change"' not in shown.content.decode()
    assert changed.status_code == 403
    assert deleted.status_code == 403
    assert support.get(reverse("admin:inventory_inventoryusage_add")).status_code == 403
    assert InventoryUsage.objects.get().change == -1


def test_support_edits_an_item_through_the_service_but_not_its_quantity(support, workspace_a):
    item = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=5, low_stock_threshold=1)
    events = []
    stock_low.connect(
        lambda sender, item, **kw: events.append(item.pk), weak=False, dispatch_uid="t"
    )
    try:
        response = support.post(
            reverse("admin:inventory_inventoryitem_change", args=[item.pk]),
            {
                "name": "Renamed",
                "sku": item.sku,
                "unit": "box",
                "low_stock_threshold": "5",
                "reorder_quantity": "0",
                "supplier_note": "",
                "is_active": "on",
                "quantity_on_hand": "999",
            },
        )
    finally:
        stock_low.disconnect(dispatch_uid="t")

    assert response.status_code == 302
    stored = InventoryItem.objects.get(pk=item.pk)
    assert (stored.name, stored.quantity_on_hand) == ("Renamed", 5)
    assert events == [item.pk]


def test_support_cannot_give_an_item_a_taken_sku(support, workspace_a):
    InventoryItemFactory(workspace=workspace_a, sku="GL-1")
    other = InventoryItemFactory(workspace=workspace_a, sku="MK-1")

    response = support.post(
        reverse("admin:inventory_inventoryitem_change", args=[other.pk]),
        {
            "name": "Masks",
            "sku": "gl-1",
            "unit": "box",
            "low_stock_threshold": "0",
            "reorder_quantity": "0",
            "supplier_note": "",
        },
    )

    assert response.status_code == 200
    assert "already has the SKU" in response.content.decode()
    assert InventoryItem.objects.get(pk=other.pk).sku == "MK-1"


def test_support_cannot_add_rows_that_belong_to_a_workspace(support):
    for model in CHANGELISTS:
        assert support.get(reverse(f"admin:inventory_{model}_add")).status_code == 403

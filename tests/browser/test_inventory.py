"""Staff record a usage that takes an item below its threshold, and see it flagged as low."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from inventory.models import InventoryItem
from inventory.tests.factories import InventoryItemFactory
from workspaces.tests.factories import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_usage_crossing_the_threshold_shows_the_item_as_low(
    page, live_server, staff, workspace_a
):
    gloves = InventoryItemFactory(
        workspace=workspace_a, name="Gloves", unit="box", quantity_on_hand=5, low_stock_threshold=2
    )
    page.goto(f"{live_server.url}/accounts/login/?next=/inventory/{gloves.pk}/")
    page.get_by_label("Email").fill(staff.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Gloves", level=1)).to_be_visible()
    expect(page.get_by_test_id("low-badge")).to_have_count(0)

    usage = page.get_by_test_id("usage-form")
    usage.get_by_label("Quantity used").fill("3")
    usage.get_by_role("button", name="Record usage").click()

    # The stock panel is swapped in place: the new count and the low-stock badge.
    expect(page.get_by_test_id("quantity-on-hand")).to_have_text("2")
    expect(page.get_by_test_id("low-badge")).to_be_visible()
    assert InventoryItem.objects.get(pk=gloves.pk).quantity_on_hand == 2

    page.get_by_role("link", name="← Inventory").click()
    row = page.get_by_test_id(f"inventory-row-{gloves.pk}")
    expect(row).to_have_class("inventory-low")
    expect(row.get_by_test_id("low-badge")).to_have_text("Low stock")

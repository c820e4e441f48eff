from __future__ import annotations

import factory
from django.utils import timezone

from inventory.models import InventoryItem
from workspaces.tests.factories import WorkspaceFactory


class InventoryItemFactory(factory.django.DjangoModelFactory):
    """An item written straight to the table, with no opening row in its history (use
    inventory.services.item_create where the ledger must add up). low_since follows the
    quantity and threshold, as the services keep it."""

    class Meta:
        model = InventoryItem

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Gloves {n}")
    sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    unit = "box"
    quantity_on_hand = 10
    low_stock_threshold = 2
    reorder_quantity = 20
    low_since = factory.LazyAttribute(
        lambda o: timezone.now() if o.quantity_on_hand <= o.low_stock_threshold else None
    )

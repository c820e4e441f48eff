"""REST API of inventory."""

from __future__ import annotations

from inventory.api import items

urlpatterns: list = []


def register(router) -> None:
    router.register("inventory", items.InventoryItemViewSet, basename="inventory-item")

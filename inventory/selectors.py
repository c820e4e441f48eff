"""Reads of inventory that the API and the pages share. Every one takes the workspace (or an item
already fetched through it): another workspace's rows are never in reach."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from careops.errors import NotFound
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage


def items_for_workspace(
    *,
    workspace,
    q: str = "",
    active: bool | None = None,
    low_only: bool = False,
) -> QuerySet[InventoryItem]:
    """The workspace's items by name: `q` searches name and SKU, `active` narrows to active
    (True) or inactive (False) items, `low_only` to the active ones at or below their
    threshold."""
    items = InventoryItem.objects.for_workspace(workspace)
    q = (q or "").strip()
    if q:
        items = items.filter(Q(name__icontains=q) | Q(sku__icontains=q))
    if active is not None:
        items = items.filter(is_active=active)
    if low_only:
        # low_since is kept by the services with the stock: the partial index inventory_item_low.
        items = items.filter(low_since__isnull=False, is_active=True)
    return items.order_by("name", "pk")


def items_low(*, workspace) -> QuerySet[InventoryItem]:
    """The active items at or below their low-stock threshold, by name."""
    return items_for_workspace(workspace=workspace, low_only=True)


def item_get(*, workspace, pk) -> InventoryItem:
    """The workspace's item, or NotFound (another workspace's item is not found either)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("Item not found.") from None
    item = InventoryItem.objects.for_workspace(workspace).filter(pk=pk).first()
    if item is None:
        raise NotFound("Item not found.")
    return item


def item_history(*, item: InventoryItem) -> QuerySet[InventoryUsage]:
    """The item's ledger, newest first (index inventory_usage_item_history), who made each
    change joined."""
    return (
        InventoryUsage.objects.filter(item=item)
        .select_related("actor")
        .order_by("-created_at", "-pk")
    )


def item_consumptions(*, item: InventoryItem) -> QuerySet[BookingTypeConsumption]:
    """Which services use the item, and how many per booking, by service name."""
    return (
        BookingTypeConsumption.objects.filter(item=item)
        .select_related("booking_type")
        .order_by("booking_type__name", "pk")
    )

"""Writes for inventory: items, and every stock movement through one function that updates the
quantity with an F() expression in the same transaction as its ledger row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from careops.errors import Conflict
from inventory.models import InventoryItem, InventoryUsage


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = "There is not enough in stock for this."
    # raised with extra={"quantity_on_hand": n}


def item_create(*, workspace, actor, **values: Any) -> InventoryItem:
    """A new item (name, sku, unit, quantity_on_hand, low_stock_threshold, reorder_quantity,
    supplier_note, is_active). The opening quantity is recorded as a restock, so the history
    adds up. InvalidInput for a taken SKU (case-insensitive) or bad values."""
    raise NotImplementedError


def item_update(*, item: InventoryItem, actor, **changes: Any) -> InventoryItem:
    """Change an item's details (not its quantity: that moves through stock_move). A changed
    threshold re-evaluates the low state (and may raise stock_low)."""
    raise NotImplementedError


def stock_move(
    *,
    item: InventoryItem,
    kind: str,
    quantity: int,
    actor=None,
    booking=None,
    note: str = "",
    allow_shortfall: bool = False,
    occurred_at: datetime | None = None,
) -> InventoryUsage:
    """Record one movement and apply it atomically:

    - usage / booking: on hand -= quantity. Beyond what is on hand: InsufficientStock (409),
      unless allow_shortfall, which records the full quantity, stops stock at zero and notes
      the shortfall. (Booking consumption always allows it: the service was delivered.)
    - restock: on hand += quantity.
    - correction: `quantity` is the counted quantity on hand; the row records the difference.

    Falling to or below the threshold from above raises inventory.signals.stock_low once, in
    the transaction; rising above it re-arms. Concurrent moves never lose an update."""
    raise NotImplementedError


def booking_consume(*, booking, actor=None) -> list[InventoryUsage]:
    """Record what the booking's type consumes, once per booking and item (a second call, or a
    status set twice, records nothing more)."""
    raise NotImplementedError


def consumption_set(*, booking_type, item: InventoryItem, quantity: int, actor) -> None:
    """What one booking of the type uses of the item; quantity 0 removes it."""
    raise NotImplementedError

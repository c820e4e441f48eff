"""Inventory: what a business keeps in stock, and a ledger that explains every change to it.

Stock only moves through inventory.services, which record an InventoryUsage row and update the
item's quantity with one F() expression in the same transaction, so concurrent usages never
lose an update and the ledger always adds up to the quantity on hand.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from careops.models import WorkspaceOwnedModel


class InventoryItem(WorkspaceOwnedModel):
    name = models.CharField(max_length=120)
    sku = models.CharField(
        max_length=64, blank=True, help_text="Your code for it; unique in the workspace."
    )
    unit = models.CharField(max_length=20, default="unit", help_text='e.g. "box", "bottle".')
    quantity_on_hand = models.IntegerField(default=0)
    low_stock_threshold = models.PositiveIntegerField(
        default=0, help_text="Low when the quantity on hand is at or below this."
    )
    reorder_quantity = models.PositiveIntegerField(default=0)
    supplier_note = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    # Set when the stock fell to the threshold, cleared when restocked above it: the low-stock
    # event is raised on that crossing only, not on every usage while already low.
    low_since = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(quantity_on_hand__gte=0),
                name="inventory_inventoryitem_never_negative",
            ),
            models.UniqueConstraint(
                "workspace",
                Lower("sku"),
                condition=~models.Q(sku=""),
                name="inventory_inventoryitem_unique_sku",
            ),
        ]
        indexes = [
            # The inventory list, by name.
            models.Index(fields=["workspace", "name"], name="inventory_item_list"),
            # The low-stock list and the dashboard's panel.
            models.Index(
                fields=["workspace", "name"],
                condition=models.Q(low_since__isnull=False, is_active=True),
                name="inventory_item_low",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_low(self) -> bool:
        return self.quantity_on_hand <= self.low_stock_threshold


class InventoryUsage(WorkspaceOwnedModel):
    """One change to an item's stock: a usage, a restock, a count correction, or what a
    completed booking consumed. `change` is what it did to the quantity on hand (signed), and
    `balance_after` the quantity on hand right after it."""

    class Kind(models.TextChoices):
        USAGE = "usage", "Usage"
        RESTOCK = "restock", "Restock"
        CORRECTION = "correction", "Correction"
        BOOKING = "booking", "Used by a booking"

    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="history")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # What was asked: used or restocked (positive); for a correction, the amount it changed by.
    quantity = models.PositiveIntegerField()
    change = models.IntegerField()
    balance_after = models.IntegerField()
    # Used beyond what was on hand, with an owner's say-so: recorded, stock stops at zero.
    shortfall = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="inventory_usages",
    )
    occurred_at = models.DateTimeField(default=timezone.now)
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(balance_after__gte=0),
                name="inventory_inventoryusage_balance_never_negative",
            ),
            models.CheckConstraint(
                condition=models.Q(kind__in=["usage", "restock", "correction", "booking"]),
                name="inventory_inventoryusage_kind_valid",
            ),
            # A completed booking consumes each item once, however often completion is sent.
            models.UniqueConstraint(
                fields=["item", "booking"],
                condition=models.Q(kind="booking"),
                name="inventory_inventoryusage_once_per_booking",
            ),
        ]
        indexes = [
            # An item's history, newest first.
            models.Index(fields=["item", "-created_at"], name="inventory_usage_item_history"),
            # The workspace's usage over a period (dashboards, the forecast).
            models.Index(fields=["workspace", "-occurred_at"], name="inventory_usage_ws_time"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.change:+d} {self.item}"


class BookingTypeConsumption(WorkspaceOwnedModel):
    """What one booking of a service uses up: recorded when the booking is completed."""

    booking_type = models.ForeignKey(
        "bookings.BookingType", on_delete=models.CASCADE, related_name="consumptions"
    )
    item = models.ForeignKey(InventoryItem, on_delete=models.CASCADE, related_name="consumptions")
    quantity = models.PositiveIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["booking_type", "item"], name="inventory_consumption_once_per_type"
            ),
            models.CheckConstraint(
                condition=models.Q(quantity__gt=0), name="inventory_consumption_quantity_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booking_type}: {self.quantity} x {self.item}"

"""The onboarding step inventory adds (optional): the supplies the business tracks."""

from __future__ import annotations

from django.db.models import Count, Q

from inventory.models import InventoryItem
from workspaces.onboarding import OnboardingStep, register_step


def _inventory_missing(workspace) -> list[str]:
    if InventoryItem.objects.for_workspace(workspace).exists():
        return []
    return ["Add the supplies you want to track (optional)."]


def _inventory_summary(workspace) -> list[str]:
    counts = InventoryItem.objects.for_workspace(workspace).aggregate(
        active=Count("pk", filter=Q(is_active=True)),
        low=Count("pk", filter=Q(is_active=True, low_since__isnull=False)),
    )
    if not counts["active"]:
        return []
    items = "1 item" if counts["active"] == 1 else f"{counts['active']} items"
    return [f"{items} tracked, {counts['low']} low on stock."]


register_step(
    OnboardingStep(
        "inventory",
        "Inventory",
        50,
        _inventory_missing,
        required=False,
        description=("The supplies you want to keep an eye on: you are alerted when one runs low."),
        links=(("Add items", "inventory"),),
        summary=_inventory_summary,
    )
)

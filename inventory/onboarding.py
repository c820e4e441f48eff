"""The onboarding step inventory adds (optional): the supplies the business tracks."""

from __future__ import annotations

from inventory.models import InventoryItem
from workspaces.onboarding import OnboardingStep, register_step


def _inventory_missing(workspace) -> list[str]:
    if InventoryItem.objects.for_workspace(workspace).exists():
        return []
    return ["Add the supplies you want to track (optional)."]


register_step(OnboardingStep("inventory", "Inventory", 50, _inventory_missing, required=False))

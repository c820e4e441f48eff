"""Support back office for inventory: items, their stock ledger, and what services consume.

Stock moves only through inventory.services, which record a ledger row with every change: here
an item's quantity and low-stock state are read-only, its details are saved through the same
service as the product's pages (so a new threshold re-evaluates the low state), and the ledger
can be read but never added to, edited or deleted.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from careops.admin import ReadOnlyAdmin, WorkspaceOwnedAdmin
from careops.errors import InvalidInput
from inventory import services
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage


class InventoryItemAdminForm(forms.ModelForm):
    """The SKU is refused when another item of the workspace has it, in any case."""

    class Meta:
        model = InventoryItem
        fields = list(services.ITEM_FIELDS)

    def clean_sku(self) -> str:
        sku = self.cleaned_data.get("sku", "").strip()
        try:
            services.sku_check(self.instance.workspace_id, sku, exclude_pk=self.instance.pk)
        except InvalidInput as exc:
            raise forms.ValidationError(exc.fields["sku"]) from None
        return sku


@admin.register(InventoryItem)
class InventoryItemAdmin(WorkspaceOwnedAdmin):
    form = InventoryItemAdminForm
    list_display = [
        "name",
        "sku",
        "workspace",
        "quantity_on_hand",
        "low_stock_threshold",
        "is_low",
        "is_active",
    ]
    # A low_since: low on stock.
    list_filter = ["is_active", ("low_since", admin.EmptyFieldListFilter), "workspace"]
    search_fields = ["name", "sku"]
    list_select_related = ["workspace"]
    readonly_fields = ["workspace", "quantity_on_hand", "low_since", "created_at", "updated_at"]
    ordering = ["workspace", "name"]

    @admin.display(boolean=True, description="Low")
    def is_low(self, item: InventoryItem) -> bool:
        return item.is_low

    def save_model(self, request, obj, form, change) -> None:
        # Through the service: a changed threshold may make the item low (and raise the event).
        current = InventoryItem.objects.get(pk=obj.pk)
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        services.item_update(item=current, actor=request.user, **changes)


@admin.register(InventoryUsage)
class InventoryUsageAdmin(ReadOnlyAdmin):
    """The ledger: read-only, always (see the module docstring)."""

    list_display = [
        "created_at",
        "item",
        "kind",
        "change",
        "balance_after",
        "shortfall",
        "actor",
        "booking",
        "workspace",
    ]
    list_filter = ["kind", "workspace"]
    search_fields = ["item__name", "item__sku", "note"]
    list_select_related = [
        "item",
        "actor",
        "booking__booking_type",
        "booking__contact",
        "workspace",
    ]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]


@admin.register(BookingTypeConsumption)
class BookingTypeConsumptionAdmin(WorkspaceOwnedAdmin):
    list_display = ["booking_type", "item", "quantity", "workspace"]
    list_filter = ["workspace"]
    search_fields = ["booking_type__name", "item__name", "item__sku"]
    list_select_related = ["booking_type", "item", "workspace"]
    readonly_fields = ["workspace", "booking_type", "item", "created_at", "updated_at"]

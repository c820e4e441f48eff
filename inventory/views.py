"""Inventory pages: the list (htmx search, low-stock highlight, "low only"), adding and editing
an item, and an item with its history, where usage, restocks and count corrections are recorded
(htmx swaps the stock panel) and owners say what each service consumes.

Owners and staff record usage and restocks; owners alone correct counts, allow a usage beyond
what is in stock, and set consumptions, as in the API."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View
from django.views.generic import ListView

from bookings.models import BookingType
from careops.errors import DomainError, NotFound
from careops.forms import add_domain_errors
from careops.tenancy import OWNER_ONLY_MESSAGE, WorkspacePageMixin
from inventory import selectors, services
from inventory.models import InventoryItem, InventoryUsage
from inventory.services import MAX_QUANTITY

PAGE_SIZE = 25
HISTORY_PAGE_SIZE = 20
Kind = InventoryUsage.Kind

# --- Forms ------------------------------------------------------------------------------------


def _count(label: str, *, minimum: int = 1, **kwargs) -> forms.IntegerField:
    return forms.IntegerField(label=label, min_value=minimum, max_value=MAX_QUANTITY, **kwargs)


def _note() -> forms.CharField:
    return forms.CharField(label="Note", max_length=255, required=False)


class ItemForm(forms.Form):
    name = forms.CharField(max_length=120)
    sku = forms.CharField(
        label="SKU", max_length=64, required=False, help_text="Your code for it; unique here."
    )
    unit = forms.CharField(max_length=20, initial="unit", help_text='e.g. "box", "bottle".')
    quantity_on_hand = _count("Opening stock", minimum=0, initial=0)
    low_stock_threshold = _count(
        "Low-stock threshold",
        minimum=0,
        initial=0,
        help_text="Low when the quantity on hand is at or below this.",
    )
    reorder_quantity = _count("Reorder quantity", minimum=0, initial=0)
    supplier_note = forms.CharField(
        label="Supplier", required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    is_active = forms.BooleanField(label="Active", required=False, initial=True)

    def __init__(self, *args, item: InventoryItem | None = None, **kwargs):
        if item is not None:
            kwargs.setdefault(
                "initial", {field: getattr(item, field) for field in services.ITEM_FIELDS}
            )
        super().__init__(*args, **kwargs)
        if item is not None:  # the quantity moves through usage, restock and correction
            del self.fields["quantity_on_hand"]


class StockForm(forms.Form):
    """Several of these share the item's page: each one's field ids carry its own prefix."""

    id_prefix = "stock"

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", f"{self.id_prefix}_%s")
        super().__init__(*args, **kwargs)


class UsageForm(StockForm):
    id_prefix = "usage"
    quantity = _count("Quantity used")
    note = _note()
    allow_shortfall = forms.BooleanField(
        label="Record it even beyond what is in stock", required=False
    )

    def __init__(self, *args, owner: bool = False, **kwargs):
        super().__init__(*args, **kwargs)
        if not owner:
            del self.fields["allow_shortfall"]


class RestockForm(StockForm):
    id_prefix = "restock"
    quantity = _count("Quantity added")
    note = _note()


class CorrectionForm(StockForm):
    id_prefix = "correction"
    counted = _count("Counted on hand", minimum=0)
    note = _note()


class ConsumptionForm(StockForm):
    id_prefix = "consumption"
    booking_type = forms.ModelChoiceField(label="Service", queryset=BookingType.objects.none())
    quantity = _count("Used per booking", minimum=0, help_text="0 removes it.")

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["booking_type"].queryset = BookingType.objects.for_workspace(
            workspace
        ).order_by("name", "pk")


class ItemFilterForm(forms.Form):
    """The list's filters. Django's CharField refuses a NUL (PostgreSQL cannot compare with it);
    an invalid filter is ignored, as if not given."""

    q = forms.CharField(max_length=200, required=False, strip=True)
    low = forms.BooleanField(required=False)

    def filters(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_valid() else {}
        return {"q": data.get("q", ""), "low": "1" if data.get("low") else ""}


MOVES = {
    Kind.USAGE: (UsageForm, "quantity", "usage_form"),
    Kind.RESTOCK: (RestockForm, "quantity", "restock_form"),
    Kind.CORRECTION: (CorrectionForm, "counted", "correction_form"),
}

# --- The list ---------------------------------------------------------------------------------


class InventoryListView(WorkspacePageMixin, ListView):
    """The list; htmx requests (typing in the search box, ticking "low only") get the rows."""

    template_name = "inventory/list.html"
    paginate_by = PAGE_SIZE
    context_object_name = "items"

    def get_queryset(self):
        self.filters = ItemFilterForm(self.request.GET).filters()
        return selectors.items_for_workspace(
            workspace=self.request.workspace,
            q=self.filters["q"],
            low_only=bool(self.filters["low"]),
        )

    def get_template_names(self):
        if self.request.htmx and not self.request.htmx.boosted:
            return ["inventory/_item_rows.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        context = super().get_context_data(**kwargs)
        # The page's items with what the upcoming bookings need of them: one query per page.
        context["items"] = selectors.items_with_forecast(
            workspace=self.request.workspace, items=context["items"]
        )
        active = {name: value for name, value in self.filters.items() if value}
        context.update(filters=active, filter_query=urlencode(active))
        return context


# --- Adding and editing -----------------------------------------------------------------------


class InventoryPageMixin(WorkspacePageMixin):
    def item(self, pk: int) -> InventoryItem:
        try:
            return selectors.item_get(workspace=self.request.workspace, pk=pk)
        except NotFound:
            raise Http404("Item not found.") from None

    @property
    def is_owner(self) -> bool:
        return self.request.membership.is_owner

    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        """Times (the history's) on the workspace's clock."""
        with timezone.override(ZoneInfo(self.request.workspace.timezone)):
            return render(self.request, template, context, status=status)


class InventoryNewView(InventoryPageMixin, View):
    def get(self, request):
        return render(request, "inventory/form.html", {"form": ItemForm()})

    def post(self, request):
        form = ItemForm(request.POST)
        if form.is_valid():
            try:
                item = services.item_create(
                    workspace=request.workspace, actor=request.user, **form.cleaned_data
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"{item} is added.")
                return redirect("inventory-detail", pk=item.pk)
        return render(request, "inventory/form.html", {"form": form}, status=400)


class InventoryEditView(InventoryPageMixin, View):
    def get(self, request, pk: int):
        item = self.item(pk)
        return render(request, "inventory/form.html", {"form": ItemForm(item=item), "item": item})

    def post(self, request, pk: int):
        item = self.item(pk)
        form = ItemForm(request.POST, item=item)
        if form.is_valid():
            try:
                services.item_update(item=item, actor=request.user, **form.cleaned_data)
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"{item} is saved.")
                return redirect("inventory-detail", pk=item.pk)
        context = {"form": form, "item": self.item(pk)}
        return render(request, "inventory/form.html", context, status=400)


# --- One item ---------------------------------------------------------------------------------


class InventoryDetailView(InventoryPageMixin, View):
    def get(self, request, pk: int):
        return self.page(self.item(pk))

    def stock_context(self, item: InventoryItem, **forms_given) -> dict:
        owner = self.is_owner
        history = Paginator(selectors.item_history(item=item), HISTORY_PAGE_SIZE)
        context = {
            "item": item,
            "is_owner": owner,
            "history_page": history.get_page(self.request.GET.get("page")),
            "usage_form": forms_given.get("usage_form") or UsageForm(owner=owner),
            "restock_form": forms_given.get("restock_form") or RestockForm(),
            "correction_form": (forms_given.get("correction_form") or CorrectionForm())
            if owner
            else None,
        }
        return context

    def page(self, item: InventoryItem, *, status: int = 200, **forms_given) -> HttpResponse:
        workspace = self.request.workspace
        context = {
            **self.stock_context(item, **forms_given),
            "consumptions": selectors.item_consumptions(item=item),
            "consumption_form": forms_given.get("consumption_form")
            or ConsumptionForm(workspace=workspace),
        }
        return self.render("inventory/detail.html", context, status)


class StockMoveView(InventoryDetailView):
    """Record a usage, a restock or (owners) a count correction. htmx gets the stock panel back,
    with 200 even for a refusal: htmx 2 does not swap 4xx responses, and the panel carries the
    form's errors."""

    kind: str = Kind.USAGE

    def get(self, request, pk: int):
        return redirect("inventory-detail", pk=self.item(pk).pk)

    def post(self, request, pk: int):
        item = self.item(pk)
        form_class, field, name = MOVES[self.kind]
        if self.kind == Kind.CORRECTION and not self.is_owner:
            raise PermissionDenied(OWNER_ONLY_MESSAGE)
        extra = {"owner": self.is_owner} if self.kind == Kind.USAGE else {}
        form = form_class(request.POST, **extra)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.stock_move(
                    item=item,
                    kind=self.kind,
                    quantity=data[field],
                    actor=request.user,
                    note=data["note"],
                    allow_shortfall=data.get("allow_shortfall", False),
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
                status = exc.status_code
            else:
                done = f"Recorded. {item.quantity_on_hand} {item.unit} on hand."
                if not request.htmx:
                    messages.success(request, done)
                    return redirect("inventory-detail", pk=item.pk)
                context = {**self.stock_context(item), "done": done}
                return self.render("inventory/_stock.html", context)
        item = self.item(pk)  # what is stored, not what was refused
        if request.htmx:
            context = self.stock_context(item, **{name: form})
            return self.render("inventory/_stock.html", context)
        return self.page(item, status=status, **{name: form})


class ConsumptionView(InventoryDetailView):
    """Owners: how many of the item one booking of a service uses."""

    owner_only = True

    def get(self, request, pk: int):
        return redirect("inventory-detail", pk=self.item(pk).pk)

    def post(self, request, pk: int):
        item = self.item(pk)
        form = ConsumptionForm(request.POST, workspace=request.workspace)
        if form.is_valid():
            try:
                services.consumption_set(
                    booking_type=form.cleaned_data["booking_type"],
                    item=item,
                    quantity=form.cleaned_data["quantity"],
                    actor=request.user,
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, "Saved what the service uses.")
                return redirect("inventory-detail", pk=item.pk)
        return self.page(item, status=400, consumption_form=form)

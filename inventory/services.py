"""Writes for inventory: items, and every stock movement through one function that updates the
quantity with an F() expression in the same transaction as its ledger row."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from django.db import DataError, IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Lower
from django.utils import timezone

from careops.db import is_constraint
from careops.errors import Conflict, Forbidden, InvalidInput
from inventory.models import BookingTypeConsumption, InventoryItem, InventoryUsage
from inventory.signals import stock_low, stock_restocked
from workspaces.models import Membership

log = structlog.get_logger(__name__)

# The columns are PostgreSQL integers: anything larger is refused with a field message before
# the database would refuse it with a DataError.
MAX_QUANTITY = 2**31 - 1

ITEM_FIELDS = (
    "name",
    "sku",
    "unit",
    "low_stock_threshold",
    "reorder_quantity",
    "supplier_note",
    "is_active",
)
Kind = InventoryUsage.Kind
SKU_CONSTRAINT = "inventory_inventoryitem_unique_sku"
ONCE_PER_BOOKING = "inventory_inventoryusage_once_per_booking"
SHORTFALL_OWNER_ONLY = "Only an owner may record a usage beyond what is in stock."


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = "There is not enough in stock for this."
    # raised with extra={"quantity_on_hand": n}


# --- Checks (mirrors of the constraints, for clear messages) ---------------------------------


def _quantity(value: Any, field: str, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput(fields={field: ["Give a whole number."]})
    if value < minimum:
        raise InvalidInput(fields={field: [f"Give a whole number of {minimum} or more."]})
    if value > MAX_QUANTITY:
        raise InvalidInput(fields={field: [f"Give a number no larger than {MAX_QUANTITY}."]})
    return value


def _text(value: Any, field: str, *, required: bool = False) -> str:
    text = str(value or "").strip()
    if required and not text:
        raise InvalidInput(fields={field: ["This field is required."]})
    max_length = InventoryItem._meta.get_field(field).max_length
    if max_length and len(text) > max_length:
        raise InvalidInput(fields={field: [f"At most {max_length} characters."]})
    return text


def _clean_item(values: dict[str, Any]) -> dict[str, Any]:
    unknown = set(values) - set(ITEM_FIELDS)
    if "quantity_on_hand" in unknown:
        raise InvalidInput(
            fields={"quantity_on_hand": ["Stock changes through a usage, restock or correction."]}
        )
    if unknown:
        raise InvalidInput(f"Unknown fields: {', '.join(sorted(unknown))}.")
    clean: dict[str, Any] = {}
    for field, value in values.items():
        if field in ("name", "unit"):
            clean[field] = _text(value, field, required=True)
        elif field == "sku":
            clean[field] = _text(value, field)
        elif field == "supplier_note":
            clean[field] = str(value or "").strip()
        elif field in ("low_stock_threshold", "reorder_quantity"):
            clean[field] = _quantity(value, field)
        elif field == "is_active":
            clean[field] = bool(value)
    return clean


def sku_check(workspace, sku: str, *, exclude_pk: int | None = None) -> None:
    """InvalidInput (on `sku`) when another item of the workspace has this SKU, in any case."""
    if not sku:
        return
    # lower(sku) = lower(%s) AND sku <> '': the expression and condition of the partial unique
    # index inventory_inventoryitem_unique_sku, which serves it (sku__iexact compares UPPER()).
    taken = _items_with_sku(workspace, sku).exclude(pk=exclude_pk).exists()
    if taken:
        raise InvalidInput(fields={"sku": [_sku_taken(sku)]})


def _items_with_sku(workspace, sku: str):
    """The workspace's items whose SKU equals `sku` in any case (the unique index's query)."""
    return (
        InventoryItem.objects.for_workspace(workspace)
        .exclude(sku="")
        .alias(sku_lower=Lower("sku"))
        .filter(sku_lower=Lower(Value(sku)))
    )


def _sku_taken(sku: str) -> str:
    return f"Another item in this workspace already has the SKU {sku!r}."


def _is_owner(actor, workspace_id: int) -> bool:
    if getattr(actor, "pk", None) is None:
        return False
    return Membership.objects.filter(
        workspace_id=workspace_id, user=actor, role=Membership.Role.OWNER
    ).exists()


# --- The low-stock state ------------------------------------------------------------------------


def _settle_low_state(item: InventoryItem) -> None:
    """Bring low_since in line with the item's (locked, current) quantity and threshold, and
    raise stock_low on the crossing into low. Call with the item's row locked.

    An inactive item (no longer stocked) keeps its low state in step but raises no stock_low:
    nobody is to reorder it. Reactivating an item that is already low raises nothing either
    (nothing crosses); its next fall after a restock above the threshold does."""
    if item.is_low and item.low_since is None:
        item.low_since = timezone.now()
        InventoryItem.objects.filter(pk=item.pk).update(low_since=item.low_since)
        if item.is_active:
            log.info("inventory_stock_low", item_id=item.pk, quantity_on_hand=item.quantity_on_hand)
            stock_low.send(sender=InventoryItem, item=item)
    elif not item.is_low and item.low_since is not None:
        item.low_since = None
        InventoryItem.objects.filter(pk=item.pk).update(low_since=None)


def _copy_stock(target: InventoryItem, source: InventoryItem) -> None:
    for field in ("quantity_on_hand", "low_since", "low_stock_threshold", "updated_at"):
        setattr(target, field, getattr(source, field))


# --- Items ------------------------------------------------------------------------------------


def item_create(*, workspace, actor, **values: Any) -> InventoryItem:
    """A new item (name, sku, unit, quantity_on_hand, low_stock_threshold, reorder_quantity,
    supplier_note, is_active). The opening quantity is recorded as a restock, so the history
    adds up. InvalidInput for a taken SKU (case-insensitive) or bad values.

    An item that starts at or below its threshold is low from the start, without a stock_low
    event: nothing crossed."""
    opening = _quantity(values.pop("quantity_on_hand", 0), "quantity_on_hand")
    values.setdefault("name", "")
    clean = _clean_item(values)
    sku_check(workspace, clean.get("sku", ""))
    with transaction.atomic():
        item = InventoryItem(workspace=workspace, quantity_on_hand=0, **clean)
        item.low_since = timezone.now() if item.is_low else None
        try:
            with transaction.atomic():
                item.save()
        except IntegrityError as exc:
            # Two people adding the same SKU at once: the unique index decides.
            if is_constraint(exc, SKU_CONSTRAINT):
                raise InvalidInput(fields={"sku": [_sku_taken(item.sku)]}) from None
            raise
        if opening:
            stock_move(
                item=item, kind=Kind.RESTOCK, quantity=opening, actor=actor, note="Opening stock"
            )
    log.info("inventory_item_created", item_id=item.pk, workspace_id=workspace.pk)
    return item


def item_update(*, item: InventoryItem, actor, **changes: Any) -> InventoryItem:
    """Change an item's details (not its quantity: that moves through stock_move). A changed
    threshold re-evaluates the low state (and may raise stock_low)."""
    clean = _clean_item(changes)
    if "sku" in clean:
        sku_check(item.workspace_id, clean["sku"], exclude_pk=item.pk)
    with transaction.atomic():
        # Locked: a usage landing while the threshold changes must see one state or the other.
        current = InventoryItem.objects.select_for_update().get(pk=item.pk)
        for field, value in clean.items():
            setattr(current, field, value)
        try:
            with transaction.atomic():
                current.save(update_fields=[*clean, "updated_at"])
        except IntegrityError as exc:
            if is_constraint(exc, SKU_CONSTRAINT):
                raise InvalidInput(fields={"sku": [_sku_taken(current.sku)]}) from None
            raise
        _settle_low_state(current)
    for field in InventoryItem._meta.concrete_fields:
        setattr(item, field.attname, getattr(current, field.attname))
    return item


# --- Stock movements --------------------------------------------------------------------------


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
      the shortfall; only an owner of the item's workspace (`actor`) may allow it: Forbidden
      (403) otherwise. (Booking consumption always allows it: the service was delivered.)
    - restock: on hand += quantity.
    - correction: `quantity` is the counted quantity on hand; the row records the difference.

    Falling to or below the threshold from above raises inventory.signals.stock_low once, in
    the transaction; rising above it re-arms. Any rise sends inventory.signals.stock_restocked.
    Concurrent moves never lose an update."""
    if kind not in Kind.values:
        raise InvalidInput(fields={"kind": [f"Choose one of: {', '.join(Kind.values)}."]})
    field = "counted" if kind == Kind.CORRECTION else "quantity"
    quantity = _quantity(quantity, field, minimum=0 if kind == Kind.CORRECTION else 1)
    note = str(note or "").strip()
    if len(note) > 255:
        raise InvalidInput(fields={"note": ["At most 255 characters."]})
    if booking is not None and booking.workspace_id != item.workspace_id:
        raise InvalidInput(fields={"booking": ["No such booking in this workspace."]})
    if allow_shortfall and kind == Kind.USAGE and not _is_owner(actor, item.workspace_id):
        raise Forbidden(SHORTFALL_OWNER_ONLY)

    rows = InventoryItem.objects.filter(pk=item.pk)
    shortfall = 0
    with transaction.atomic():
        if kind in (Kind.USAGE, Kind.BOOKING):
            # One UPDATE, conditional on there being enough: it takes the row lock, so the
            # re-read below sees exactly this transaction's result.
            taken = rows.filter(quantity_on_hand__gte=quantity).update(
                quantity_on_hand=F("quantity_on_hand") - quantity, updated_at=timezone.now()
            )
            change = -quantity
            if not taken:
                on_hand = rows.select_for_update().values_list("quantity_on_hand", flat=True).get()
                if on_hand >= quantity:  # restocked between the two statements
                    rows.update(quantity_on_hand=F("quantity_on_hand") - quantity)
                elif not (allow_shortfall or kind == Kind.BOOKING):
                    raise InsufficientStock(
                        f"Only {on_hand} in stock: {quantity} cannot be used.",
                        extra={"quantity_on_hand": on_hand},
                    )
                else:
                    # Locked now: stock stops at zero and the ledger notes what was missing.
                    change, shortfall = -on_hand, quantity - on_hand
                    rows.update(quantity_on_hand=0)
        elif kind == Kind.RESTOCK:
            change = quantity
            try:
                with transaction.atomic():
                    rows.update(
                        quantity_on_hand=F("quantity_on_hand") + quantity,
                        updated_at=timezone.now(),
                    )
            except DataError:
                raise InvalidInput(
                    fields={"quantity": ["That would hold more than can be counted."]}
                ) from None
        else:
            on_hand = rows.select_for_update().values_list("quantity_on_hand", flat=True).get()
            change = quantity - on_hand
            rows.update(quantity_on_hand=quantity, updated_at=timezone.now())

        current = rows.get()
        usage = InventoryUsage.objects.create(
            workspace_id=current.workspace_id,
            item=current,
            kind=kind,
            quantity=abs(change) if kind == Kind.CORRECTION else quantity,
            change=change,
            balance_after=current.quantity_on_hand,
            shortfall=shortfall,
            actor=actor,
            booking=booking,
            occurred_at=occurred_at or timezone.now(),
            note=note,
        )
        _settle_low_state(current)
        if change > 0:
            stock_restocked.send(sender=InventoryItem, item=current)
    _copy_stock(item, current)
    log.info(
        "inventory_stock_moved",
        item_id=item.pk,
        kind=kind,
        change=change,
        balance_after=current.quantity_on_hand,
        shortfall=shortfall,
    )
    return usage


def booking_consume(*, booking, actor=None) -> list[InventoryUsage]:
    """Record what the booking's type consumes, once per booking and item (a second call, or a
    status set twice, records nothing more)."""
    consumptions = (
        BookingTypeConsumption.objects.for_workspace(booking.workspace_id)
        .filter(booking_type_id=booking.booking_type_id)
        .select_related("item")
        .order_by("item_id")  # one lock order for every completion: no deadlocks between them
    )
    done = set(
        InventoryUsage.objects.filter(booking=booking, kind=Kind.BOOKING).values_list(
            "item_id", flat=True
        )
    )
    usages = []
    for consumption in consumptions:
        if consumption.item_id in done:
            continue
        try:
            with transaction.atomic():
                usages.append(
                    stock_move(
                        item=consumption.item,
                        kind=Kind.BOOKING,
                        quantity=consumption.quantity,
                        actor=actor,
                        booking=booking,
                        note=f"Booking #{booking.pk}",
                    )
                )
        except IntegrityError as exc:
            # Recorded meanwhile by another completion of the same booking: once is enough.
            if not is_constraint(exc, ONCE_PER_BOOKING):
                raise
    return usages


def consumption_set(*, booking_type, item: InventoryItem, quantity: int, actor) -> None:
    """What one booking of the type uses of the item; quantity 0 removes it."""
    quantity = _quantity(quantity, "quantity")
    if booking_type.workspace_id != item.workspace_id:
        raise InvalidInput(fields={"booking_type": ["No such service in this workspace."]})
    consumptions = BookingTypeConsumption.objects.filter(booking_type=booking_type, item=item)
    if quantity == 0:
        consumptions.delete()
        return
    BookingTypeConsumption.objects.update_or_create(
        booking_type=booking_type,
        item=item,
        defaults={"quantity": quantity},
        create_defaults={"quantity": quantity, "workspace_id": item.workspace_id},
    )

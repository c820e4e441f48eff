"""Reads of inventory that the API and the pages share. Every one takes the workspace (or an item
already fetched through it): another workspace's rows are never in reach."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, Booking
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


# --- The forecast -----------------------------------------------------------------------------

FORECAST_SHORT_DAYS = 7
FORECAST_LONG_DAYS = 30


@dataclass(frozen=True)
class ItemForecast:
    """What the upcoming bookings will use of an item: over the next 7 and 30 days of the
    workspace (today counts as the first), the date the stock runs out at that pace (None if
    it lasts the 30 days), and whether it is short for the next 7; and what the bookings until
    the end of tomorrow need (the next day's work: critical-stock alerts)."""

    needed_7d: int = 0
    needed_30d: int = 0
    runs_out_on: date | None = None
    short_7d: bool = False
    needed_next_day: int = 0


def items_forecast(
    *, workspace, items: Iterable[InventoryItem], now: datetime | None = None
) -> dict[int, ItemForecast]:
    """The forecast of each of the workspace's `items`, by item id, from the pending and
    confirmed bookings that start between `now` and the end of the workspace's 30th day (today
    the first), each needing what its service consumes. One query, however many items."""
    items = list(items)
    now = now or timezone.now()
    today = workspace.today(now)
    short_end = workspace.midnight(today + timedelta(days=FORECAST_SHORT_DAYS))
    next_day_end = workspace.midnight(today + timedelta(days=2))
    long_end = workspace.midnight(today + timedelta(days=FORECAST_LONG_DAYS))
    zone = workspace.zone
    # One row per item and local start day: (item, day, the day's need, its part before the
    # end of the 7th day). Index bookings_booking_active_start serves the range.
    rows = (
        Booking.objects.for_workspace(workspace)
        .filter(
            status__in=ACTIVE_STATUSES,
            start__gte=now,
            start__lt=long_end,
            booking_type__consumptions__item__in=[item.pk for item in items],
        )
        .values("booking_type__consumptions__item", day=TruncDate("start", tzinfo=zone))
        .annotate(
            need=Sum("booking_type__consumptions__quantity"),
            need_short=Sum("booking_type__consumptions__quantity", filter=Q(start__lt=short_end)),
            need_next=Sum("booking_type__consumptions__quantity", filter=Q(start__lt=next_day_end)),
        )
        .order_by("booking_type__consumptions__item", "day")
    )
    days: dict[int, list[tuple[date, int, int, int]]] = defaultdict(list)
    if items:
        for row in rows:
            days[row["booking_type__consumptions__item"]].append(
                (row["day"], row["need"], row["need_short"] or 0, row["need_next"] or 0)
            )
    forecasts = {}
    for item in items:
        needed_7d = needed_30d = needed_next_day = 0
        runs_out_on = None
        for day, need, need_short, need_next in days.get(item.pk, ()):
            needed_7d += need_short
            needed_next_day += need_next
            needed_30d += need
            if runs_out_on is None and needed_30d > item.quantity_on_hand:
                runs_out_on = day
        forecasts[item.pk] = ItemForecast(
            needed_7d=needed_7d,
            needed_30d=needed_30d,
            runs_out_on=runs_out_on,
            short_7d=needed_7d > item.quantity_on_hand,
            needed_next_day=needed_next_day,
        )
    return forecasts


def items_with_forecast(
    *, workspace, items: Iterable[InventoryItem], now: datetime | None = None
) -> list[InventoryItem]:
    """The items as a list, each with its `forecast` (an ItemForecast) set: what the list page
    and the API render."""
    items = list(items)
    forecasts = items_forecast(workspace=workspace, items=items, now=now)
    for item in items:
        item.forecast = forecasts[item.pk]
    return items

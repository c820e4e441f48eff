"""Stock alerts: low (at or below the item's threshold) and critical (none on hand, or less than
the bookings until the end of tomorrow need), raised by the hourly check and by stock_low,
resolved by the check and at once by a restock. Both reach the owners by email and at the top
of their inbox where the rule says so (Rule.email_owners, Rule.inbox_owners; the inbox note
closes with the alert), and in the app (the alerts page, the dashboard) always."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

import structlog
from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from automation.alerts.core import (
    alert_email_queue,
    alert_notice_source,
    alert_raise,
    alerted,
    alerts_close_noticed,
    alerts_resolve,
    unresolved,
)
from automation.models import Alert, Rule
from automation.selectors import OPEN
from inventory.models import BookingTypeConsumption, InventoryItem
from inventory.selectors import items_forecast
from messaging.services import notices_post_many
from workspaces.models import Workspace

log = structlog.get_logger(__name__)

LOW, CRITICAL = Alert.Kind.STOCK_LOW, Alert.Kind.STOCK_CRITICAL
STOCK_KINDS = (LOW, CRITICAL)


def _unit(item: InventoryItem) -> str:
    return f" {item.unit}" if item.unit else ""


def stock_low_message(item: InventoryItem) -> str:
    return (
        f"{item.name} is low: {item.quantity_on_hand}{_unit(item)} left "
        f"(threshold {item.low_stock_threshold})"
    )


def stock_low_raise(item: InventoryItem) -> tuple[Alert, bool]:
    return alert_raise(
        workspace=item.workspace_id,
        kind=LOW,
        subject_id=item.pk,
        message=stock_low_message(item),
    )


def stock_critical_message(item: InventoryItem, needed: int) -> str:
    if item.quantity_on_hand <= 0:
        return f"{item.name} is out of stock"
    return (
        f"{item.name} is short for the next day's bookings: {item.quantity_on_hand}"
        f"{_unit(item)} left, {needed} needed"
    )


def is_critical(item: InventoryItem, needed_next_day: int) -> bool:
    return item.is_active and (
        item.quantity_on_hand <= 0 or item.quantity_on_hand < needed_next_day
    )


def _critical_items(items: list[InventoryItem], now: datetime) -> dict[int, tuple]:
    """Of the items (any workspaces), the critical ones: {item id: (item, needed next day)}.
    One forecast query per workspace."""
    by_workspace: dict[int, list[InventoryItem]] = defaultdict(list)
    for item in items:
        by_workspace[item.workspace_id].append(item)
    workspaces = Workspace.objects.in_bulk(list(by_workspace))
    critical = {}
    for workspace_id, its in by_workspace.items():
        forecasts = items_forecast(workspace=workspaces[workspace_id], items=its, now=now)
        for item in its:
            needed = forecasts[item.pk].needed_next_day
            if is_critical(item, needed):
                critical[item.pk] = (item, needed)
    return critical


def stock_recheck(item: InventoryItem, *, now: datetime | None = None) -> int:
    """After a restock: resolve the item's stock alerts whose cause is gone. Returns how many."""
    now = now or timezone.now()
    resolved = 0
    if not item.is_active or item.low_since is None:
        resolved += alerts_resolve(workspace=item.workspace_id, kind=LOW, subject_id=item.pk)
    if not _critical_items([item], now):
        resolved += alerts_resolve(workspace=item.workspace_id, kind=CRITICAL, subject_id=item.pk)
    return resolved


def inventory_check(*, now: datetime | None = None) -> int:
    """The hourly check. Low: every active low item of a workspace whose low-stock rule is on
    gets an alert (an item low from the start raised no event; an event may have been lost to a
    switched-off rule since switched on), unless one raised since it went low is still
    unresolved (acknowledged or not: staff acknowledging an alert are not alerted again until
    the item is restocked and goes low again); the unresolved low alerts of items no longer low
    are resolved. Critical: likewise for the items with none on hand or less than the next
    day's bookings need (active items that are out, or that a service uses). Open stock alerts
    of workspaces emailing their owners that were never emailed (the email task gave up, or its
    queueing was lost, or the alert was just raised) are queued, and those of workspaces posting
    to their owners' inbox are posted there (once per alert: one posted before, even one an
    owner marked done, is left alone); resolving an alert closes its note. Safe to run twice.
    Returns how many alerts it raised."""
    now = now or timezone.now()
    still_low = Exists(
        InventoryItem.objects.filter(
            pk=OuterRef("subject_id"),
            workspace_id=OuterRef("workspace_id"),
            is_active=True,
            low_since__isnull=False,
        )
    )
    resolved = alerts_close_noticed(unresolved(LOW).exclude(still_low), now=now)

    # A workspace without rule rows yet has every rule on, with its defaults.
    stock_rules = Rule.objects.filter(kind=Rule.Kind.STOCK_LOW)
    switched_off = set(stock_rules.filter(is_enabled=False).values_list("workspace_id", flat=True))
    emailing, posting = set(), set()
    for workspace_id, email_owners, inbox_owners in stock_rules.filter(is_enabled=True).values_list(
        "workspace_id", "email_owners", "inbox_owners"
    ):
        if email_owners:
            emailing.add(workspace_id)
        if inbox_owners:
            posting.add(workspace_id)
    low_items = (
        InventoryItem.objects.filter(is_active=True, low_since__isnull=False)
        .exclude(workspace_id__in=switched_off)
        .exclude(alerted(LOW, created_at__gte=OuterRef("low_since")))
        .order_by("pk")
    )
    raised = 0
    for item in list(low_items):
        with transaction.atomic():
            _, created = stock_low_raise(item)
        raised += created

    # Critical: the items that may be (out, or used by a service), and those alerted before.
    candidates = list(
        InventoryItem.objects.filter(is_active=True)
        .filter(
            Q(quantity_on_hand__lte=0)
            | Exists(BookingTypeConsumption.objects.filter(item=OuterRef("pk")))
            | alerted(CRITICAL)
        )
        .annotate(alerted=alerted(CRITICAL))
        .order_by("pk")
    )
    critical = _critical_items(candidates, now)
    resolved += alerts_close_noticed(
        unresolved(CRITICAL).exclude(subject_id__in=list(critical)), now=now
    )
    for item in candidates:
        if item.pk not in critical or item.alerted or item.workspace_id in switched_off:
            continue
        with transaction.atomic():
            _, created = alert_raise(
                workspace=item.workspace_id,
                kind=CRITICAL,
                subject_id=item.pk,
                message=stock_critical_message(item, critical[item.pk][1]),
            )
        raised += created

    # Every open, never-emailed stock alert of an emailing workspace (the ones just raised
    # among them): the task sends each at most once (emailed_at under the alert's row lock).
    unsent = list(
        Alert.objects.filter(
            OPEN, kind__in=STOCK_KINDS, emailed_at__isnull=True, workspace_id__in=emailing
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for alert_id in unsent:
        alert_email_queue(alert_id)

    # Every open stock alert of a workspace posting to its owners' inbox, in one insert that
    # skips those posted before.
    if posting:
        notices_post_many(
            [
                {
                    "workspace_id": workspace_id,
                    "source": alert_notice_source(pk),
                    "title": message,
                    "url": url,
                }
                for pk, workspace_id, message, url in Alert.objects.filter(
                    OPEN, kind__in=STOCK_KINDS, workspace_id__in=posting
                )
                .order_by("pk")
                .values_list("pk", "workspace_id", "message", "url")
            ]
        )
    if raised or resolved or unsent:
        log.info("inventory_checked", raised=raised, resolved=resolved, emails=len(unsent))
    return raised

"""Alerts staff act on: raised once per subject and kind while open, acknowledged by staff,
resolved when the cause is gone."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from automation.models import Alert, Rule
from automation.selectors import OPEN
from careops.db import is_constraint
from inventory.models import InventoryItem
from workspaces.models import Membership

log = structlog.get_logger(__name__)

ONE_OPEN_CONSTRAINT = "automation_alert_one_open_per_subject"
ITEM_SUBJECT = "inventory_item"


def _open_alerts(*, workspace, kind: str, subject_type: str, subject_id: int):
    return (
        Alert.objects.for_workspace(workspace)
        .filter(OPEN, kind=kind, subject_type=subject_type, subject_id=subject_id)
        .order_by("pk")
    )


def alert_raise(
    *,
    workspace,
    kind: str,
    subject_type: str,
    subject_id: int,
    message: str,
    url: str = "",
    severity: str = Alert.Severity.WARNING,
) -> tuple[Alert, bool]:
    """The open alert for this subject and kind, created if there is none (the partial unique
    constraint settles a race: the loser returns the winner's). Returns (alert, created)."""
    workspace_id = getattr(workspace, "pk", workspace)
    lookup = {"kind": kind, "subject_type": subject_type, "subject_id": subject_id}
    # Twice at most: the winner of a race may be acknowledged between our insert and our read,
    # and then there is room for ours again.
    for _ in range(2):
        existing = _open_alerts(workspace=workspace_id, **lookup).first()
        if existing is not None:
            return existing, False
        try:
            with transaction.atomic():
                alert = Alert.objects.create(
                    workspace_id=workspace_id,
                    severity=severity,
                    message=message[:255],
                    url=url,
                    **lookup,
                )
        except IntegrityError as exc:
            # Another transaction raised the same alert since our read: the constraint kept
            # one, and (READ COMMITTED) the next read sees it.
            if not is_constraint(exc, ONE_OPEN_CONSTRAINT):
                raise
            continue
        log.info("alert_raised", alert_id=alert.pk, kind=kind, subject_id=subject_id)
        return alert, True
    existing = _open_alerts(workspace=workspace_id, **lookup).first()
    if existing is None:  # pragma: no cover - raised and closed twice within one call
        raise RuntimeError("The alert was raised and closed while raising it.")
    return existing, False


def alert_acknowledge(*, alert: Alert, actor, now: datetime | None = None) -> Alert:
    """Staff saw it and act on it. Idempotent."""
    now = now or timezone.now()
    # Conditional: of two people acknowledging at once, the first one is recorded.
    Alert.objects.filter(pk=alert.pk, acknowledged_at__isnull=True).update(
        acknowledged_at=now, acknowledged_by=actor, updated_at=now
    )
    alert.refresh_from_db(fields=["acknowledged_at", "acknowledged_by", "updated_at"])
    log.info("alert_acknowledged", alert_id=alert.pk, user_id=getattr(actor, "pk", None))
    return alert


def alerts_resolve(
    *, workspace, kind: str, subject_type: str, subject_id: int, now: datetime | None = None
) -> int:
    """The cause is gone (the form completed, the item restocked): close its open alerts."""
    now = now or timezone.now()
    resolved = _open_alerts(
        workspace=workspace, kind=kind, subject_type=subject_type, subject_id=subject_id
    ).update(resolved_at=now, updated_at=now)
    if resolved:
        log.info("alerts_resolved", kind=kind, subject_id=subject_id, count=resolved)
    return resolved


# --- Low stock ---------------------------------------------------------------------------------


def stock_low_message(item: InventoryItem) -> str:
    unit = f" {item.unit}" if item.unit else ""
    return (
        f"{item.name} is low: {item.quantity_on_hand}{unit} left "
        f"(threshold {item.low_stock_threshold})"
    )


def stock_low_raise(item: InventoryItem) -> tuple[Alert, bool]:
    return alert_raise(
        workspace=item.workspace_id,
        kind=Alert.Kind.STOCK_LOW,
        subject_type=ITEM_SUBJECT,
        subject_id=item.pk,
        message=stock_low_message(item),
        url=reverse("inventory-detail", args=[item.pk]),
    )


def alert_email_queue(alert: Alert | int) -> None:
    """Email the owners about the alert once the raising transaction commits."""
    from automation.tasks import automation_email_alert
    from careops.queue import enqueue_on_commit

    enqueue_on_commit(automation_email_alert, getattr(alert, "pk", alert))


def inventory_check(*, now: datetime | None = None) -> int:
    """The hourly check: every active low item of a workspace whose low-stock rule is on gets
    an alert (an item low from the start raised no event; an event may have been lost to a
    switched-off rule since switched on), unless one raised since it went low is still
    unresolved (acknowledged or not: staff acknowledging an alert are not alerted again until
    the item is restocked and goes low again); the unresolved stock alerts of items no longer
    low are resolved. Open alerts of workspaces emailing their owners that were never emailed
    (the email task gave up, or its queueing was lost) are queued again. Safe to run twice.
    Returns how many alerts it raised."""
    now = now or timezone.now()
    resolved = (
        Alert.objects.filter(
            kind=Alert.Kind.STOCK_LOW, subject_type=ITEM_SUBJECT, resolved_at__isnull=True
        )
        .exclude(
            Exists(
                InventoryItem.objects.filter(
                    pk=OuterRef("subject_id"),
                    workspace_id=OuterRef("workspace_id"),
                    is_active=True,
                    low_since__isnull=False,
                )
            )
        )
        .update(resolved_at=now, updated_at=now)
    )

    # A workspace without rule rows yet has every rule on, with its defaults.
    stock_rules = Rule.objects.filter(kind=Rule.Kind.STOCK_LOW)
    switched_off = stock_rules.filter(is_enabled=False).values("workspace_id")
    emailing = set(
        stock_rules.filter(is_enabled=True, email_owners=True).values_list(
            "workspace_id", flat=True
        )
    )
    items = (
        InventoryItem.objects.filter(is_active=True, low_since__isnull=False)
        .exclude(workspace_id__in=switched_off)
        .exclude(
            Exists(
                Alert.objects.filter(
                    kind=Alert.Kind.STOCK_LOW,
                    subject_type=ITEM_SUBJECT,
                    subject_id=OuterRef("pk"),
                    workspace_id=OuterRef("workspace_id"),
                    resolved_at__isnull=True,
                    created_at__gte=OuterRef("low_since"),
                )
            )
        )
        .order_by("pk")
    )
    raised = 0
    for item in list(items):
        with transaction.atomic():
            _, created = stock_low_raise(item)
        raised += created
    # Every open, never-emailed stock alert of an emailing workspace (the ones just raised
    # among them): the task sends each at most once (emailed_at under the alert's row lock).
    unsent = list(
        Alert.objects.filter(
            OPEN,
            kind=Alert.Kind.STOCK_LOW,
            emailed_at__isnull=True,
            workspace_id__in=emailing,
        )
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for alert_id in unsent:
        alert_email_queue(alert_id)
    if raised or resolved or unsent:
        log.info("inventory_checked", raised=raised, resolved=resolved, emails=len(unsent))
    return raised


# --- Email to owners ---------------------------------------------------------------------------


def alert_email_owners(*, alert_id: int) -> bool:
    """Email the workspace's owners about the alert, once: emailed_at is set under the alert's
    row lock in the transaction that sends (a crash before the commit sends again on retry, at
    least once; two workers never both send). An alert closed before its email went out is not
    emailed. Returns False when there was nothing to send."""
    with transaction.atomic():
        alert = (
            Alert.objects.select_for_update(of=("self",))
            .select_related("workspace")
            .filter(pk=alert_id, emailed_at__isnull=True)
            .first()
        )
        if alert is None or not alert.is_open:
            return False
        recipients = list(
            Membership.objects.filter(workspace_id=alert.workspace_id, role=Membership.Role.OWNER)
            .exclude(user__email="")
            .order_by("user__email")
            .values_list("user__email", flat=True)
        )
        if not recipients:
            log.warning("alert_email_no_owner", alert_id=alert.pk)
            return False
        context = {
            "alert": alert,
            "workspace": alert.workspace,
            "url": f"{settings.SITE_URL}{alert.url or reverse('dashboard')}",
        }
        send_mail(
            # One line: a name typed with a line break must not break the header.
            subject=" ".join(f"[{alert.workspace.name}] {alert.message}".split())[:200],
            message=render_to_string("messages/alert_email.txt", context),
            from_email=None,
            recipient_list=recipients,
        )
        alert.emailed_at = timezone.now()
        alert.save(update_fields=["emailed_at", "updated_at"])
    log.info("alert_emailed", alert_id=alert_id, recipients=len(recipients))
    return True

"""Alerts staff act on: raised once per subject and kind while open, acknowledged by staff,
resolved when the cause is gone; and the owners' email about one, and the note in their inbox
(stock alerts, where the rule says so), closed with the alert."""

from __future__ import annotations

from datetime import datetime

import structlog
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from automation.alerts.catalogue import CATALOGUE
from automation.models import Alert
from automation.selectors import OPEN
from careops.db import is_constraint
from messaging.services import notice_post, notices_close_sources
from workspaces.models import Membership

log = structlog.get_logger(__name__)

ONE_OPEN_CONSTRAINT = "automation_alert_one_open_per_subject"
# The kinds that may post a note to the owners' inbox (Rule.inbox_owners): closing one of these
# alerts closes its note.
INBOX_KINDS = frozenset({Alert.Kind.STOCK_LOW, Alert.Kind.STOCK_CRITICAL})


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
    subject_id: int,
    message: str,
    subject_type: str | None = None,
    url: str | None = None,
    severity: str | None = None,
) -> tuple[Alert, bool]:
    """The open alert for this subject and kind, created if there is none (the partial unique
    constraint settles a race: the loser returns the winner's). Its severity, subject type and
    link come from the catalogue unless given. Returns (alert, created)."""
    # A kind missing from the catalogue (being added) must say all of it.
    spec = CATALOGUE.get(kind)
    if spec is None and subject_type is None:
        raise ValueError(f"{kind} is not in the alert catalogue: give its subject_type.")
    subject_type = subject_type or spec.subject_type
    severity = severity or (spec.severity if spec else Alert.Severity.WARNING)
    if url is None:
        url = spec.url(subject_id) if spec else ""
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
    if alert.kind in INBOX_KINDS:
        alert_notices_close([(alert.pk, alert.workspace_id)])
    log.info("alert_acknowledged", alert_id=alert.pk, user_id=getattr(actor, "pk", None))
    return alert


def alerts_resolve(
    *,
    workspace,
    kind: str,
    subject_id: int,
    subject_type: str | None = None,
    now: datetime | None = None,
) -> int:
    """The cause is gone (the form completed, the item restocked): close its alerts, the
    acknowledged ones too (they are then resolved, and a new occurrence raises a new alert)."""
    now = now or timezone.now()
    alerts = Alert.objects.for_workspace(workspace).filter(
        kind=kind,
        subject_type=subject_type or CATALOGUE[kind].subject_type,
        subject_id=subject_id,
        resolved_at__isnull=True,
    )
    resolved = (
        alerts_close_noticed(alerts, now=now)
        if kind in INBOX_KINDS
        else alerts.update(resolved_at=now, updated_at=now)
    )
    if resolved:
        log.info("alerts_resolved", kind=kind, subject_id=subject_id, count=resolved)
    return resolved


def alerts_close_noticed(alerts: QuerySet[Alert], *, now: datetime) -> int:
    """Resolve the alerts (unresolved ones, of kinds that may have a note in the owners' inbox)
    and close their notes: one read for their ids, one update each for the alerts and the
    notes (none when there is nothing to resolve). Returns how many were resolved."""
    found = list(alerts.values_list("pk", "workspace_id"))
    if not found:
        return 0
    ids = [pk for pk, _ in found]
    resolved = Alert.objects.filter(pk__in=ids, resolved_at__isnull=True).update(
        resolved_at=now, updated_at=now
    )
    alert_notices_close(found)
    return resolved


def unresolved(kind: str, **extra) -> QuerySet[Alert]:
    """Every workspace's unresolved alerts of a kind (the sweeps: index
    automation_alert_unresolved)."""
    return Alert.objects.filter(
        kind=kind, subject_type=CATALOGUE[kind].subject_type, resolved_at__isnull=True, **extra
    )


def alerted(kind: str, **extra) -> Exists:
    """In a query of the kind's subjects: the subject has an unresolved alert of the kind."""
    return Exists(
        unresolved(kind, subject_id=OuterRef("pk"), workspace_id=OuterRef("workspace_id"), **extra)
    )


def alerts_resolve_gone(kind: str, still, *, now: datetime) -> int:
    """The sweeps' resolution: every unresolved alert of the kind whose subject is not in
    `still` (a queryset of the subjects whose cause lasts) is resolved."""
    resolved = (
        unresolved(kind)
        .exclude(
            Exists(still.filter(pk=OuterRef("subject_id"), workspace_id=OuterRef("workspace_id")))
        )
        .update(resolved_at=now, updated_at=now)
    )
    if resolved:
        log.info("alerts_resolved", kind=kind, count=resolved)
    return resolved


def alert_email_queue(alert: Alert | int) -> None:
    """Email the owners about the alert once the raising transaction commits."""
    from automation.tasks import automation_email_alert
    from careops.queue import enqueue_on_commit

    enqueue_on_commit(automation_email_alert, getattr(alert, "pk", alert))


# --- The note in the owners' inbox ------------------------------------------------------------


def alert_notice_source(alert_id: int) -> str:
    return f"alert:{alert_id}"


def alert_notice_post(alert: Alert) -> None:
    """Post the alert to the top of the owners' inbox, once (the notice's source is the alert)."""
    notice_post(
        workspace=alert.workspace_id,
        source=alert_notice_source(alert.pk),
        title=alert.message,
        url=alert.url,
    )


def alert_notices_close(alerts: list[tuple[int, int]]) -> int:
    """The alerts ((id, workspace id) pairs) were resolved or acknowledged: their notes in the
    owners' inbox, if any, are closed (one query)."""
    return notices_close_sources(
        [(workspace_id, alert_notice_source(pk)) for pk, workspace_id in alerts]
    )


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

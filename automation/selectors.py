"""Reads of automation that pages, the dashboard and the API share."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Q, QuerySet

from automation.models import Alert

OPEN = Q(acknowledged_at__isnull=True, resolved_at__isnull=True)


def alerts_for_workspace(
    *,
    workspace,
    is_open: bool | None = True,
    kind: str | None = None,
    kinds: Iterable[str] | None = None,
) -> QuerySet[Alert]:
    """The workspace's alerts, newest first (acknowledger joined): the open ones, the closed
    ones (`is_open=False`: acknowledged or resolved), or all (`None`); of one kind, or of the
    `kinds` a member may see (automation.alerts.alert_kinds_visible; None: every kind)."""
    alerts = Alert.objects.for_workspace(workspace)
    if kinds is not None:
        alerts = alerts.filter(kind__in=list(kinds))
    if is_open is True:
        alerts = alerts.filter(OPEN)
    elif is_open is False:
        alerts = alerts.exclude(OPEN)
    if kind:
        alerts = alerts.filter(kind=kind)
    return alerts.select_related("acknowledged_by").order_by("-created_at", "-pk")

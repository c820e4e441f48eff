"""Reads of automation that pages, the dashboard and the API share."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from automation.models import Alert
from workspaces.models import Area

OPEN = Q(acknowledged_at__isnull=True, resolved_at__isnull=True)

# The area whose work each kind of alert leads to: staff see an alert only when that area is
# open to them. A kind not named here (an integration failing) is for owners only.
ALERT_AREAS: dict[str, str] = {
    Alert.Kind.FORM_OVERDUE: Area.FORMS,
    Alert.Kind.STOCK_LOW: Area.INVENTORY,
}


def alert_area(kind: str) -> str | None:
    """The area of an alert's kind; None for the kinds only owners see."""
    return ALERT_AREAS.get(kind)


def alert_kinds_in(areas) -> list[str]:
    return [kind for kind, area in ALERT_AREAS.items() if area in areas]


def alerts_for_workspace(
    *, workspace, is_open: bool | None = True, kind: str | None = None, areas=None
) -> QuerySet[Alert]:
    """The workspace's alerts, newest first (acknowledger joined): the open ones, the closed
    ones (`is_open=False`: acknowledged or resolved), or all (`None`); with `areas` (a staff
    member's), only the kinds of those areas."""
    alerts = Alert.objects.for_workspace(workspace)
    if areas is not None:
        alerts = alerts.filter(kind__in=alert_kinds_in(areas))
    if is_open is True:
        alerts = alerts.filter(OPEN)
    elif is_open is False:
        alerts = alerts.exclude(OPEN)
    if kind:
        alerts = alerts.filter(kind=kind)
    return alerts.select_related("acknowledged_by").order_by("-created_at", "-pk")

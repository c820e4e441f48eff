"""The dashboard's panels: each a read of one app's data, cut to what a panel shows, in one or
two queries whatever the workspace holds. An owner's panels cover the workspace; a staff
member's (`staff=user`) cover their own work: the bookings they deliver and the shared
calendar's (no one in particular delivers those, so everyone on shift sees them), the
conversations assigned to them, and the forms of those bookings or that they sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from django.db.models import Count, Prefetch, Q, Subquery
from django.db.models.functions import TruncDate

from automation.alerts import alert_kinds_visible
from automation.selectors import alerts_for_workspace
from bookings.models import ACTIVE_STATUSES
from bookings.selectors import bookings_for_workspace, bookings_today
from careops.dashboard.stats import Period
from forms.models import FormSubmission
from forms.selectors import submissions_for_workspace
from inventory.selectors import items_low
from messaging.models import Conversation
from messaging.selectors import conversations_for_workspace
from workspaces.models import Area

# How many rows a panel lists; its heading links to the page that has the rest.
LIMIT = 8
OPEN_FORMS = (FormSubmission.Status.PENDING, FormSubmission.Status.OVERDUE)


@dataclass
class Panel:
    rows: list[Any]
    more: bool = False  # there are rows beyond LIMIT
    counts: dict[str, int] = field(default_factory=dict)
    days: list[tuple[date, int]] = field(default_factory=list)  # the week: (day, bookings)


def _cut(rows, limit: int = LIMIT) -> tuple[list, bool]:
    rows = list(rows[: limit + 1])
    return rows[:limit], len(rows) > limit


def _delivered_by(staff, through: str = "") -> Q:
    """Bookings a staff member delivers: their own and the shared calendar's."""
    shared = Q(**{f"{through}staff__isnull": True})
    if through:  # a form sent without a booking is not a shared booking's
        shared &= Q(**{f"{through.removesuffix('__')}__isnull": False})
    return Q(**{f"{through}staff": staff}) | shared


def panel_today(*, workspace, staff=None, now: datetime | None = None) -> Panel:
    """Today's bookings (a staff member's own), each with its forms' statuses: 2 queries."""
    bookings = bookings_today(workspace=workspace, now=now)
    if staff is not None:
        bookings = bookings.filter(_delivered_by(staff))
    forms = Prefetch(
        "form_submissions",
        queryset=FormSubmission.objects.only(
            "pk", "booking_id", "status", "template_name"
        ).order_by("template_name", "pk"),
        to_attr="forms",
    )
    rows, more = _cut(bookings.prefetch_related(forms))
    return Panel(rows, more)


def panel_week(*, workspace, staff=None, now: datetime | None = None) -> Panel:
    """The next seven days after today: active bookings per day, zero-filled (`days`), and
    the first of them (`rows`): 2 queries."""
    today = workspace.today(now)
    week = Period(
        start=today + timedelta(days=1), end=today + timedelta(days=7), zone=workspace.zone
    )
    bookings = bookings_for_workspace(
        workspace=workspace,
        status=ACTIVE_STATUSES,
        start_from=week.start_at,
        start_to=week.end_at,
    )
    if staff is not None:
        bookings = bookings.filter(_delivered_by(staff))
    per_day = dict(
        bookings.order_by()
        .annotate(day=TruncDate("start", tzinfo=workspace.zone))
        .values("day")
        .annotate(n=Count("pk"))
        .values_list("day", "n")
    )
    rows, more = _cut(bookings)
    return Panel(rows, more, days=[(day, per_day.get(day, 0)) for day in week.dates()])


def panel_conversations(*, workspace, staff=None) -> Panel:
    """Unread conversations (for staff: the ones assigned to them, unread first), with the
    unread count: 2 queries."""
    listed = conversations_for_workspace(workspace=workspace)
    mine = Conversation.objects.for_workspace(workspace)  # counted bare: no joins, no annotation
    if staff is None:
        listed = listed.filter(unread_count__gt=0)
    else:
        listed = listed.filter(assigned_to=staff).order_by(
            "-unread_count", "-last_message_at", "-pk"
        )
        mine = mine.filter(assigned_to=staff)
    rows, more = _cut(listed)
    return Panel(rows, more, counts={"unread": mine.filter(unread_count__gt=0).count()})


def panel_forms(*, workspace, staff=None) -> Panel:
    """Pending and overdue forms, overdue and soonest due first (for staff: the forms of the
    bookings they deliver), with both counts: 2 queries."""
    submissions = submissions_for_workspace(workspace=workspace, status=OPEN_FORMS)
    if staff is not None:
        submissions = submissions.filter(
            _delivered_by(staff, through="booking__") | Q(sent_by=staff)
        )
    # Counted on `status`, a column of the open forms' index, rather than the pk: the count is
    # then an index-only scan (measured at 100,000 bookings: 0.8 ms instead of 23).
    counts = submissions.order_by().aggregate(
        pending=Count("status", filter=Q(status=FormSubmission.Status.PENDING)),
        overdue=Count("status", filter=Q(status=FormSubmission.Status.OVERDUE)),
    )
    order = ("status", "due_at", "pk")  # "overdue" sorts before "pending": overdue first
    # The first few are chosen on the submissions alone, then joined: sorting thousands of open
    # forms with their contact, booking and template joined took 80 ms at 100,000 bookings.
    first = submissions.order_by(*order).values("pk")[: LIMIT + 1]
    rows, more = _cut(
        submissions_for_workspace(workspace=workspace)
        .filter(pk__in=Subquery(first))
        .order_by(*order)
    )
    return Panel(rows, more, counts=counts)


def panel_low_stock(*, workspace) -> Panel:
    """Active items at or below their threshold, emptiest first: 1 query."""
    rows, more = _cut(items_low(workspace=workspace).order_by("quantity_on_hand", "name", "pk"))
    return Panel(rows, more)


def panel_alerts(*, workspace, membership=None) -> Panel:
    """Open alerts the member may see, newest first: 1 query."""
    rows, more = _cut(
        alerts_for_workspace(workspace=workspace, kinds=alert_kinds_visible(membership))
    )
    return Panel(rows, more)


def panels_for(membership, *, now: datetime | None = None) -> dict[str, Panel]:
    """Every panel of the member's dashboard: an owner's cover the workspace, a staff member's
    their own work in the areas open to them (no stock: owners look after it)."""
    workspace = membership.workspace
    staff = None if membership.is_owner else membership.user_id  # an id: no query for the user
    areas = membership.visible_areas
    panels = {}
    if Area.BOOKINGS in areas:
        panels["today"] = panel_today(workspace=workspace, staff=staff, now=now)
        panels["week"] = panel_week(workspace=workspace, staff=staff, now=now)
    if Area.INBOX in areas:
        panels["conversations"] = panel_conversations(workspace=workspace, staff=staff)
    if Area.FORMS in areas:
        panels["forms"] = panel_forms(workspace=workspace, staff=staff)
    panels["alerts"] = panel_alerts(workspace=workspace, membership=membership)
    if staff is None:
        panels["low_stock"] = panel_low_stock(workspace=workspace)
    return panels

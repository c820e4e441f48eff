"""Private calendar feeds: a staff member's bookings (or the workspace's) at a secret URL that
calendar apps subscribe to. A new link revokes the old one."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from bookings.models import ACTIVE_STATUSES, Booking, CalendarFeed
from careops.errors import InvalidInput
from workspaces.models import Membership, Workspace

FEED_PAST = timedelta(days=30)
FEED_AHEAD = timedelta(days=180)


def calendar_feed_get_or_create(*, workspace, staff=None) -> CalendarFeed:
    """The live feed of `staff`'s bookings in the workspace (staff=None: all the workspace's
    bookings), created when there is none. `staff` must be a member of the workspace."""
    if (
        staff is not None
        and not Membership.objects.filter(workspace=workspace, user=staff).exists()
    ):
        raise InvalidInput(fields={"staff": ["Not a member of this workspace."]})
    with transaction.atomic():
        # Two clicks at once must not make two live feeds: take turns on the workspace row.
        Workspace.objects.select_for_update().filter(pk=workspace.pk).first()
        feed = (
            CalendarFeed.objects.for_workspace(workspace)
            .filter(staff=staff, revoked_at__isnull=True)
            .order_by("-created_at", "-pk")
            .first()
        )
        if feed is None:
            feed = CalendarFeed.objects.create(workspace=workspace, staff=staff)
    return feed


def calendar_feed_revoke(*, feed: CalendarFeed) -> CalendarFeed:
    """The feed's URL stops working (404) from now on; revoking twice changes nothing."""
    if feed.revoked_at is None:
        feed.revoked_at = timezone.now()
        feed.save(update_fields=["revoked_at", "updated_at"])
    return feed


def calendar_feed_by_token(token: str) -> CalendarFeed | None:
    """The live feed with that token, or None when unknown, revoked, or its staff member has
    left the workspace."""
    feed = (
        CalendarFeed.objects.select_related("workspace", "staff")
        .filter(token=token, revoked_at__isnull=True)
        .first()
    )
    if feed is None:
        return None
    if (
        feed.staff_id is not None
        and not Membership.objects.filter(
            workspace_id=feed.workspace_id, user_id=feed.staff_id
        ).exists()
    ):
        return None
    return feed


def feed_bookings(feed: CalendarFeed, *, now=None) -> QuerySet[Booking]:
    """The feed's active bookings from 30 days ago to 180 days ahead, one query."""
    now = now or timezone.now()
    bookings = Booking.objects.for_workspace(feed.workspace_id).filter(
        status__in=ACTIVE_STATUSES, start__gte=now - FEED_PAST, start__lt=now + FEED_AHEAD
    )
    if feed.staff_id is not None:
        bookings = bookings.filter(staff_id=feed.staff_id)
    return bookings.select_related("booking_type", "contact").order_by("start", "pk")


def feed_name(feed: CalendarFeed) -> str:
    if feed.staff is None:
        return f"{feed.workspace.name} bookings"
    return f"{feed.workspace.name}: {feed.staff.get_full_name() or feed.staff.email}"

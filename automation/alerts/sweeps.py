"""The five-minute alert sweep: messages waiting too long for a reply (counted in working
hours) and pending bookings close to their start. Each pass resolves the alerts whose cause is
gone, then raises one per subject whose cause has come and has no unresolved alert yet
(acknowledged or not), in workspaces whose rule is on. Safe to run twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from django.db import transaction
from django.db.models import OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from automation.alerts.core import alert_raise, alerted, alerts_resolve_gone
from automation.alerts.working_time import working_deadline, working_weeks
from automation.models import Alert, Rule
from automation.rules import DEFAULT_SETTINGS
from bookings.models import Booking
from messaging.models import Conversation, Message

log = structlog.get_logger(__name__)

MISSED, UNCONFIRMED = Alert.Kind.MISSED_MESSAGE, Alert.Kind.BOOKING_UNCONFIRMED
# A message unanswered for longer than this and never alerted on (the rule was off) is left
# alone: the sweep reads recent conversations only.
MISSED_LOOKBACK = timedelta(days=14)
MIN_MINUTES = 5  # automation.rules.OFFSET_MIN
EPOCH = Value(datetime(1, 1, 1, tzinfo=UTC))


def rule_minutes(rule_kind: str) -> tuple[set[int], dict[int, int], int]:
    """The workspaces whose rule is off, the minutes of those whose rule is on, and the default
    minutes of the workspaces without the rule's row yet (on, with its defaults)."""
    off, minutes = set(), {}
    rows = Rule.objects.filter(kind=rule_kind).values_list(
        "workspace_id", "is_enabled", "offset_minutes"
    )
    for workspace_id, enabled, offset in rows:
        if enabled:
            minutes[workspace_id] = offset
        else:
            off.add(workspace_id)
    return off, minutes, DEFAULT_SETTINGS[rule_kind]["offset_minutes"]


# --- Missed messages --------------------------------------------------------------------------


def conversations_waiting() -> QuerySet[Conversation]:
    """Open conversations with a client's message no staff member has replied to, annotated with
    `waiting_since`: the first such message (index messaging_msg_thread serves both reads)."""
    last_reply = (
        Message.objects.filter(
            conversation=OuterRef("conversation_id"),
            direction=Message.Direction.OUTBOUND,
            sender_kind=Message.SenderKind.STAFF,
        )
        .order_by("-created_at")
        .values("created_at")[:1]
    )
    first_unanswered = (
        Message.objects.filter(conversation=OuterRef("pk"), direction=Message.Direction.INBOUND)
        .filter(created_at__gt=Coalesce(Subquery(last_reply), EPOCH))
        .order_by("created_at")
        .values("created_at")[:1]
    )
    return (
        Conversation.objects.filter(status=Conversation.Status.OPEN)
        .annotate(waiting_since=Subquery(first_unanswered))
        .filter(waiting_since__isnull=False)
    )


def missed_messages_check(*, now: datetime) -> tuple[int, int]:
    """Returns (raised, resolved)."""
    resolved = alerts_resolve_gone(MISSED, conversations_waiting(), now=now)
    off, minutes, default = rule_minutes(Rule.Kind.MISSED_MESSAGE)
    candidates = list(
        conversations_waiting()
        .filter(
            # On the conversation itself first: the waiting message is read for recent ones.
            last_message_at__gte=now - MISSED_LOOKBACK,
            waiting_since__gte=now - MISSED_LOOKBACK,
            waiting_since__lte=now - timedelta(minutes=MIN_MINUTES),
        )
        .exclude(workspace_id__in=off)
        .exclude(alerted(MISSED))
        .select_related("contact", "workspace")
        .order_by("pk")
    )
    weeks = working_weeks({c.workspace_id for c in candidates})
    raised = 0
    for conversation in candidates:
        workspace = conversation.workspace
        wait = minutes.get(workspace.pk, default)
        deadline = working_deadline(
            weeks.get(workspace.pk), workspace.zone, conversation.waiting_since, wait
        )
        if deadline is None or deadline > now:
            continue
        with transaction.atomic():
            _, created = alert_raise(
                workspace=workspace.pk,
                kind=MISSED,
                subject_id=conversation.pk,
                message=f"{conversation.contact.display_name} is waiting for a reply since "
                f"{workspace.local_text(conversation.waiting_since, 'D j M, H:i')}",
            )
        raised += created
    return raised, resolved


# --- Unconfirmed bookings ---------------------------------------------------------------------


def bookings_unconfirmed(now: datetime) -> QuerySet[Booking]:
    """Pending bookings that have not started."""
    return Booking.objects.filter(status=Booking.Status.PENDING, start__gt=now)


def bookings_unconfirmed_check(*, now: datetime) -> tuple[int, int]:
    """Returns (raised, resolved)."""
    resolved = alerts_resolve_gone(UNCONFIRMED, bookings_unconfirmed(now), now=now)
    off, minutes, default = rule_minutes(Rule.Kind.BOOKING_UNCONFIRMED)
    # Within each workspace's window: one condition per distinct setting (a handful).
    by_minutes: dict[int, list[int]] = {}
    for workspace_id, wait in minutes.items():
        by_minutes.setdefault(wait, []).append(workspace_id)
    within = Q(start__lte=now + timedelta(minutes=default)) & ~Q(workspace_id__in=[*off, *minutes])
    for wait, workspace_ids in by_minutes.items():
        within |= Q(start__lte=now + timedelta(minutes=wait), workspace_id__in=workspace_ids)
    candidates = list(
        bookings_unconfirmed(now)
        .filter(within)
        .exclude(alerted(UNCONFIRMED))
        .select_related("contact", "booking_type", "workspace")
        .order_by("start", "pk")
    )
    raised = 0
    for booking in candidates:
        starts = booking.workspace.local_text(booking.start, "D j M, H:i")
        with transaction.atomic():
            _, created = alert_raise(
                workspace=booking.workspace_id,
                kind=UNCONFIRMED,
                subject_id=booking.pk,
                message=f"{booking.contact.display_name}'s {booking.booking_type.name} on "
                f"{starts} is not confirmed yet",
            )
        raised += created
    return raised, resolved


def alerts_check(*, now: datetime | None = None) -> int:
    """The five-minute sweep. Returns how many alerts it raised."""
    now = now or timezone.now()
    missed, missed_resolved = missed_messages_check(now=now)
    unconfirmed, unconfirmed_resolved = bookings_unconfirmed_check(now=now)
    raised, resolved = missed + unconfirmed, missed_resolved + unconfirmed_resolved
    if raised or resolved:
        log.info("alerts_checked", raised=raised, resolved=resolved)
    return raised

"""The alert catalogue: for each kind of alert, in one place, its priority, what it is about,
the page its link opens (where the work is), the rule that switches it on and configures it,
how it is raised and how it resolves, and the dashboard area it belongs to.

Every alert is deduplicated per subject and kind: one open alert at a time (the partial unique
constraint automation_alert_one_open_per_subject), and a sweep raises none while one is still
unresolved, acknowledged or not: staff who acknowledged it are not alerted again until the cause
has gone and come back. Every alert resolves itself when the cause is gone (`resolved_at`).

Low and critical stock may both be open for one item: they ask for different things (low:
reorder; critical: tomorrow's bookings are at risk, or there is none at all) and resolve at
different points (critical when there is enough for the next day, low above the threshold).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.urls import reverse

from automation.models import Alert, Rule
from workspaces.models import Area

Kind = Alert.Kind
Severity = Alert.Severity

# What an alert is about (Alert.subject_type).
CONVERSATION = "conversation"
BOOKING = "booking"
SUBMISSION = "form_submission"
ITEM = "inventory_item"
INTEGRATION = "integration"
WEBHOOK_ENDPOINT = "webhook_endpoint"

# The dashboard areas (staff permissions are granted per area; "owner": owners only).
INBOX, BOOKINGS, FORMS, INVENTORY = Area.INBOX, Area.BOOKINGS, Area.FORMS, Area.INVENTORY
OWNER = "owner"  # not an area staff can be given: owners only


@dataclass(frozen=True)
class AlertSpec:
    kind: str
    severity: str
    subject_type: str
    rule: str | None  # the Rule kind that switches it on (and holds its settings); None: always
    area: str  # the dashboard area, for who may see it
    url_name: str  # the page where the work is, reversed with the subject's id
    raised: str  # when it is raised, in words (the rules page, the docs)
    resolved: str  # when it resolves itself, in words
    # The page lists its subjects rather than having one per subject: the link is the list
    # with the subject's row as the fragment.
    fragment: str = ""

    def url(self, subject_id: int) -> str:
        if self.fragment:
            return f"{reverse(self.url_name)}#{self.fragment}-{subject_id}"
        return reverse(self.url_name, args=[subject_id])


CATALOGUE: dict[str, AlertSpec] = {
    spec.kind: spec
    for spec in (
        AlertSpec(
            Kind.MISSED_MESSAGE,
            Severity.WARNING,
            CONVERSATION,
            Rule.Kind.MISSED_MESSAGE,
            INBOX,
            "inbox-conversation",
            raised="A client's message has waited for a staff reply longer than the rule's "
            "minutes, counted within working hours (checked every five minutes).",
            resolved="Staff reply in the conversation, or close it.",
        ),
        AlertSpec(
            Kind.BOOKING_UNCONFIRMED,
            Severity.WARNING,
            BOOKING,
            Rule.Kind.BOOKING_UNCONFIRMED,
            BOOKINGS,
            "booking-detail",
            raised="A booking is still pending within the rule's time before its start "
            "(checked every five minutes).",
            resolved="The booking is confirmed, cancelled or moved further out, or it starts.",
        ),
        AlertSpec(
            Kind.FORM_OVERDUE,
            Severity.WARNING,
            SUBMISSION,
            Rule.Kind.FORM_OVERDUE,
            FORMS,
            "form-submission-detail",
            raised="A form sent to a client was not filled in by its due time (hourly).",
            resolved="The client fills the form in.",
        ),
        AlertSpec(
            Kind.STOCK_LOW,
            Severity.WARNING,
            ITEM,
            Rule.Kind.STOCK_LOW,
            INVENTORY,
            "inventory-detail",
            raised="An item's stock falls to or below its threshold.",
            resolved="The item is restocked above its threshold (or no longer used).",
        ),
        AlertSpec(
            Kind.STOCK_CRITICAL,
            Severity.CRITICAL,
            ITEM,
            Rule.Kind.STOCK_LOW,
            INVENTORY,
            "inventory-detail",
            raised="An item is out of stock, or has less than the bookings of today and "
            "tomorrow need (hourly).",
            resolved="The item is restocked to cover the next day's bookings (or no longer used).",
        ),
        AlertSpec(
            Kind.INTEGRATION_FAILURE,
            Severity.CRITICAL,
            INTEGRATION,
            Rule.Kind.INTEGRATION_FAILURE,
            OWNER,
            "settings-integrations",
            fragment="integration",
            raised="A provider the workspace sends through fails (its error is shown on the "
            "integration).",
            resolved="A message goes through it again, or its check passes.",
        ),
        AlertSpec(
            Kind.WEBHOOK_DISABLED,
            Severity.CRITICAL,
            WEBHOOK_ENDPOINT,
            None,  # always: the owner must know their endpoint no longer gets events
            OWNER,
            "settings-webhook",
            raised="An outbound webhook endpoint failed too many deliveries in a row and was "
            "disabled (its page shows the deliveries and their errors).",
            resolved="An owner enables the endpoint again (new events go out) or deletes it.",
        ),
    )
}

# The dashboard area of each kind of alert: who may see it is decided per area.
ALERT_AREAS: dict[str, str] = {kind: spec.area for kind, spec in CATALOGUE.items()}


def alert_url(kind: str, subject_id: int) -> str:
    """The path of the page where the alert's work is."""
    return CATALOGUE[kind].url(subject_id)


def alert_kinds_visible(membership) -> list[str] | None:
    """The kinds of alert a member sees (None: all of them). Staff see the kinds of the areas
    open to them (workspaces.models.Area), never the owners' (their links lead to owner-only
    pages)."""
    if membership is None or membership.is_owner:
        return None
    areas = membership.visible_areas
    return [kind for kind, area in ALERT_AREAS.items() if area in areas]


def alert_area(kind: str) -> str | None:
    """The dashboard area of an alert's kind, to check a staff member may act there; None for
    the owners' kinds and kinds the catalogue does not list."""
    area = ALERT_AREAS.get(kind)
    return None if area in (None, OWNER) else area

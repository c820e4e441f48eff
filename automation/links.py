"""Automation's part of a contact: what automation did for them, on their timeline, and moved
on merge."""

from __future__ import annotations

from django.urls import NoReverseMatch, reverse

from automation.models import AutomationRun
from contacts.links import ContactLink, TimelineEntry, register_contact_link
from contacts.models import Contact


def _url(run: AutomationRun) -> str:
    if run.booking_id is None:
        return ""
    try:
        return reverse("booking-detail", args=[run.booking_id])
    except NoReverseMatch:
        return ""


def _timeline(contact: Contact, limit: int) -> list[TimelineEntry]:
    runs = (
        AutomationRun.objects.for_workspace(contact.workspace_id)
        .filter(contact=contact)
        .select_related("rule")
        .order_by("-created_at", "-pk")[:limit]
    )
    return [
        TimelineEntry(
            kind="automation",
            at=run.created_at,
            title=f"Automation: {run.rule.get_kind_display()}",
            detail=run.get_outcome_display().lower() + (f": {run.reason}" if run.reason else ""),
            url=_url(run),
            meta={
                "id": run.pk,
                "rule": run.rule.kind,
                "outcome": run.outcome,
                "reason": run.reason,
                "booking": run.booking_id,
                "message": run.message_id,
            },
        )
        for run in runs
    ]


def _reassign(source: Contact, target: Contact) -> int:
    return AutomationRun.objects.filter(workspace_id=source.workspace_id, contact=source).update(
        contact=target
    )


register_contact_link(ContactLink("automation", _timeline, _reassign))

"""Reads of contacts shared by the API, the pages and the CSV export."""

from __future__ import annotations

from django.db.models import Prefetch, Q, QuerySet

from contacts.links import TimelineEntry, contact_links
from contacts.models import Contact, Tag

TIMELINE_LIMIT = 50


def contacts_list(
    *, workspace, q: str = "", tag: str = "", source: str = "", ordering: str = "-created_at"
) -> QuerySet[Contact]:
    """The workspace's contacts, searched by name, email or phone, filtered by tag and source,
    with their tags prefetched (one more query, whatever the page size)."""
    contacts = Contact.objects.for_workspace(workspace)
    q = (q or "").strip()
    if q:
        digits = "".join(ch for ch in q if ch.isdigit())
        match = Q(name__icontains=q) | Q(email__icontains=q)
        if len(digits) >= 3:
            match |= Q(phone__contains=digits)
        contacts = contacts.filter(match)
    if tag:
        contacts = contacts.filter(tags__name__iexact=tag.strip())
    if source:
        contacts = contacts.filter(source=source)
    # The pk breaks ties in the same direction as the ordering: one index on (workspace, name)
    # or (workspace, created_at) then serves the order both ways, and the API's keyset pages.
    tie_breaker = "-pk" if ordering.startswith("-") else "pk"
    return contacts.prefetch_related(
        Prefetch("tags", queryset=Tag.objects.order_by("name"))
    ).order_by(ordering, tie_breaker)


# What the API's list shows of a contact (contacts.api.ContactSerializer), tags aside.
LISTED_COLUMNS = (
    "id",
    "name",
    "email",
    "phone",
    "source",
    "notes",
    "custom_fields",
    "email_consent",
    "email_consent_at",
    "email_consent_source",
    "sms_consent",
    "sms_consent_at",
    "sms_consent_source",
    "created_at",
    "updated_at",
)


def contacts_listed(contacts: QuerySet[Contact]) -> QuerySet[dict]:
    """The contacts as rows of the columns the API's list shows (`.values()`), their tags
    left to with_tag_names: a page renders without a model instance per contact and tag."""
    return contacts.prefetch_related(None).values(*LISTED_COLUMNS)


def with_tag_names(rows: list[dict]) -> list[dict]:
    """The rows, each given `tags`: its contact's tag names in the order the API shows them
    (case-insensitive). One query for the page."""
    names: dict[int, list[str]] = {row["id"]: [] for row in rows}
    pairs = Contact.tags.through.objects.filter(contact_id__in=list(names))
    for contact_id, name in pairs.values_list("contact_id", "tag__name"):
        names[contact_id].append(name)
    for row in rows:
        row["tags"] = sorted(names[row["id"]], key=str.lower)
    return rows


def contact_timeline(
    *, contact: Contact, limit: int = TIMELINE_LIMIT, areas=None
) -> list[TimelineEntry]:
    """What every domain holds about the contact, newest first (one query per domain); with
    `areas` (a staff member's), only the domains of those areas."""
    links = [
        link for link in contact_links() if areas is None or link.area is None or link.area in areas
    ]
    entries = [entry for link in links for entry in link.timeline(contact, limit)]
    entries.sort(key=lambda e: e.at, reverse=True)
    return entries[:limit]


def tags_for_workspace(*, workspace) -> QuerySet[Tag]:
    return Tag.objects.for_workspace(workspace).order_by("name")

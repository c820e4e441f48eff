"""What other domains hold about a contact, without contacts importing them.

Each domain that keeps rows per contact (messaging's conversations, bookings, form submissions)
registers a ContactLink in its AppConfig.ready(): how to list its rows on the contact's timeline
and how to move them to another contact when two contacts are merged.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from contacts.models import Contact


@dataclass(frozen=True)
class TimelineEntry:
    kind: str  # "message", "booking", "form_submission"
    at: datetime
    title: str
    detail: str = ""
    url: str = ""
    meta: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ContactLink:
    key: str
    # The contact's newest entries of this kind, at most `limit`.
    timeline: Callable[[Contact, int], list[TimelineEntry]]
    # Move every row of this kind from the first contact to the second, inside the caller's
    # transaction; returns how many rows moved.
    reassign: Callable[[Contact, Contact], int]
    # The dashboard area its entries belong to (workspaces.models.Area): a staff member
    # without that area does not see them on the timeline. None: everyone does.
    area: str | None = None


_LINKS: dict[str, ContactLink] = {}


def register_contact_link(link: ContactLink) -> None:
    _LINKS[link.key] = link


def contact_links() -> list[ContactLink]:
    return list(_LINKS.values())

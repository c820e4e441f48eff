"""Bookings as iCalendar (RFC 5545) text: one event for the client ("Add to calendar", the
confirmation email) and a feed of many for a staff member's calendar app.

Written by hand: a VEVENT needs a dozen properties, escaping and line folding, which is less
code than adopting a library's object model for it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import NoReverseMatch, reverse

from bookings.models import Booking
from bookings.services import booking_manage_token

PRODID = "-//CareOps//Bookings//EN"
CRLF = "\r\n"
FOLD_OCTETS = 75

_STATUS = {
    Booking.Status.PENDING: "TENTATIVE",
    Booking.Status.CANCELLED: "CANCELLED",
}


@dataclass(frozen=True)
class Event:
    uid: str
    start: datetime
    end: datetime
    stamp: datetime
    summary: str
    description: str = ""
    location: str = ""
    url: str = ""
    status: str = "CONFIRMED"
    sequence: int = 0


def escape_text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon, comma and newlines escaped."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets (RFC 5545 3.1), each continuation
    starting with a space; never inside a UTF-8 character."""
    if len(line.encode()) <= FOLD_OCTETS:
        return line
    parts: list[str] = []
    current, size, limit = [], 0, FOLD_OCTETS
    for char in line:
        octets = len(char.encode())
        if size + octets > limit:
            parts.append("".join(current))
            # The leading space of a continuation line counts towards its 75 octets.
            current, size, limit = [], 0, FOLD_OCTETS - 1
        current.append(char)
        size += octets
    parts.append("".join(current))
    return (CRLF + " ").join(parts)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def event_lines(event: Event) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:{event.uid}",
        f"DTSTAMP:{_utc(event.stamp)}",
        f"DTSTART:{_utc(event.start)}",
        f"DTEND:{_utc(event.end)}",
        f"SUMMARY:{escape_text(event.summary)}",
    ]
    if event.description:
        lines.append(f"DESCRIPTION:{escape_text(event.description)}")
    if event.location:
        lines.append(f"LOCATION:{escape_text(event.location)}")
    if event.url:
        lines.append(f"URL:{event.url}")  # a URI value: not TEXT, so not escaped
    lines += [f"STATUS:{event.status}", f"SEQUENCE:{event.sequence}", "END:VEVENT"]
    return lines


def calendar(events: Iterable[Event], *, name: str = "") -> str:
    """A VCALENDAR of the events: CRLF line endings, long lines folded."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN"]
    if name:
        lines += [f"X-WR-CALNAME:{escape_text(name)}", "X-PUBLISHED-TTL:PT1H"]
    for event in events:
        lines += event_lines(event)
    lines.append("END:VCALENDAR")
    return CRLF.join(fold(line) for line in lines) + CRLF


def _site_host() -> str:
    return urlsplit(settings.SITE_URL).hostname or "localhost"


def _absolute(path: str) -> str:
    return f"{settings.SITE_URL}{path}"


def _event(booking: Booking, *, summary: str, description: str) -> Event:
    booking_type = booking.booking_type
    return Event(
        uid=f"careops-booking-{booking.pk}@{_site_host()}",
        start=booking.start,
        end=booking.end,
        stamp=booking.updated_at,  # without METHOD, DTSTAMP is when the event last changed
        summary=summary,
        description=description,
        location=booking_type.location,
        url=booking_type.video_link,
        status=_STATUS.get(booking.status, "CONFIRMED"),
        sequence=booking.reschedule_count,
    )


def manage_url(booking: Booking) -> str:
    """The client's signed link to change or cancel the booking, absolute."""
    return _absolute(reverse("booking-manage", args=[booking_manage_token(booking)]))


def booking_ics(booking: Booking) -> str:
    """The client's copy of their booking: one event naming the business and their link to
    change or cancel it. Reads booking.booking_type and booking.workspace."""
    booking_type = booking.booking_type
    description = [f"To change or cancel: {manage_url(booking)}"]
    if booking_type.video_link:
        description.insert(0, f"Join: {booking_type.video_link}")
    event = _event(
        booking,
        summary=f"{booking_type.name} at {booking.workspace.name}",
        description="\n".join(description),
    )
    return calendar([event])


def _dashboard_url(booking: Booking) -> str:
    try:
        return _absolute(reverse("booking-detail", args=[booking.pk]))
    except NoReverseMatch:  # the dashboard page is not there (yet)
        return ""


def feed_ics(bookings: Iterable[Booking], name: str) -> str:
    """A staff calendar of bookings: each event names the client. Reads each booking's
    booking_type and contact (select_related them)."""
    events = []
    for booking in bookings:
        contact = booking.contact
        who = contact.name or contact.email or contact.phone or "a client"
        details = [value for value in (contact.email, contact.phone, booking.notes) if value]
        link = _dashboard_url(booking)
        if link:
            details.append(link)
        events.append(
            _event(
                booking,
                summary=f"{booking.booking_type.name}: {who}",
                description="\n".join(details),
            )
        )
    return calendar(events, name=name)

"""The pages clients use without an account: the booking page (choose a service, a time, say
who you are), the confirmation, the signed link to cancel or reschedule, the .ics download,
and the private calendar feeds staff subscribe to.

CSRF protection is off on the forms here, on purpose: they act for no signed-in session
(nothing to forge: a forged post could only do what its author can do directly, and the manage
page's authority is the signed token in its URL). The honeypot and the per-address rate limit
stand guard on the writes that create rows.
"""

from __future__ import annotations

import functools
import zoneinfo
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import structlog
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.http import urlencode
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from bookings.availability import available_slots
from bookings.feeds import calendar_feed_by_token, feed_bookings, feed_name
from bookings.ics import booking_ics, feed_ics
from bookings.models import Booking, BookingType
from bookings.public_forms import BookingDetailsForm, ContactUsForm, format_start, parse_start
from bookings.services import (
    CutoffPassed,
    SlotUnavailable,
    booking_book_publicly,
    booking_cancel_by_client,
    booking_from_manage_token,
    booking_manage_token,
    booking_reschedule_by_client,
)
from careops import rls
from careops.errors import DomainError, InvalidInput, NotFound
from careops.forms import add_domain_errors
from careops.ratelimit import submission_allowed
from contacts.services import contact_form_submit
from workspaces.models import Workspace

log = structlog.get_logger(__name__)

TAKEN_MESSAGE = "That time was just taken. Please choose another."
DAYS_SHOWN = 7


# --- Time zones and the week of slots -----------------------------------------------------------


@functools.cache
def time_zones() -> tuple[str, ...]:
    """The zones a visitor can pick: the IANA "Area/City" names, and UTC."""
    legacy = ("Etc/", "SystemV/", "US/", "posix/", "right/", "Canada/", "Brazil/", "Chile/")
    names = {
        name
        for name in zoneinfo.available_timezones()
        if "/" in name and not name.startswith(legacy)
    }
    return ("UTC", *sorted(names))


def _visitor_tz(request: HttpRequest, default: str) -> str:
    """The zone the visitor asked for (?tz=, detected by the page's script), else `default`."""
    value = (request.POST.get("tz") or request.GET.get("tz") or "").strip()
    return value if value in _known_zones() else default


@functools.cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the zone files on every call: once per process is enough.
    return frozenset(zoneinfo.available_timezones())


def _long(moment: datetime, zone: zoneinfo.ZoneInfo) -> str:
    return dateformat.format(moment.astimezone(zone), "l j F Y, H:i")


def _span(start: datetime, end: datetime, zone: zoneinfo.ZoneInfo) -> str:
    """The time span in that zone: "Tuesday 6 January 2026, 09:00" to "10:00", en dash between."""
    return f"{_long(start, zone)}\N{EN DASH}{dateformat.format(end.astimezone(zone), 'H:i')}"


def _when(booking: Booking, zone: zoneinfo.ZoneInfo) -> str:
    return _span(booking.start, booking.end, zone)


@dataclass
class Day:
    date: date
    label: str
    slots: list[tuple[str, str]] = field(default_factory=list)  # (start ISO UTC, "09:00")


@dataclass
class Week:
    days: list[Day]
    first: date
    previous: date | None
    next: date | None

    @property
    def has_slots(self) -> bool:
        return any(day.slots for day in self.days)


def _week(booking_type: BookingType, *, tz: str, requested: str | None) -> Week:
    """The seven days from `requested` (?week=YYYY-MM-DD; today by default) in zone `tz`, with
    their free slots from one availability call."""
    zone = zoneinfo.ZoneInfo(tz)
    today = timezone.now().astimezone(zone).date()
    last = today + timedelta(days=booking_type.horizon_days)
    try:
        first = date.fromisoformat(requested or "")
    except ValueError:
        first = today
    first = min(max(first, today), last)
    end = first + timedelta(days=DAYS_SHOWN - 1)
    days = {
        day: Day(day, dateformat.format(day, "D j M"))
        for day in (first + timedelta(days=n) for n in range(DAYS_SHOWN))
    }
    slots = available_slots(booking_type=booking_type, start_date=first, end_date=end, tz=tz)
    for slot in slots:
        local = slot.start.astimezone(zone)
        if local.date() in days:
            days[local.date()].slots.append((format_start(slot.start), f"{local:%H:%M}"))
    following = first + timedelta(days=DAYS_SHOWN)
    return Week(
        days=list(days.values()),
        first=first,
        previous=max(first - timedelta(days=DAYS_SHOWN), today) if first > today else None,
        next=following if following <= last else None,
    )


def _week_of(start: datetime, tz: str) -> str:
    return start.astimezone(zoneinfo.ZoneInfo(tz)).date().isoformat()


def _tz_context(request: HttpRequest, tz: str, keep: dict[str, str]) -> dict[str, Any]:
    """What the time zone partial needs; the page detects the browser's zone on a first GET."""
    return {
        "tz": tz,
        "time_zones": time_zones(),
        "tz_keep": keep,
        "detect_tz": request.method == "GET" and "tz" not in request.GET,
    }


def _query(**params: Any) -> str:
    return urlencode({name: value for name, value in params.items() if value not in (None, "")})


# --- Choosing a service and a time ----------------------------------------------------------------


def _not_live(request: HttpRequest, workspace: Workspace) -> HttpResponse:
    """Instead of a form while the owner is still setting up."""
    return render(request, "bookings/public_not_live.html", {"workspace": workspace})


@require_GET
def booking_page(request: HttpRequest, slug: str) -> HttpResponse:
    """The business's services, to choose one."""
    workspace = get_object_or_404(Workspace, slug=slug)
    rls.narrow(workspace.pk)
    if not workspace.is_active:
        return _not_live(request, workspace)
    booking_types = (
        BookingType.objects.for_workspace(workspace).filter(is_active=True).order_by("name", "pk")
    )
    return render(
        request,
        "bookings/public_types.html",
        {"workspace": workspace, "booking_types": booking_types},
    )


@csrf_exempt
@require_http_methods(["GET", "POST"])
def booking_page_type(request: HttpRequest, slug: str, type_slug: str) -> HttpResponse:
    """A service's free times, a week at a time in the visitor's zone; a chosen time shows the
    details form, which books it."""
    booking_type = get_object_or_404(
        BookingType.objects.select_related("workspace"),
        workspace__slug=slug,
        slug=type_slug,
        is_active=True,
    )
    rls.narrow(booking_type.workspace_id)
    if not booking_type.workspace.is_active:
        return _not_live(request, booking_type.workspace)
    tz = _visitor_tz(request, booking_type.workspace.timezone)
    if request.method == "POST":
        return _book(request, booking_type, tz)
    start = parse_start(request.GET.get("start"))
    if start is not None:
        form = BookingDetailsForm(initial={"start": format_start(start)})
        return _type_page(request, booking_type, tz, form=form, start=start)
    return _type_page(request, booking_type, tz, week=request.GET.get("week"))


def _type_page(
    request: HttpRequest,
    booking_type: BookingType,
    tz: str,
    *,
    week: str | None = None,
    form: BookingDetailsForm | None = None,
    start: datetime | None = None,
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    zone = zoneinfo.ZoneInfo(tz)
    context: dict[str, Any] = {
        "workspace": booking_type.workspace,
        "booking_type": booking_type,
        "error": error,
        "page_url": reverse(
            "booking-page-type", args=[booking_type.workspace.slug, booking_type.slug]
        ),
    }
    if form is not None and start is not None:
        end = start + timedelta(minutes=booking_type.duration_minutes)
        context.update(
            state="details",
            form=form,
            chosen=_span(start, end, zone),
            back_query=_query(tz=tz, week=_week_of(start, tz)),
            **_tz_context(request, tz, {"start": format_start(start)}),
        )
    else:
        current = _week(booking_type, tz=tz, requested=week)
        context.update(
            state="slots",
            week=current,
            slot_keep={},
            **_tz_context(request, tz, {"week": current.first.isoformat()}),
        )
    return render(request, "bookings/public_type.html", context, status=status)


def _book(request: HttpRequest, booking_type: BookingType, tz: str) -> HttpResponse:
    workspace = booking_type.workspace
    if not submission_allowed(request, bucket=f"booking-page:{workspace.pk}"):
        context = {"workspace": workspace, "booking_type": booking_type}
        return render(request, "bookings/public_limited.html", context, status=429)
    form = BookingDetailsForm(request.POST)
    if form.is_bot():
        log.info("booking_page_honeypot", workspace_id=workspace.pk)
        return redirect("booking-page", slug=workspace.slug)
    if not form.is_valid():
        start = parse_start(request.POST.get("start"))
        if start is None:
            return _type_page(request, booking_type, tz, status=400)
        return _type_page(request, booking_type, tz, form=form, start=start, status=400)
    data = form.cleaned_data
    try:
        booking, _ = booking_book_publicly(
            workspace=workspace,
            booking_type=booking_type,
            start=data["start"],
            name=data["name"],
            email=data["email"],
            phone=data["phone"],
            notes=data["notes"],
        )
    except SlotUnavailable:
        week = _week_of(data["start"], tz)
        return _type_page(request, booking_type, tz, week=week, error=TAKEN_MESSAGE, status=409)
    except DomainError as exc:
        add_domain_errors(form, exc)
        return _type_page(
            request, booking_type, tz, form=form, start=data["start"], status=exc.status_code
        )
    log.info("booking_page_booked", workspace_id=workspace.pk, booking_id=booking.pk)
    url = reverse("booking-confirmed", args=[workspace.slug, booking_manage_token(booking)])
    return redirect(f"{url}?{_query(tz=tz)}")


# --- After booking: the confirmation and the signed link ---------------------------------------


def _booking_by_token(token: str) -> Booking | None:
    try:
        booking = booking_from_manage_token(token)
    except (InvalidInput, NotFound):
        return None
    rls.narrow(booking.workspace_id)
    return booking


def _link_invalid(request: HttpRequest) -> HttpResponse:
    return render(request, "bookings/public_link_invalid.html", status=404)


def _manage_url(booking: Booking, **params: Any) -> str:
    url = reverse("booking-manage", args=[booking_manage_token(booking)])
    query = _query(**params)
    return f"{url}?{query}" if query else url


@require_GET
def booking_confirmed(request: HttpRequest, slug: str, token: str) -> HttpResponse:
    booking = _booking_by_token(token)
    if booking is None or booking.workspace.slug != slug:
        return _link_invalid(request)
    tz = _visitor_tz(request, booking.workspace.timezone)
    context = {
        "booking": booking,
        "workspace": booking.workspace,
        "when": _when(booking, zoneinfo.ZoneInfo(tz)),
        "manage_url": request.build_absolute_uri(_manage_url(booking, tz=tz)),
        "ics_url": reverse("booking-ics", args=[token]),
        **_tz_context(request, tz, {}),
    }
    return render(request, "bookings/public_confirmed.html", context)


@csrf_exempt
@require_http_methods(["GET", "POST"])
def booking_manage(request: HttpRequest, token: str) -> HttpResponse:
    """The client's booking behind the signed link: cancel, reschedule, or (too late for
    that) write to the business."""
    booking = _booking_by_token(token)
    if booking is None:
        return _link_invalid(request)
    manage = _ManagePage(request, booking, token)
    if request.method == "POST":
        return manage.post(request.POST.get("action", ""))
    if request.GET.get("sent"):
        return manage.render("sent")
    if request.GET.get("contact"):
        return manage.render("contact", contact_form=ContactUsForm())
    if request.GET.get("reschedule") and manage.can_reschedule:
        start = parse_start(request.GET.get("start"))
        if start is not None:
            return manage.render("reschedule-confirm", start=start)
        return manage.render("reschedule", week=request.GET.get("week"))
    if manage.too_late:
        return manage.render(
            "contact", contact_form=ContactUsForm(), error=CutoffPassed.default_message
        )
    return manage.render("details")


class _ManagePage:
    def __init__(self, request: HttpRequest, booking: Booking, token: str):
        self.request = request
        self.booking = booking
        self.token = token
        self.workspace = booking.workspace
        self.tz = _visitor_tz(request, self.workspace.timezone)
        self.zone = zoneinfo.ZoneInfo(self.tz)
        now = timezone.now()
        # Shown, so that the client is not led through a slot picker to a refusal.
        cancel_until, reschedule_until = booking.cancel_deadline, booking.reschedule_deadline
        upcoming = booking.is_active and booking.start > now
        self.cancel_until = cancel_until
        self.reschedule_until = reschedule_until
        self.can_cancel = upcoming and now <= cancel_until
        self.can_reschedule = upcoming and now <= reschedule_until
        self.too_late = upcoming and not (self.can_cancel or self.can_reschedule)

    def post(self, action: str) -> HttpResponse:
        booking = self.booking
        if action == "contact":
            return self._contact()
        if not booking.is_active:
            return self.render("details", status=409)
        try:
            if action == "cancel":
                booking = booking_cancel_by_client(booking=booking)
            elif action == "reschedule":
                start = parse_start(self.request.POST.get("start"))
                if start is None:
                    return self.render("reschedule", error="Choose a time.", status=400)
                try:
                    booking = booking_reschedule_by_client(booking=booking, start=start)
                except SlotUnavailable:
                    week = _week_of(start, self.tz)
                    return self.render("reschedule", week=week, error=TAKEN_MESSAGE, status=409)
            else:
                return self.render("details", status=400)
        except CutoffPassed as exc:
            return self.render(
                "contact", contact_form=ContactUsForm(), error=exc.message, status=409
            )
        except DomainError as exc:
            return self.render("details", error=exc.message, status=exc.status_code)
        log.info("booking_changed_by_client", booking_id=booking.pk, action=action)
        return redirect(_manage_url(booking, tz=self.tz, done=action))

    def _contact(self) -> HttpResponse:
        form = ContactUsForm(self.request.POST)
        if not submission_allowed(self.request, bucket=f"contact-form:{self.workspace.pk}"):
            return self.render("contact", contact_form=form, limited=True, status=429)
        if not form.is_valid():
            return self.render("contact", contact_form=form, status=400)
        contact = self.booking.contact
        when = _long(self.booking.start, zoneinfo.ZoneInfo(self.workspace.timezone))
        try:
            contact_form_submit(
                workspace=self.workspace,
                message=form.cleaned_data["message"],
                name=contact.name,
                email=contact.email,
                phone=contact.phone,
                subject=f"About my booking on {when}",
            )
        except DomainError as exc:
            add_domain_errors(form, exc)
            return self.render("contact", contact_form=form, status=exc.status_code)
        return redirect(
            f"{reverse('booking-manage', args=[self.token])}?{_query(tz=self.tz, sent=1)}"
        )

    def render(
        self,
        state: str,
        *,
        week: str | None = None,
        start: datetime | None = None,
        contact_form: ContactUsForm | None = None,
        error: str = "",
        limited: bool = False,
        status: int = 200,
    ) -> HttpResponse:
        booking = self.booking
        context: dict[str, Any] = {
            "booking": booking,
            "workspace": self.workspace,
            "state": state,
            "error": error,
            "limited": limited,
            "done": self.request.GET.get("done", ""),
            "when": _when(booking, self.zone),
            "can_cancel": self.can_cancel,
            "can_reschedule": self.can_reschedule,
            "change_until": _long(min(self.cancel_until, self.reschedule_until), self.zone),
            "contact_form": contact_form,
            "page_url": reverse("booking-manage", args=[self.token]),
            "ics_url": reverse("booking-ics", args=[self.token]),
            "details_query": _query(tz=self.tz),
        }
        keep: dict[str, str] = {}
        if state == "reschedule":
            current = _week(booking.booking_type, tz=self.tz, requested=week)
            context.update(week=current, slot_keep={"reschedule": "1"})
            keep = {"reschedule": "1", "week": current.first.isoformat()}
        elif state == "reschedule-confirm" and start is not None:
            end = start + (booking.end - booking.start)
            context.update(
                start=format_start(start),
                chosen=_span(start, end, self.zone),
                back_query=_query(tz=self.tz, reschedule=1, week=_week_of(start, self.tz)),
            )
            keep = {"reschedule": "1", "start": format_start(start)}
        context.update(_tz_context(self.request, self.tz, keep))
        return render(self.request, "bookings/public_manage.html", context, status=status)


@require_GET
def booking_ics_download(request: HttpRequest, token: str) -> HttpResponse:
    """ "Add to calendar": the booking as an .ics file."""
    booking = _booking_by_token(token)
    if booking is None:
        return _link_invalid(request)
    response = HttpResponse(booking_ics(booking), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="booking.ics"'
    return response


# --- Calendar feeds -----------------------------------------------------------------------------


@require_GET
def calendar_feed(request: HttpRequest, token: str) -> HttpResponse:
    """A staff member's (or the workspace's) bookings for calendar apps to subscribe to."""
    feed = calendar_feed_by_token(token)
    if feed is None:
        raise Http404("No such feed.")
    body = feed_ics(feed_bookings(feed), feed_name(feed))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Cache-Control"] = "private, max-age=300"
    return response

"""The bookings dashboard: today's schedule and the upcoming list, the day and week calendars,
one booking (status actions, history, reschedule) and a booking made by staff. Owners and staff
alike; every time is shown and entered on the workspace's clock."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View

from bookings import selectors, services
from bookings.forms import BookingFilterForm, BookingNewForm, BookingRescheduleForm, member_label
from bookings.models import STATUS_TRANSITIONS, Booking
from careops.errors import DomainError, NotFound
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin
from workspaces.models import User

UPCOMING_LIMIT = 100  # rows the upcoming list shows
UPCOMING_DAYS = 7
AUTOMATION_RUNS_LIMIT = 50  # a booking's newest automation runs on its page

# What the status buttons say, by the status they move a booking to.
STATUS_ACTIONS = {
    Booking.Status.CONFIRMED: "Confirm",
    Booking.Status.COMPLETED: "Mark completed",
    Booking.Status.NO_SHOW: "Mark no-show",
    Booking.Status.CANCELLED: "Cancel booking",
}

# The calendar grid: quarter-hour rows, 08:00-18:00 unless a booking reaches further.
SLOT_MINUTES = 15
# A ?date= this near either end of the calendar has no week or step around it (OverflowError).
CALENDAR_MARGIN = timedelta(days=14)
DAY_STARTS, DAY_ENDS = 8, 18


def workspace_members(workspace):
    """The people of the workspace, by name: the staff filter and the calendars' columns."""
    return User.objects.filter(memberships__workspace=workspace).order_by("name", "email", "pk")


class BookingsPageMixin(WorkspacePageMixin):
    """Bookings pages render in the workspace's time zone."""

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.request.workspace.timezone)

    def today(self) -> date:
        return timezone.localdate(timezone=self.zone)

    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        with timezone.override(self.zone):
            return render(self.request, template, context, status=status)

    def booking(self, pk: int) -> Booking:
        try:
            return selectors.booking_get(workspace=self.request.workspace, pk=pk)
        except NotFound:
            raise Http404("Booking not found.") from None


# --- The schedule ---------------------------------------------------------------------------


class ScheduleView(BookingsPageMixin, View):
    def get(self, request):
        workspace = request.workspace
        members = list(workspace_members(workspace))
        form = BookingFilterForm(request.GET or None, members=members)
        filters = form.filters()
        narrow = {}
        if "staff" in filters:
            narrow["staff_id"] = filters["staff"]
        if "status" in filters:
            narrow["status"] = filters["status"]
        today = selectors.bookings_today(workspace=workspace).filter(**narrow)
        upcoming = (
            selectors.bookings_upcoming(workspace=workspace, days=UPCOMING_DAYS)
            .filter(**narrow)
            .filter(start__gte=_local_midnight(self.today() + timedelta(days=1), self.zone))
        )
        upcoming = list(upcoming[: UPCOMING_LIMIT + 1])
        context = {
            "filter_form": form,
            "filtered": bool(filters),
            "today": self.today(),
            "today_bookings": list(today),
            "upcoming": upcoming[:UPCOMING_LIMIT],
            "upcoming_more": len(upcoming) > UPCOMING_LIMIT,
            "upcoming_days": UPCOMING_DAYS,
        }
        return self.render("bookings/schedule.html", context)


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone)


# --- The calendar ---------------------------------------------------------------------------


@dataclass
class Block:
    """A booking placed on the grid: rows counted in quarter hours from the grid's top."""

    booking: Booking
    start: datetime  # local
    end: datetime  # local
    row_from: int
    row_to: int


@dataclass
class Column:
    label: str
    sublabel: str = ""
    url: str = ""
    is_today: bool = False
    blocks: list[Block] = field(default_factory=list)


def _window(bookings: list[tuple[Booking, datetime, datetime]]) -> range:
    """The hours the grid shows: the working day, widened to every booking in it; the whole
    day when a booking runs overnight."""
    first, last = DAY_STARTS, DAY_ENDS
    for _, start, end in bookings:
        to_midnight = end.time() == time.min and end.date() == start.date() + timedelta(days=1)
        if start.date() != end.date() and not to_midnight:
            return range(0, 24)
        first = min(first, start.hour)
        last = max(last, 24 if to_midnight else end.hour + (1 if end.minute or end.second else 0))
    return range(first, last)


def _block(booking: Booking, start: datetime, end: datetime, day: date, hours: range) -> Block:
    top = datetime.combine(day, time(hours.start), tzinfo=start.tzinfo)
    bottom = top + timedelta(hours=len(hours))
    shown_start, shown_end = max(start, top), min(end, bottom)
    row_from = int((shown_start - top).total_seconds() // (SLOT_MINUTES * 60)) + 1
    row_to = -(-int((shown_end - top).total_seconds()) // (SLOT_MINUTES * 60)) + 1
    return Block(booking, start, end, row_from, max(row_to, row_from + 1))


class CalendarView(BookingsPageMixin, View):
    """?view=day: a column per staff member; ?view=week: a column per day (one member's with
    ?staff=). Two queries for the page's own data whatever the number of bookings."""

    def get(self, request):
        workspace, zone = request.workspace, self.zone
        view = request.GET.get("view") if request.GET.get("view") in ("day", "week") else "day"
        try:
            day = date.fromisoformat(request.GET.get("date", ""))
        except ValueError:
            day = self.today()
        if not date.min + CALENDAR_MARGIN <= day <= date.max - CALENDAR_MARGIN:
            day = self.today()
        members = list(workspace_members(workspace))
        staff_param = request.GET.get("staff", "")
        staff = next((m for m in members if str(m.pk) == staff_param), None)

        first = day - timedelta(days=day.weekday()) if view == "week" else day
        days = [first + timedelta(days=n) for n in range(7 if view == "week" else 1)]
        bookings = selectors.bookings_for_workspace(
            workspace=workspace,
            staff=staff,
            start_from=_local_midnight(first, zone) - timedelta(days=1),
            start_to=_local_midnight(days[-1] + timedelta(days=1), zone),
        ).exclude(status=Booking.Status.CANCELLED)
        range_start = _local_midnight(first, zone)
        placed = [
            (b, timezone.localtime(b.start, zone), timezone.localtime(b.end, zone))
            for b in bookings
            if b.end > range_start
        ]
        hours = _window(placed)
        columns = self.columns(view, days, members, staff, placed, hours)
        step = timedelta(days=7 if view == "week" else 1)
        context = {
            "view": view,
            "day": day,
            "days": days,
            "staff": staff,
            "members": members,
            "columns": columns,
            "hours": [time(h) for h in hours],
            "rows": len(hours) * 60 // SLOT_MINUTES,
            "prev_url": self.url(view, day - step, staff),
            "next_url": self.url(view, day + step, staff),
            "today_url": self.url(view, self.today(), staff),
            "day_url": self.url("day", day, staff),
            "week_url": self.url("week", day, staff),
        }
        return self.render("bookings/calendar.html", context)

    def url(self, view: str, day: date, staff=None) -> str:
        query = {"view": view, "date": day.isoformat()}
        if staff is not None:
            query["staff"] = staff.pk
        return f"{reverse('bookings-calendar')}?{urlencode(query)}"

    def columns(self, view, days, members, staff, placed, hours) -> list[Column]:
        today = self.today()
        if view == "week":
            columns = {
                d: Column(
                    label=f"{d:%a}",
                    sublabel=f"{d:%-d %b}",
                    url=self.url("day", d, staff),
                    is_today=d == today,
                )
                for d in days
            }
            for booking, start, end in placed:
                for d in days:
                    if start.date() <= d <= end.date() and not (
                        end.date() == d and end.time() == time.min
                    ):
                        columns[d].blocks.append(_block(booking, start, end, d, hours))
            return list(columns.values())
        (d,) = days
        people = [staff] if staff is not None else list(members)
        columns = {m.pk: Column(label=member_label(m), url=self.url("week", d, m)) for m in people}
        for booking, start, end in placed:
            key = booking.staff_id
            if key not in columns:  # the shared calendar, or someone who has since left
                label = "Shared calendar" if key is None else member_label(booking.staff)
                columns[key] = Column(label=label)
            columns[key].blocks.append(_block(booking, start, end, d, hours))
        return list(columns.values())


# --- One booking ----------------------------------------------------------------------------


def _delivering(booking: Booking) -> list:
    """Whom the booking may move to: the people who deliver its type."""
    return list(booking.booking_type.staff.order_by("name", "email", "pk"))


class BookingDetailView(BookingsPageMixin, View):
    def get(self, request, pk: int):
        return self.page(self.booking(pk))

    def page(self, booking: Booking, *, form=None, status_error: str = "", status: int = 200):
        local_start = timezone.localtime(booking.start, self.zone)
        form = form or BookingRescheduleForm(
            members=_delivering(booking),
            initial={"date": local_start.date(), "time": local_start.time()},
        )
        context = {
            "booking": booking,
            "actions": [(s, STATUS_ACTIONS[s]) for s in STATUS_TRANSITIONS[booking.status]],
            "history": booking.history.select_related("actor").order_by("created_at", "pk"),
            # Through the reverse relation: bookings never imports the forms app.
            "form_submissions": booking.form_submissions.order_by("sent_at", "pk"),
            # The same for automation: what it did for the booking and the reminders it plans.
            "automation_runs": booking.automation_runs.select_related("rule").order_by(
                "-created_at", "-pk"
            )[:AUTOMATION_RUNS_LIMIT],
            "reminders": booking.reminders.order_by("due_at", "pk"),
            "reschedule_form": form,
            "status_error": status_error,
        }
        return self.render("bookings/detail.html", context, status)


class BookingStatusView(BookingDetailView):
    def get(self, request, pk: int):
        return redirect("booking-detail", pk=self.booking(pk).pk)

    def post(self, request, pk: int):
        booking = self.booking(pk)
        target = request.POST.get("status", "")
        try:
            booking = services.booking_set_status(
                booking=booking, status=target, actor=request.user
            )
        except DomainError as exc:
            message = " ".join(p for problems in exc.fields.values() for p in problems)
            return self.page(
                self.booking(pk), status_error=message or exc.message, status=exc.status_code
            )
        messages.success(request, f"The booking is {booking.get_status_display().lower()}.")
        return redirect("booking-detail", pk=booking.pk)


class BookingRescheduleView(BookingDetailView):
    def get(self, request, pk: int):
        return redirect("booking-detail", pk=self.booking(pk).pk)

    def post(self, request, pk: int):
        booking = self.booking(pk)
        form = BookingRescheduleForm(request.POST, members=_delivering(booking))
        status = 400
        if form.is_valid():
            try:
                services.booking_reschedule(
                    booking=booking,
                    start=form.start(request.workspace.timezone),
                    staff=form.cleaned_data.get("staff"),
                    actor=request.user,
                    enforce_rules=False,
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
                status = exc.status_code
                booking = self.booking(pk)
            else:
                messages.success(request, "The booking is moved.")
                return redirect("booking-detail", pk=booking.pk)
        return self.page(booking, form=form, status=status)


class BookingNewView(BookingsPageMixin, View):
    """Staff book a client, outside the online rules if need be (never over another booking)."""

    def form(self, data=None, initial=None) -> BookingNewForm:
        workspace = self.request.workspace
        return BookingNewForm(
            data,
            initial=initial,
            workspace=workspace,
            booking_types=selectors.booking_types_for_workspace(
                workspace=workspace, active_only=True
            ),
            members=workspace_members(workspace),
        )

    def get(self, request):
        initial = {"date": self.today()}
        if request.GET.get("contact", "").isdigit():
            initial["contact"] = int(request.GET["contact"])
        return self.render("bookings/new.html", {"form": self.form(initial=initial)})

    def post(self, request):
        form = self.form(request.POST)
        status = 400
        if form.is_valid():
            data = form.cleaned_data
            try:
                booking, _ = services.booking_create(
                    workspace=request.workspace,
                    booking_type=data["booking_type"],
                    contact=data["contact"],
                    start=form.start(request.workspace.timezone),
                    staff=data["staff"],
                    source=Booking.Source.STAFF,
                    actor=request.user,
                    notes=data["notes"],
                    enforce_rules=False,
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
                status = exc.status_code
            else:
                messages.success(request, f"{booking.contact} is booked.")
                return redirect("booking-detail", pk=booking.pk)
        return self.render("bookings/new.html", {"form": form}, status)

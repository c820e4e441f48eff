"""The owner's booking settings: the services clients book (booking types) and when each
calendar is open (weekly working hours and date overrides). Owners only (staff get 403).

Also the calendar feed page, which every member uses: the private address of their bookings
for a calendar app (and, for owners, the workspace's)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views import View

from bookings import feeds, selectors, setup_services
from bookings.forms import (
    WEEKDAYS,
    BookingTypeForm,
    CalendarChoiceForm,
    OverrideForm,
    WorkingHoursForm,
    member_label,
)
from bookings.models import AvailabilityOverride, BookingType, WorkingHours
from bookings.views import workspace_members
from careops.errors import DomainError
from careops.forms import add_domain_errors
from careops.tenancy import WorkspacePageMixin


class SettingsPageMixin(WorkspacePageMixin):
    """Owner-only pages, rendered in the workspace's time zone."""

    owner_only = True

    def render(self, template: str, context: dict, status: int = 200) -> HttpResponse:
        with timezone.override(ZoneInfo(self.request.workspace.timezone)):
            return render(self.request, template, context, status=status)


# --- Booking types --------------------------------------------------------------------------


def _booking_type_or_404(request, pk: int) -> BookingType:
    return get_object_or_404(
        selectors.booking_types_for_workspace(workspace=request.workspace), pk=pk
    )


class BookingTypeListView(SettingsPageMixin, View):
    def get(self, request):
        types = selectors.booking_types_for_workspace(workspace=request.workspace)
        return self.render("bookings/settings_booking_types.html", {"booking_types": types})


class BookingTypeFormView(SettingsPageMixin, View):
    """Add (pk None) or edit a service."""

    def page(self, form, booking_type=None, status=200, delete_error=""):
        context = {"form": form, "booking_type": booking_type, "delete_error": delete_error}
        return self.render("bookings/settings_booking_type_form.html", context, status)

    def form(self, data=None, instance=None) -> BookingTypeForm:
        members = workspace_members(self.request.workspace)
        return BookingTypeForm(data, instance=instance, members=members)

    def get(self, request, pk: int | None = None):
        booking_type = _booking_type_or_404(request, pk) if pk is not None else None
        return self.page(self.form(instance=booking_type), booking_type)

    def post(self, request, pk: int | None = None):
        booking_type = _booking_type_or_404(request, pk) if pk is not None else None
        form = self.form(request.POST, instance=booking_type)
        if form.is_valid():
            fields = form.service_arguments()
            staff = fields.pop("staff")
            try:
                saved = setup_services.booking_type_save(
                    workspace=request.workspace,
                    booking_type=booking_type,
                    staff_ids=[member.pk for member in staff],
                    **fields,
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, f"“{saved.name}” is saved.")
                return redirect("settings-booking-types")
        if booking_type is not None:  # the form changed it: the heading shows what is stored
            booking_type = _booking_type_or_404(request, pk)
        return self.page(form, booking_type, status=400)


class BookingTypeDeleteView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        booking_type = _booking_type_or_404(request, pk)
        try:
            setup_services.booking_type_delete(booking_type=booking_type)
        except DomainError as exc:
            form = BookingTypeForm(
                instance=booking_type, members=workspace_members(request.workspace)
            )
            context = {"form": form, "booking_type": booking_type, "delete_error": exc.message}
            return self.render("bookings/settings_booking_type_form.html", context, exc.status_code)
        messages.success(request, f"“{booking_type.name}” is deleted.")
        return redirect("settings-booking-types")


# --- Working hours and date overrides -------------------------------------------------------


class AvailabilityView(SettingsPageMixin, View):
    """One calendar's week and date overrides (?calendar=<member id>; none: the shared one)."""

    def calendar(self, members, value: str):
        """The member whose calendar `value` names, or None for the shared calendar."""
        return next((m for m in members if str(m.pk) == value), None)

    def page(self, calendar_value: str, *, hours_form=None, override_form=None, status=200):
        workspace = self.request.workspace
        members = list(workspace_members(workspace))
        staff = self.calendar(members, calendar_value)
        on_calendar = {"staff": staff} if staff is not None else {"staff__isnull": True}
        hours = list(
            WorkingHours.objects.for_workspace(workspace)
            .filter(**on_calendar)
            .order_by("weekday", "start_time", "pk")
        )
        today = timezone.localdate(timezone=ZoneInfo(workspace.timezone))
        overrides = (
            AvailabilityOverride.objects.for_workspace(workspace)
            .filter(**on_calendar, date__gte=today)
            .order_by("date", "start_time", "pk")
        )
        week = [(label, [h for h in hours if h.weekday == n]) for n, label in WEEKDAYS]
        context = {
            "staff": staff,
            "calendar_value": "" if staff is None else str(staff.pk),
            "calendar_form": CalendarChoiceForm(
                initial={"calendar": staff.pk if staff else ""}, members=members
            ),
            "calendar_name": f"{member_label(staff)}'s calendar"
            if staff
            else "the shared calendar",
            "week": week,
            "overrides": overrides,
            "hours_form": hours_form or WorkingHoursForm(),
            "override_form": override_form or OverrideForm(),
        }
        return self.render("bookings/settings_availability.html", context, status)

    def get(self, request):
        return self.page(request.GET.get("calendar", ""))


def _back_to_calendar(calendar_value: str, anchor: str = ""):
    url = reverse("settings-availability")
    if calendar_value:
        url = f"{url}?{urlencode({'calendar': calendar_value})}"
    return redirect(f"{url}{anchor}")


def _staff_id(value: str) -> int | None:
    """The posted calendar: a member's id, or None (the shared calendar). The service checks
    that the id is a member's; a malformed one is nobody's (0)."""
    if not value:
        return None
    return int(value) if value.isdigit() else 0


class WorkingHoursAddView(AvailabilityView):
    def get(self, request):
        return redirect("settings-availability")

    def post(self, request):
        calendar_value = request.POST.get("calendar", "")
        form = WorkingHoursForm(request.POST)
        if form.is_valid():
            try:
                setup_services.working_hours_save(
                    workspace=request.workspace,
                    staff_id=_staff_id(calendar_value),
                    **form.cleaned_data,
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, "Opening hours added.")
                return _back_to_calendar(calendar_value, "#week")
        return self.page(calendar_value, hours_form=form, status=400)


class OverrideAddView(AvailabilityView):
    def get(self, request):
        return redirect("settings-availability")

    def post(self, request):
        calendar_value = request.POST.get("calendar", "")
        form = OverrideForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                setup_services.availability_override_save(
                    workspace=request.workspace,
                    staff_id=_staff_id(calendar_value),
                    date=data["date"],
                    start_time=data["start_time"],
                    end_time=data["end_time"],
                    note=data["note"],
                )
            except DomainError as exc:
                add_domain_errors(form, exc)
            else:
                messages.success(request, "Date override added.")
                return _back_to_calendar(calendar_value, "#overrides")
        return self.page(calendar_value, override_form=form, status=400)


class WorkingHoursDeleteView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        hours = get_object_or_404(WorkingHours.objects.for_workspace(request.workspace), pk=pk)
        hours.delete()  # no rule guards removing hours (as the API's DELETE): no service
        messages.success(request, f"{hours} removed.")
        return _back_to_calendar(str(hours.staff_id or ""), "#week")


class OverrideDeleteView(SettingsPageMixin, View):
    def post(self, request, pk: int):
        override = get_object_or_404(
            AvailabilityOverride.objects.for_workspace(request.workspace), pk=pk
        )
        override.delete()  # no rule guards removing an override (as the API's DELETE)
        messages.success(request, f"The override of {override.date:%-d %b %Y} is removed.")
        return _back_to_calendar(str(override.staff_id or ""), "#overrides")


# --- Calendar feeds -------------------------------------------------------------------------


class CalendarFeedView(WorkspacePageMixin, View):
    """Your bookings in your calendar app; owners also get the whole workspace's feed. The
    address is made on the first visit; "New link" revokes it and makes another."""

    def feeds(self) -> list[tuple[str, str, object]]:
        request = self.request
        wanted = [("me", "Your bookings", request.user)]
        if request.membership.is_owner:
            wanted.append(("workspace", "All the workspace's bookings", None))
        return [
            (key, label, feeds.calendar_feed_get_or_create(workspace=request.workspace, staff=who))
            for key, label, who in wanted
        ]

    def get(self, request):
        rows = [
            {
                "key": key,
                "label": label,
                "url": request.build_absolute_uri(reverse("calendar-feed", args=[feed.token])),
            }
            for key, label, feed in self.feeds()
        ]
        return render(request, "bookings/calendar_feed.html", {"feeds": rows})

    def post(self, request):
        which = request.POST.get("feed", "me")
        for key, _label, feed in self.feeds():
            if key == which:
                feeds.calendar_feed_revoke(feed=feed)
                messages.success(
                    request,
                    "A new link is made; calendars subscribed to the old one stop updating.",
                )
        return redirect("bookings-feed")

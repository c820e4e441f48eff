"""Support back office for bookings: services, opening hours, date overrides, bookings and
calendar feeds.

Rows belong to a workspace and are made in the product, so support reads and corrects them
but does not add them. A booking's times and status change only through the booking services
(which keep the calendar free of overlaps and record the history): here they are read-only,
and cancelling is an action that calls the service. Feed tokens are secrets: masked.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages

from bookings import feeds, services
from bookings.models import (
    AvailabilityOverride,
    Booking,
    BookingStatusChange,
    BookingType,
    CalendarFeed,
    WorkingHours,
)
from careops.admin import ReadOnlyAdmin, WorkspaceOwnedAdmin
from careops.crypto import mask
from careops.errors import Conflict
from workspaces.models import User


class BookingTypeAdminForm(forms.ModelForm):
    """Who delivers a service is chosen among the members of its workspace."""

    class Meta:
        model = BookingType
        fields = ["staff"]  # ModelAdmin.get_form adds the others

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["staff"].queryset = User.objects.filter(
            memberships__workspace_id=self.instance.workspace_id
        ).order_by("name", "email")


@admin.register(BookingType)
class BookingTypeAdmin(WorkspaceOwnedAdmin):
    form = BookingTypeAdminForm
    list_display = ["name", "slug", "workspace", "duration_minutes", "price_display", "is_active"]
    list_filter = ["is_active", "workspace"]
    search_fields = ["name", "slug", "workspace__name"]
    list_select_related = ["workspace"]
    filter_horizontal = ["staff"]
    readonly_fields = ["workspace", "created_at", "updated_at"]


@admin.register(WorkingHours)
class WorkingHoursAdmin(WorkspaceOwnedAdmin):
    list_display = ["__str__", "workspace", "staff", "weekday", "start_time", "end_time"]
    list_filter = ["weekday", "workspace"]
    search_fields = ["workspace__name", "staff__email"]
    list_select_related = ["workspace", "staff"]
    raw_id_fields = ["staff"]
    readonly_fields = ["workspace", "created_at", "updated_at"]
    ordering = ["workspace", "staff", "weekday", "start_time"]


@admin.register(AvailabilityOverride)
class AvailabilityOverrideAdmin(WorkspaceOwnedAdmin):
    list_display = ["date", "workspace", "staff", "start_time", "end_time", "note"]
    list_filter = ["workspace"]
    search_fields = ["workspace__name", "staff__email", "note"]
    list_select_related = ["workspace", "staff"]
    raw_id_fields = ["staff"]
    readonly_fields = ["workspace", "created_at", "updated_at"]
    date_hierarchy = "date"
    ordering = ["-date"]


class BookingStatusChangeInline(admin.TabularInline):
    model = BookingStatusChange
    extra = 0
    fields = ["created_at", "from_status", "to_status", "actor", "note"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("actor")


@admin.register(Booking)
class BookingAdmin(WorkspaceOwnedAdmin):
    list_display = ["start", "booking_type", "contact", "staff", "status", "workspace"]
    list_filter = ["status", "source", "start", "workspace"]
    search_fields = ["contact__email", "contact__name"]
    list_select_related = ["booking_type", "contact", "staff", "workspace"]
    raw_id_fields = ["booking_type", "contact", "staff", "status_changed_by"]
    # Times, calendar and status move only through the services: see the module docstring.
    readonly_fields = [
        "workspace",
        "booking_type",
        "contact",
        "staff",
        "start",
        "end",
        "blocked_start",
        "blocked_end",
        "status",
        "source",
        "reschedule_count",
        "idempotency_key",
        "status_changed_at",
        "status_changed_by",
        "created_at",
        "updated_at",
    ]
    exclude = ["manage_nonce"]
    date_hierarchy = "start"
    ordering = ["-start"]
    inlines = [BookingStatusChangeInline]
    actions = ["cancel_selected"]

    @admin.action(description="Cancel selected bookings", permissions=["change"])
    def cancel_selected(self, request, queryset) -> None:
        cancelled = skipped = 0
        for booking in queryset:
            try:
                services.booking_set_status(
                    booking=booking,
                    status=Booking.Status.CANCELLED,
                    actor=request.user,
                    note="Cancelled by support",
                )
            except Conflict:
                skipped += 1  # already completed, cancelled or a no-show
            else:
                self.log_change(request, booking, "Cancelled by support")
                cancelled += 1
        self.message_user(request, f"{cancelled} booking(s) cancelled.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} booking(s) skipped: only pending or confirmed ones can be cancelled.",
                messages.WARNING,
            )


@admin.register(CalendarFeed)
class CalendarFeedAdmin(WorkspaceOwnedAdmin):
    list_display = ["__str__", "workspace", "staff", "token_summary", "revoked_at", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["workspace__name", "staff__email"]
    list_select_related = ["workspace", "staff"]
    raw_id_fields = ["staff"]
    # The token is the feed's password: never shown whole, never edited.
    exclude = ["token"]
    readonly_fields = ["workspace", "token_summary", "revoked_at", "created_at", "updated_at"]
    actions = ["revoke_selected"]

    @admin.display(description="Token")
    def token_summary(self, feed: CalendarFeed) -> str:
        return mask(feed.token)

    @admin.action(description="Revoke selected feeds", permissions=["change"])
    def revoke_selected(self, request, queryset) -> None:
        revoked = 0
        for feed in queryset.filter(revoked_at__isnull=True):
            feeds.calendar_feed_revoke(feed=feed)
            self.log_change(request, feed, "Revoked")
            revoked += 1
        self.message_user(request, f"{revoked} feed(s) revoked.", messages.SUCCESS)


@admin.register(BookingStatusChange)
class BookingStatusChangeAdmin(ReadOnlyAdmin):
    """Every booking's status history, across bookings (each booking's page has its own)."""

    list_display = ["created_at", "booking", "from_status", "to_status", "actor", "workspace"]
    list_filter = ["to_status", "created_at", "workspace"]
    search_fields = ["=booking__id", "booking__contact__email", "note"]
    list_select_related = ["booking__booking_type", "booking__contact", "actor", "workspace"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]

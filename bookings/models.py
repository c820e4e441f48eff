"""Bookings: the services a business offers, when its calendars are open, and the bookings
clients make, never two on one calendar at once."""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import models

from careops.models import WorkspaceOwnedModel


class BookingType(WorkspaceOwnedModel):
    """A service clients can book: how long it takes and the rules for booking it."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=60)
    description = models.TextField(blank=True)
    duration_minutes = models.PositiveSmallIntegerField(default=60)
    buffer_before_minutes = models.PositiveSmallIntegerField(default=0)
    buffer_after_minutes = models.PositiveSmallIntegerField(default=0)
    location = models.CharField(max_length=255, blank=True)
    video_link = models.URLField(blank=True)
    price_display = models.CharField(max_length=40, blank=True, help_text='e.g. "£60".')
    is_active = models.BooleanField(default=True)
    min_notice_minutes = models.PositiveIntegerField(
        default=120, help_text="How soon before its start a slot may still be booked."
    )
    horizon_days = models.PositiveSmallIntegerField(
        default=60, help_text="How far ahead clients may book."
    )
    slot_interval_minutes = models.PositiveSmallIntegerField(
        default=0, help_text="Minutes between offered start times; 0: the duration."
    )
    cancel_cutoff_hours = models.PositiveSmallIntegerField(default=24)
    reschedule_cutoff_hours = models.PositiveSmallIntegerField(default=24)
    # Who can deliver it: each has their own calendar. None: the workspace's shared calendar.
    staff = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="booking_types"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "slug"], name="bookings_bookingtype_unique_slug"
            ),
            models.CheckConstraint(
                condition=models.Q(duration_minutes__gt=0, duration_minutes__lte=24 * 60),
                name="bookings_bookingtype_duration_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def interval_minutes(self) -> int:
        return self.slot_interval_minutes or self.duration_minutes


class WorkingHours(WorkspaceOwnedModel):
    """A weekly open period, in the workspace's time zone (wall-clock times)."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="working_hours",
        help_text="Empty: the workspace's shared calendar.",
    )
    weekday = models.PositiveSmallIntegerField(help_text="0 is Monday, 6 is Sunday.")
    start_time = models.TimeField()
    end_time = models.TimeField()

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_time__gt=models.F("start_time")),
                name="bookings_workinghours_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(weekday__lte=6), name="bookings_workinghours_weekday_valid"
            ),
        ]
        indexes = [
            # A calendar's week, read when computing slots.
            models.Index(fields=["workspace", "staff", "weekday"], name="bookings_hours_calendar"),
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    def get_weekday_display(self) -> str:
        return ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][self.weekday]


class AvailabilityOverride(WorkspaceOwnedModel):
    """A date that differs from the week: closed (no times), or open at these times instead."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="availability_overrides",
    )
    date = models.DateField()
    start_time = models.TimeField(null=True, blank=True)
    end_time = models.TimeField(null=True, blank=True)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_time__isnull=True, end_time__isnull=True)
                | models.Q(
                    start_time__isnull=False,
                    end_time__isnull=False,
                    end_time__gt=models.F("start_time"),
                ),
                name="bookings_override_closed_or_valid_times",
            ),
        ]
        indexes = [
            models.Index(fields=["workspace", "staff", "date"], name="bookings_override_calendar"),
        ]

    def __str__(self) -> str:
        if self.start_time is None:
            return f"{self.date}: closed"
        return f"{self.date}: {self.start_time:%H:%M}-{self.end_time:%H:%M}"

    @property
    def is_closed(self) -> bool:
        return self.start_time is None


def _manage_nonce() -> str:
    return secrets.token_urlsafe(12)


ACTIVE_STATUSES = ("pending", "confirmed")


class Booking(WorkspaceOwnedModel):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONFIRMED = "confirmed", "Confirmed"
        COMPLETED = "completed", "Completed"
        CANCELLED = "cancelled", "Cancelled"
        NO_SHOW = "no_show", "No-show"

    class Source(models.TextChoices):
        PUBLIC = "public", "Booking page"
        STAFF = "staff", "Staff"
        API = "api", "API"

    booking_type = models.ForeignKey(BookingType, on_delete=models.PROTECT, related_name="+")
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="bookings"
    )
    # The calendar the booking takes time on: a staff member's, or the shared one (None).
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="bookings",
    )
    start = models.DateTimeField()
    end = models.DateTimeField()
    # start and end widened by the booking type's buffers: what no other booking may overlap.
    blocked_start = models.DateTimeField(editable=False)
    blocked_end = models.DateTimeField(editable=False)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.CONFIRMED)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.STAFF)
    notes = models.TextField(blank=True)
    reschedule_count = models.PositiveSmallIntegerField(default=0)
    # The client's Idempotency-Key: a retried request finds the booking it already made.
    idempotency_key = models.CharField(max_length=100, blank=True)
    # Part of the signed self-service links; a new nonce revokes the links sent before.
    manage_nonce = models.CharField(max_length=24, default=_manage_nonce, editable=False)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    status_changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")),
                name="bookings_booking_ends_after_start",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    blocked_start__lte=models.F("start"), blocked_end__gte=models.F("end")
                ),
                name="bookings_booking_blocked_covers_booking",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["pending", "confirmed", "completed", "cancelled", "no_show"]
                ),
                name="bookings_booking_status_valid",
            ),
            models.UniqueConstraint(
                fields=["workspace", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="bookings_booking_one_per_idempotency_key",
            ),
            # No double booking: see migration 0002, which adds the PostgreSQL exclusion
            # constraint bookings_booking_no_overlap (SQLite relies on its immediate-mode
            # transactions around the check and the insert).
        ]
        indexes = [
            # Today's schedule, the upcoming list and calendar views: a workspace's time range.
            models.Index(fields=["workspace", "start"], name="bookings_booking_ws_start"),
            # The upcoming list (status pending or confirmed, from now) and its keyset pages:
            # without it the planner, reading the status of two years of history, expects few
            # future active rows and sorts them all for a deep page.
            models.Index(
                fields=["workspace", "start", "id"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="bookings_booking_active_start",
            ),
            # Slot computation: one calendar's active bookings in a time range.
            models.Index(
                fields=["workspace", "staff", "blocked_start"],
                condition=models.Q(status__in=ACTIVE_STATUSES),
                name="bookings_booking_calendar",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.booking_type} with {self.contact} at {self.start:%Y-%m-%d %H:%M}"

    @property
    def is_active(self) -> bool:
        return self.status in ACTIVE_STATUSES

    # Until when the client may change the booking online (the booking type's cutoffs): the
    # services enforce them, the manage page shows them.
    @property
    def cancel_deadline(self) -> datetime:
        return self.start - timedelta(hours=self.booking_type.cancel_cutoff_hours)

    @property
    def reschedule_deadline(self) -> datetime:
        return self.start - timedelta(hours=self.booking_type.reschedule_cutoff_hours)


# The status transitions, in one place: from each status, where a booking may go next.
STATUS_TRANSITIONS: dict[str, tuple[str, ...]] = {
    Booking.Status.PENDING: (Booking.Status.CONFIRMED, Booking.Status.CANCELLED),
    Booking.Status.CONFIRMED: (
        Booking.Status.COMPLETED,
        Booking.Status.CANCELLED,
        Booking.Status.NO_SHOW,
    ),
    Booking.Status.COMPLETED: (),
    Booking.Status.CANCELLED: (),
    Booking.Status.NO_SHOW: (),
}


class BookingStatusChange(WorkspaceOwnedModel):
    """The history of a booking's status: who moved it, from what, to what, when."""

    booking = models.ForeignKey(Booking, on_delete=models.CASCADE, related_name="history")
    from_status = models.CharField(max_length=12, blank=True)
    to_status = models.CharField(max_length=12)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    note = models.CharField(max_length=255, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["booking", "created_at"], name="bookings_history_booking"),
        ]

    def __str__(self) -> str:
        return f"{self.from_status or 'new'} -> {self.to_status}"


def _feed_token() -> str:
    return secrets.token_urlsafe(24)


class CalendarFeed(WorkspaceOwnedModel):
    """A private ICS feed URL of a staff member's (or the workspace's) bookings; revocable."""

    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, null=True, blank=True, related_name="+"
    )
    token = models.CharField(max_length=40, unique=True, default=_feed_token, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"Feed for {self.staff or 'the workspace'}"

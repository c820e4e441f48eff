"""Automation: the events other domains raise, the rules a workspace switches on, what each run
did (and why not), the reminders planned before bookings, and the alerts staff act on.

An Event is written in the same transaction as the change that caused it (the outbox), then
dispatched by a Celery task queued on commit, or by the minute sweep when that task was never
queued. Each rule's work on an event is an AutomationRun whose `key` is unique, so a redelivered
event never acts twice.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.db import models

from careops.models import WorkspaceOwnedModel


class Event(WorkspaceOwnedModel):
    class Kind(models.TextChoices):
        CONTACT_CREATED = "contact.created", "Contact created"
        BOOKING_CREATED = "booking.created", "Booking created"
        BOOKING_RESCHEDULED = "booking.rescheduled", "Booking rescheduled"
        BOOKING_STATUS_CHANGED = "booking.status_changed", "Booking status changed"
        FORM_SUBMITTED = "form.submitted", "Form submitted"
        FORM_OVERDUE = "form.overdue", "Form overdue"
        STAFF_REPLIED = "message.staff_replied", "Staff replied"
        STOCK_LOW = "inventory.stock_low", "Stock low"
        STOCK_RESTOCKED = "inventory.stock_restocked", "Stock restocked"
        INTEGRATION_FAILED = "messaging.integration_failed", "Integration failing"
        INTEGRATION_RECOVERED = "messaging.integration_recovered", "Integration recovered"

    kind = models.CharField(max_length=40, choices=Kind.choices)
    # What it is about: "contact", "booking", "form_submission", "message", "inventory_item".
    subject_type = models.CharField(max_length=30)
    subject_id = models.PositiveBigIntegerField()
    # What handlers need that the subject no longer says (a status change's previous status).
    payload = models.JSONField(default=dict, blank=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    # After a failed attempt: not before this (backoff). Null: as soon as the sweep comes.
    next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            # The outbox sweep: undispatched events whose next attempt is due (null: new),
            # new ones first, then retries, oldest first. (Plain column order: SQLite, the
            # quickstart's database, has no NULLS FIRST in an index.)
            models.Index(
                fields=["next_attempt_at", "created_at"],
                condition=models.Q(dispatched_at__isnull=True),
                name="automation_event_undispatched",
            ),
            # Support's view of a workspace's events, and purging old ones.
            models.Index(fields=["workspace", "-created_at"], name="automation_event_ws_time"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.subject_type}:{self.subject_id}"


class Rule(WorkspaceOwnedModel):
    """One automation of a workspace, on or off, with the message it sends (owners edit it).

    Rows are created with their defaults the first time a workspace's rules are read
    (automation.rules.rules_for), so every workspace has every kind exactly once."""

    class Kind(models.TextChoices):
        WELCOME = "welcome", "Welcome a new contact"
        BOOKING_CONFIRMATION = "booking_confirmation", "Confirm a booking"
        BOOKING_FORMS = "booking_forms", "Send a booking's forms"
        BOOKING_REMINDER = "booking_reminder", "Remind before a booking"
        PAUSE_ON_REPLY = "pause_on_reply", "Pause automation when staff reply"
        FORM_OVERDUE = "form_overdue", "Alert on overdue forms"
        STOCK_LOW = "stock_low", "Alert on low stock"
        MISSED_MESSAGE = "missed_message", "Alert on unanswered messages"
        BOOKING_UNCONFIRMED = "booking_unconfirmed", "Alert on unconfirmed bookings"
        INTEGRATION_FAILURE = "integration_failure", "Alert on failing providers"
        FORM_REMINDER = "form_reminder", "Remind clients of pending forms"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    is_enabled = models.BooleanField(default=True)
    # The message, in the template language of messaging.rendering ({{ contact.first_name }}).
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField(blank=True, help_text="The email's text.")
    sms_body = models.TextField(blank=True, help_text="The text message, kept short.")
    # Reminders and unconfirmed-booking alerts: how long before the start; missed-message
    # alerts: how many working minutes a message may wait for a reply. Reminders: the window in
    # which none is sent (workspace time zone; the window may cross midnight).
    offset_minutes = models.PositiveIntegerField(default=24 * 60)
    quiet_start = models.TimeField(null=True, blank=True, default=time(21))
    quiet_end = models.TimeField(null=True, blank=True, default=time(8))
    # Form reminders: a client who has not filled a form in is reminded this long after it was
    # sent, and this long before the booking it belongs to (null: that reminder is off).
    after_sent_minutes = models.PositiveIntegerField(null=True, blank=True, default=24 * 60)
    before_booking_minutes = models.PositiveIntegerField(null=True, blank=True, default=24 * 60)
    # Stock alerts (low and critical): also email the workspace's owners; otherwise they reach
    # them in the app only (the alerts page and the dashboard).
    email_owners = models.BooleanField(default=False)
    # Stock alerts: also post a note to the top of the owners' inbox (closed with the alert).
    inbox_owners = models.BooleanField(default=False, help_text="Also post to the owners' inbox.")
    # The reminders must be planned again (the rule was switched on, or its timing changed):
    # stored with the change, so a lost task never loses the re-plan (the reminders sweep
    # does it). With replan_all_upcoming, every upcoming booking, not only unsent reminders.
    replan_requested_at = models.DateTimeField(null=True, blank=True, editable=False)
    replan_all_upcoming = models.BooleanField(default=False, editable=False)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind"], name="automation_rule_one_per_kind"
            ),
            models.CheckConstraint(
                condition=models.Q(offset_minutes__gte=5, offset_minutes__lte=60 * 24 * 30),
                name="automation_rule_offset_valid",
            ),
            # Mirrored by automation.rules (FORM_REMINDER_MIN/MAX): 1 hour to 30 days, or off.
            models.CheckConstraint(
                condition=models.Q(after_sent_minutes__isnull=True)
                | models.Q(after_sent_minutes__gte=60, after_sent_minutes__lte=60 * 24 * 30),
                name="automation_rule_after_sent_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(before_booking_minutes__isnull=True)
                | models.Q(
                    before_booking_minutes__gte=60, before_booking_minutes__lte=60 * 24 * 30
                ),
                name="automation_rule_before_booking_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.get_kind_display()


class Reminder(WorkspaceOwnedModel):
    """A reminder planned for a booking at an offset before its start. A reschedule re-plans
    it for the new start (and re-arms one already sent); a cancellation cancels it."""

    class Status(models.TextChoices):
        PLANNED = "planned", "Planned"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        CANCELLED = "cancelled", "Cancelled"

    booking = models.ForeignKey(
        "bookings.Booking", on_delete=models.CASCADE, related_name="reminders"
    )
    offset_minutes = models.PositiveIntegerField()
    # The booking start it was planned for: a run's key includes it, so each start is
    # reminded once.
    booking_start = models.DateTimeField()
    # When it goes out: start - offset, moved to the end of the quiet hours when it falls in.
    due_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PLANNED)
    processed_at = models.DateTimeField(null=True, blank=True)
    reason = models.CharField(max_length=255, blank=True)
    # Failed sends so far: each moves due_at back (backoff); after the cap it is skipped.
    attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["booking", "offset_minutes"], name="automation_reminder_once_per_offset"
            ),
        ]
        indexes = [
            # The reminders sweep: planned reminders that are due.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="planned"),
                name="automation_reminder_due",
            ),
        ]

    def __str__(self) -> str:
        return f"Reminder {self.offset_minutes} min before booking {self.booking_id}"


class AutomationRun(WorkspaceOwnedModel):
    """What a rule did about one event (or reminder), or why it did nothing."""

    class Outcome(models.TextChoices):
        SENT = "sent", "Sent"  # a message was queued
        DONE = "done", "Done"  # another action: an alert raised, reminders planned, forms sent
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"

    rule = models.ForeignKey(Rule, on_delete=models.CASCADE, related_name="runs")
    event = models.ForeignKey(
        Event, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    reminder = models.ForeignKey(
        Reminder, on_delete=models.SET_NULL, null=True, blank=True, related_name="runs"
    )
    # Unique per piece of work (e.g. "event:12:welcome", "reminder:7:2026-12-01T09:00:00+00:00"):
    # a second delivery of the same work finds it and does nothing. A failed run may be redone.
    key = models.CharField(max_length=200)
    outcome = models.CharField(max_length=10, choices=Outcome.choices)
    reason = models.CharField(max_length=500, blank=True)
    contact = models.ForeignKey(
        "contacts.Contact",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="automation_runs",
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="automation_runs",
    )
    message = models.ForeignKey(
        "messaging.Message", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["key"],
                condition=~models.Q(outcome="failed"),
                name="automation_run_once_per_key",
            ),
        ]
        indexes = [
            # What automation did for a contact, and for a booking (newest first).
            models.Index(fields=["contact", "-created_at"], name="automation_run_contact"),
            models.Index(fields=["booking", "-created_at"], name="automation_run_booking"),
            models.Index(fields=["workspace", "-created_at"], name="automation_run_ws_time"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} {self.outcome}: {self.reason}"


class Alert(WorkspaceOwnedModel):
    """Something staff should act on, about one subject; one open alert per subject and kind.
    What each kind is about, links to, and how it is raised and resolved: automation.alerts.
    catalogue."""

    class Kind(models.TextChoices):
        MISSED_MESSAGE = "missed_message", "Message unanswered"
        BOOKING_UNCONFIRMED = "booking_unconfirmed", "Booking unconfirmed"
        FORM_OVERDUE = "form_overdue", "Form overdue"
        STOCK_LOW = "stock_low", "Low stock"
        STOCK_CRITICAL = "stock_critical", "Critical stock"
        INTEGRATION_FAILURE = "integration_failure", "Provider failing"
        WEBHOOK_DISABLED = "webhook_disabled", "Webhook disabled"

    class Severity(models.TextChoices):
        INFO = "info", "Info"
        WARNING = "warning", "Warning"
        CRITICAL = "critical", "Critical"

    kind = models.CharField(max_length=30, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.WARNING)
    subject_type = models.CharField(max_length=30)
    subject_id = models.PositiveBigIntegerField()
    message = models.CharField(max_length=255)
    # The page where the work is (the submission, the item): a path, resolved when raised.
    url = models.CharField(max_length=255, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Set when the cause is gone (the form completed, the item restocked).
    resolved_at = models.DateTimeField(null=True, blank=True)
    emailed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "kind", "subject_type", "subject_id"],
                condition=models.Q(acknowledged_at__isnull=True, resolved_at__isnull=True),
                name="automation_alert_one_open_per_subject",
            ),
        ]
        indexes = [
            # The dashboard's open alerts, newest first.
            models.Index(
                fields=["workspace", "-created_at"],
                condition=models.Q(acknowledged_at__isnull=True, resolved_at__isnull=True),
                name="automation_alert_open",
            ),
            models.Index(fields=["workspace", "-created_at"], name="automation_alert_ws_time"),
            # The sweeps (automation.alerts): a kind's unresolved alerts, by subject.
            models.Index(
                fields=["kind", "subject_id"],
                condition=models.Q(resolved_at__isnull=True),
                name="automation_alert_unresolved",
            ),
        ]

    def __str__(self) -> str:
        return self.message

    @property
    def is_open(self) -> bool:
        return self.acknowledged_at is None and self.resolved_at is None


# Outbound webhooks live in their own module; imported here so Django finds the models.
from automation.webhooks.models import WebhookDelivery, WebhookEndpoint  # noqa: E402, F401

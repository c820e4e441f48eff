"""Intake forms: templates a business designs, and the submissions its clients fill in.

A submission keeps a snapshot of its template's fields as they were when it was sent, so that
editing a template never breaks the answers already given or the links already out.
The shape of a field definition is documented in forms/fields.py.
"""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from careops.models import WorkspaceOwnedModel


class FormTemplate(WorkspaceOwnedModel):
    """A form the business sends: its fields (see forms/fields.py), and which services send it."""

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    # An ordered list of field definitions, validated by forms.fields.clean_field_definitions.
    fields = models.JSONField(default=list, blank=True)
    # Bumped whenever `fields` changes; a submission records the version it was sent with.
    version = models.PositiveIntegerField(default=1)
    is_active = models.BooleanField(
        default=True, help_text="Inactive: kept, but not sent (by hand or with bookings)."
    )
    archived_at = models.DateTimeField(null=True, blank=True)
    due_hours = models.PositiveSmallIntegerField(
        default=48, help_text="Hours a client has to fill it in before it is overdue."
    )
    # Bookings of these types are sent this form (the automation issue sends them).
    booking_types = models.ManyToManyField(
        "bookings.BookingType", blank=True, related_name="form_templates"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "workspace",
                Lower("name"),
                condition=models.Q(archived_at__isnull=True),
                name="forms_formtemplate_unique_live_name",
            ),
            models.CheckConstraint(
                condition=models.Q(archived_at__isnull=True) | models.Q(is_active=False),
                name="forms_formtemplate_archived_is_inactive",
            ),
        ]
        indexes = [
            # The template list: a workspace's live templates by name.
            models.Index(fields=["workspace", "archived_at", "name"], name="forms_template_list"),
        ]

    def __str__(self) -> str:
        return self.name


def _token_nonce() -> str:
    return secrets.token_urlsafe(12)


class FormSubmission(WorkspaceOwnedModel):
    """One form sent to one contact (for a booking, or by hand), and the client's answers."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        COMPLETED = "completed", "Completed"
        OVERDUE = "overdue", "Overdue"

    class Source(models.TextChoices):
        MANUAL = "manual", "Sent by staff"
        BOOKING = "booking", "Sent with a booking"
        API = "api", "API"

    template = models.ForeignKey(FormTemplate, on_delete=models.PROTECT, related_name="submissions")
    # The snapshot: what the client is asked, whatever happens to the template later.
    template_name = models.CharField(max_length=120)
    template_version = models.PositiveIntegerField()
    fields = models.JSONField(default=list)
    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.PROTECT, related_name="form_submissions"
    )
    booking = models.ForeignKey(
        "bookings.Booking",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="form_submissions",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.MANUAL)
    sent_at = models.DateTimeField()
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The channel ("email", "sms") its link last went out on: its reminders follow it. Blank
    # when no message was sent (created without delivery).
    sent_channel = models.CharField(max_length=10, blank=True)
    due_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    overdue_at = models.DateTimeField(null=True, blank=True)
    # {field key: answer}, validated against `fields` (forms.answers.clean_answers). A file
    # field's answer is the id of its FormUpload; a signature field's, the typed name.
    answers = models.JSONField(default=dict, blank=True)
    # The signature record, when the form has a signature field.
    signed_name = models.CharField(max_length=200, blank=True)
    signed_at = models.DateTimeField(null=True, blank=True)
    signed_ip = models.GenericIPAddressField(null=True, blank=True)
    # SHA-256 of {"answers": answers, "files": {file field key: the file's sha256}} as
    # canonical JSON: forms.services.canonical_answers_sha256 documents the exact shape.
    answers_sha256 = models.CharField(max_length=64, blank=True)
    submitted_ip = models.GenericIPAddressField(null=True, blank=True)
    # Part of the signed public link; a new nonce revokes the links sent before.
    token_nonce = models.CharField(max_length=24, default=_token_nonce, editable=False)
    # When this nonce was issued: the link's signed time, so the link sent and the link the API
    # shows are one string, and it expires settings.FORM_LINK_MAX_AGE_DAYS after this.
    link_issued_at = models.DateTimeField(default=timezone.now, editable=False)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "completed", "overdue"]),
                name="forms_formsubmission_status_valid",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="completed") | models.Q(completed_at__isnull=False),
                name="forms_formsubmission_completed_has_time",
            ),
            models.CheckConstraint(
                condition=models.Q(due_at__gte=models.F("sent_at")),
                name="forms_formsubmission_due_after_sent",
            ),
            # A booking is sent each of its forms once, however often the sending runs.
            models.UniqueConstraint(
                fields=["workspace", "booking", "template"],
                condition=models.Q(booking__isnull=False),
                name="forms_formsubmission_once_per_booking",
            ),
        ]
        indexes = [
            # The submissions list: newest first, optionally by status.
            models.Index(
                fields=["workspace", "status", "-sent_at"], name="forms_submission_by_status"
            ),
            models.Index(fields=["workspace", "-sent_at"], name="forms_submission_list"),
            # The overdue sweep: pending submissions past their due time.
            models.Index(
                fields=["due_at"],
                condition=models.Q(status="pending"),
                name="forms_submission_pending_due",
            ),
            # A contact's timeline and a booking's detail.
            models.Index(fields=["contact", "-sent_at"], name="forms_submission_contact"),
            # The dashboard's waiting forms: overdue, then pending, soonest due first.
            models.Index(
                fields=["workspace", "status", "due_at"],
                condition=models.Q(status__in=["pending", "overdue"]),
                name="forms_submission_open_due",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.template_name} for {self.contact}"

    @property
    def is_open(self) -> bool:
        """The client may still fill it in (an overdue form is late, not closed)."""
        return self.status in (self.Status.PENDING, self.Status.OVERDUE)


# The status transitions, in one place. Overdue -> pending: staff sending a fresh link
# (forms.services.submission_resend) give the client a new due time, so the form is no longer
# late; the overdue sweep marks it overdue again if that time passes too.
SUBMISSION_TRANSITIONS: dict[str, tuple[str, ...]] = {
    FormSubmission.Status.PENDING: (FormSubmission.Status.COMPLETED, FormSubmission.Status.OVERDUE),
    FormSubmission.Status.OVERDUE: (FormSubmission.Status.COMPLETED, FormSubmission.Status.PENDING),
    FormSubmission.Status.COMPLETED: (),
}


def upload_path(instance: FormUpload, filename: str) -> str:
    # Never the client's file name in the path: it is kept in original_name instead.
    return f"forms/{instance.workspace_id}/{instance.submission_id}/{uuid.uuid4().hex}"


class FormUpload(WorkspaceOwnedModel):
    """A file a client attached to a submission's file field. Stored through Django's storage
    API, never served from MEDIA_URL: staff download it through a page that checks access."""

    submission = models.ForeignKey(FormSubmission, on_delete=models.CASCADE, related_name="uploads")
    field_key = models.CharField(max_length=64)
    file = models.FileField(upload_to=upload_path, max_length=255)
    original_name = models.CharField(max_length=255)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["submission", "field_key"], name="forms_formupload_one_per_field"
            ),
        ]

    def __str__(self) -> str:
        return self.original_name

"""Reads of forms that the API and the pages share. Every one takes the workspace: another
workspace's rows are never in reach."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Count, F, Prefetch, QuerySet

from bookings.models import BookingType
from careops.errors import NotFound
from forms import fields as field_types
from forms.models import FormSubmission, FormTemplate, FormUpload

# --- Templates ------------------------------------------------------------------------------


def _templates(workspace) -> QuerySet[FormTemplate]:
    return (
        FormTemplate.objects.for_workspace(workspace)
        .prefetch_related(
            Prefetch(
                "booking_types",
                queryset=BookingType.objects.only("id", "name").order_by("name", "pk"),
            )
        )
        .annotate(submission_count=Count("submissions"))
    )


def templates_for_workspace(*, workspace, include_archived: bool = False) -> QuerySet[FormTemplate]:
    """The workspace's form templates by name (archived ones last, when included), with their
    booking types prefetched and `submission_count` annotated: two queries for any number."""
    templates = _templates(workspace)
    if not include_archived:
        templates = templates.filter(archived_at__isnull=True)
    return templates.order_by(F("archived_at").desc(nulls_first=True), "name", "pk")


def templates_for_booking(*, booking) -> QuerySet[FormTemplate]:
    """The forms a booking is sent: the live ones linked to its service, by name."""
    return (
        FormTemplate.objects.for_workspace(booking.workspace_id)
        .filter(booking_types=booking.booking_type_id, is_active=True, archived_at__isnull=True)
        .order_by("name", "pk")
    )


def template_get(*, workspace, pk) -> FormTemplate:
    """One of the workspace's templates, archived or not; NotFound for any other (or a
    malformed pk)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("Form not found.") from None
    template = _templates(workspace).filter(pk=pk).first()
    if template is None:
        raise NotFound("Form not found.")
    return template


# --- Submissions ----------------------------------------------------------------------------


def submissions_for_workspace(
    *, workspace, status=None, contact=None, booking=None, template=None
) -> QuerySet[FormSubmission]:
    """The workspace's submissions, newest sent first, with contact, booking and template
    joined. `status` is one status or several; contact, booking and template are objects or
    ids."""
    submissions = FormSubmission.objects.for_workspace(workspace).select_related(
        "contact", "booking", "template"
    )
    if status:
        statuses = [status] if isinstance(status, str) else list(status)
        submissions = submissions.filter(status__in=statuses)
    if contact is not None:
        submissions = submissions.filter(contact=contact)
    if booking is not None:
        submissions = submissions.filter(booking=booking)
    if template is not None:
        submissions = submissions.filter(template=template)
    return submissions.order_by("-sent_at", "-pk")


def submission_get(*, workspace, pk) -> FormSubmission:
    """One of the workspace's submissions (contact, booking, template and sender joined), its
    uploads prefetched; NotFound for any other (or a malformed pk)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise NotFound("Form submission not found.") from None
    submission = (
        submissions_for_workspace(workspace=workspace)
        .select_related("sent_by")
        .prefetch_related("uploads")
        .filter(pk=pk)
        .first()
    )
    if submission is None:
        raise NotFound("Form submission not found.")
    return submission


@dataclass(frozen=True)
class Answer:
    """One field of a submission as staff read it: the question, the stored value, and how it
    reads (`display`); a file field's upload."""

    key: str
    label: str
    type: str
    value: Any
    display: str
    upload: FormUpload | None = None

    @property
    def answered(self) -> bool:
        return self.value not in (None, "", [])


def _display(field_type: str, value: Any) -> str:
    if value is None or value == "" or value == []:
        return ""
    if field_type == field_types.CHECKBOX:
        return "Yes" if value is True else "No"
    if field_type == field_types.MULTIPLE_CHOICE and isinstance(value, list):
        return ", ".join(str(choice) for choice in value)
    return str(value)


def submission_answers(submission: FormSubmission) -> list[Answer]:
    """The submission's answers in the order of its fields (the snapshot it was sent with).
    Uploads are read from `submission.uploads.all()`: prefetch them (submission_get does)."""
    uploads = {upload.pk: upload for upload in submission.uploads.all()}
    by_field = {upload.field_key: upload for upload in uploads.values()}
    answers = submission.answers or {}
    out = []
    for field in submission.fields:
        key, kind = field.get("key", ""), field.get("type", "")
        value = answers.get(key)
        upload = None
        if kind == field_types.FILE and value not in (None, ""):
            upload = uploads.get(value) if isinstance(value, int) else None
            upload = upload or by_field.get(key)
        display = upload.original_name if upload is not None else _display(kind, value)
        out.append(Answer(key, field.get("label", key), kind, value, display, upload))
    return out


def upload_get(*, workspace, submission, pk) -> FormUpload:
    """One file of one of the workspace's submissions; NotFound for any other (another
    workspace's, another submission's, or a malformed id)."""
    try:
        submission_pk, pk = int(getattr(submission, "pk", submission)), int(pk)
    except (TypeError, ValueError):
        raise NotFound("File not found.") from None
    upload = (
        FormUpload.objects.for_workspace(workspace)
        .filter(submission_id=submission_pk, pk=pk)
        .first()
    )
    if upload is None:
        raise NotFound("File not found.")
    return upload

"""Sending forms to clients (by hand, with a booking), sending a fresh link, and marking the
forms not filled in by their due time overdue."""

from __future__ import annotations

from datetime import datetime, timedelta

import structlog
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.utils import timezone

from careops.errors import Conflict, InvalidInput
from forms.models import SUBMISSION_TRANSITIONS, FormSubmission, FormTemplate
from forms.rendering import WHEN_FORMAT
from forms.services.links import submission_link
from forms.signals import form_overdue, form_sent

log = structlog.get_logger(__name__)

FORM_REQUEST_TEMPLATE = "messages/form_request.txt"
# The email's subject; SMS carries none.
FORM_REQUEST_SUBJECT = "{workspace}: please fill in {form}"
OVERDUE_BATCH = 200


def _request_message(submission: FormSubmission, channel: str) -> tuple[str, str]:
    """(subject, body) of the message carrying the link."""
    from messaging.models import Channel

    workspace = submission.workspace
    context = {
        "workspace": workspace,
        "contact": submission.contact,
        "form_name": submission.template_name,
        "url": submission_link(submission),
        "due": workspace.local_text(submission.due_at, WHEN_FORMAT),
        "tz": workspace.timezone or "UTC",
        "booking_when": workspace.local_text(submission.booking.start, WHEN_FORMAT)
        if submission.booking
        else "",
        "sms": channel == Channel.SMS,
    }
    body = render_to_string(FORM_REQUEST_TEMPLATE, context).strip()
    subject = FORM_REQUEST_SUBJECT.format(workspace=workspace.name, form=submission.template_name)
    return subject, body


def _deliver(submission: FormSubmission, *, actor, channel: str | None) -> None:
    from messaging.models import Message
    from messaging.services import choose_channel, conversation_for_contact, message_send

    conversation = conversation_for_contact(
        workspace=submission.workspace, contact=submission.contact
    )
    # Chosen first so the body fits the channel (an SMS is one line); NoChannel stops here.
    channel = choose_channel(submission.contact, conversation, channel)
    subject, body = _request_message(submission, channel)
    message_send(
        conversation=conversation,
        body=body,
        subject=subject,
        channel=channel,
        actor=actor,
        sender_kind=Message.SenderKind.SYSTEM,
        sender_reference=f"form:{submission.pk}",
    )
    # Its reminders go out on the channel the link did (automation's form reminders).
    if submission.sent_channel != channel:
        submission.sent_channel = channel
        FormSubmission.objects.filter(pk=submission.pk).update(sent_channel=channel)


def _check_send(*, workspace, template: FormTemplate, contact, booking) -> None:
    errors: dict[str, list[str]] = {}
    if template.workspace_id != workspace.pk:
        errors["template"] = ["Choose a form of this workspace."]
    elif not template.is_active or template.archived_at is not None:
        errors["template"] = ["This form is inactive: activate it before sending it."]
    elif not template.fields:
        errors["template"] = ["This form has no fields yet."]
    if contact.workspace_id != workspace.pk:
        errors["contact_id"] = ["Choose a contact of this workspace."]
    if booking is not None and (
        booking.workspace_id != workspace.pk or booking.contact_id != contact.pk
    ):
        errors["booking_id"] = ["Choose a booking of this contact."]
    if errors:
        raise InvalidInput(fields=errors)


def form_send_once(
    *,
    workspace,
    template: FormTemplate,
    contact,
    booking=None,
    actor=None,
    channel: str | None = None,
    deliver: bool = True,
    source: str = FormSubmission.Source.MANUAL,
    now: datetime | None = None,
) -> tuple[FormSubmission, bool]:
    """form_send, saying whether it sent anything: (submission, created). With a booking that
    was already sent the template, that submission and False (nothing is sent again: the
    once-per-booking constraint decides, even for two sends at once)."""
    _check_send(workspace=workspace, template=template, contact=contact, booking=booking)
    if booking is not None:
        existing = _booking_submission(workspace, booking, template)
        if existing is not None:
            return existing, False
    now = now or timezone.now()
    try:
        with transaction.atomic():
            submission = FormSubmission.objects.create(
                workspace=workspace,
                template=template,
                template_name=template.name,
                template_version=template.version,
                fields=[dict(field) for field in template.fields],
                contact=contact,
                booking=booking,
                source=source,
                sent_at=now,
                sent_by=actor,
                due_at=now + timedelta(hours=template.due_hours),
            )
            if deliver:
                _deliver(submission, actor=actor, channel=channel)
            form_sent.send(sender=FormSubmission, submission=submission)
    except IntegrityError:
        # Another request sent this booking its form a moment ago (the once-per-booking
        # constraint): theirs is the one.
        existing = booking and _booking_submission(workspace, booking, template)
        if existing is None:
            raise
        return existing, False
    log.info(
        "form_sent",
        submission_id=submission.pk,
        template_id=template.pk,
        delivered=deliver,
        source=source,
    )
    return submission, True


def form_send(
    *,
    workspace,
    template: FormTemplate,
    contact,
    booking=None,
    actor=None,
    channel: str | None = None,
    deliver: bool = True,
    source: str = FormSubmission.Source.MANUAL,
    now: datetime | None = None,
) -> FormSubmission:
    """Create a pending submission (snapshot of the template's fields, due `due_hours` after
    sending) and, with `deliver`, queue the message carrying its link through messaging, in one
    transaction. With a booking, the booking's existing submission of the template is returned
    instead of a second one (form_send_once says which happened). InvalidInput for an
    inactive/archived template, a contact or booking of another workspace, or (with `deliver`)
    a contact that cannot be reached."""
    submission, _created = form_send_once(
        workspace=workspace,
        template=template,
        contact=contact,
        booking=booking,
        actor=actor,
        channel=channel,
        deliver=deliver,
        source=source,
        now=now,
    )
    return submission


def submission_resend(
    *,
    submission: FormSubmission,
    actor=None,
    channel: str | None = None,
    now: datetime | None = None,
) -> FormSubmission:
    """Send an open submission's client a fresh link: a new token nonce revokes the links sent
    before (and restarts the link's validity), the message goes out again, and the client gets
    a new due time: the template's `due_hours` (as the template says now) from the resend, never
    earlier than the one they had. An overdue submission is pending again (and is marked overdue
    again if the new time passes too). Conflict when the form is completed; InvalidInput when
    the contact cannot be reached."""
    now = now or timezone.now()
    with transaction.atomic():
        # Locked like submission_submit locks it: a form completed a moment ago is seen as
        # completed here, and is not re-sent.
        locked = (
            FormSubmission.objects.select_for_update(of=("self",))
            .select_related("template")
            .get(pk=submission.pk)
        )
        if not locked.is_open:
            raise Conflict("This form is completed: there is no link to send again.")
        submission.token_nonce = FormSubmission._meta.get_field("token_nonce").get_default()
        submission.link_issued_at = now
        submission.due_at = max(locked.due_at, now + timedelta(hours=locked.template.due_hours))
        submission.status, submission.overdue_at = locked.status, locked.overdue_at
        if locked.status == FormSubmission.Status.OVERDUE:
            if FormSubmission.Status.PENDING not in SUBMISSION_TRANSITIONS[locked.status]:
                raise Conflict("This form can no longer be sent again.")
            submission.status, submission.overdue_at = FormSubmission.Status.PENDING, None
        submission.save(
            update_fields=[
                "token_nonce",
                "link_issued_at",
                "due_at",
                "status",
                "overdue_at",
                "updated_at",
            ]
        )
        _deliver(submission, actor=actor, channel=channel)
    log.info("form_resent", submission_id=submission.pk, actor_id=getattr(actor, "pk", None))
    return submission


def _booking_submission(workspace, booking, template) -> FormSubmission | None:
    return (
        FormSubmission.objects.for_workspace(workspace)
        .filter(booking=booking, template=template)
        .first()
    )


# --- Overdue ------------------------------------------------------------------------------------


def submissions_mark_overdue(*, now: datetime | None = None) -> int:
    """Mark pending submissions past due_at overdue (form_overdue per submission); safe to run
    twice at once (SKIP LOCKED). Returns how many."""
    now = now or timezone.now()
    marked = 0
    while True:
        with transaction.atomic():
            batch = list(
                FormSubmission.objects.select_for_update(skip_locked=True)
                .filter(status=FormSubmission.Status.PENDING, due_at__lt=now)
                .order_by("due_at", "pk")[:OVERDUE_BATCH]
            )
            if not batch:
                break
            FormSubmission.objects.filter(pk__in=[s.pk for s in batch]).update(
                status=FormSubmission.Status.OVERDUE, overdue_at=now, updated_at=now
            )
            for submission in batch:
                submission.status = FormSubmission.Status.OVERDUE
                submission.overdue_at = now
                form_overdue.send(sender=FormSubmission, submission=submission)
        marked += len(batch)
        if len(batch) < OVERDUE_BATCH:
            break
    if marked:
        log.info("forms_marked_overdue", count=marked)
    return marked

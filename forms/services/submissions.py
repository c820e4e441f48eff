"""Sending forms to clients, their signed links, and the client's one submission."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import zoneinfo
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import structlog
from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, timezone
from django.utils.crypto import constant_time_compare

from careops.errors import Conflict, InvalidInput
from forms.answers import clean_answers
from forms.models import SUBMISSION_TRANSITIONS, FormSubmission, FormTemplate, FormUpload
from forms.signals import form_overdue, form_sent, form_submitted

log = structlog.get_logger(__name__)

LINK_SALT = "careops.forms.link"
FORM_REQUEST_TEMPLATE = "messages/form_request.txt"
# The email's subject; SMS carries none.
FORM_REQUEST_SUBJECT = "{workspace}: please fill in {form}"
OVERDUE_BATCH = 200


class LinkInvalid(InvalidInput):
    """A forged, revoked or expired link (the public page says so; the API answers 400)."""

    code = "link_invalid"
    default_message = "This link is not valid."


class AlreadySubmitted(Conflict):
    code = "already_submitted"
    default_message = "This form has already been submitted. Thank you."


# --- The signed link ----------------------------------------------------------------------------


def _signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=LINK_SALT)


def submission_token(submission: FormSubmission) -> str:
    """The signed token of the client's link: names the submission and its token_nonce, and
    expires settings.FORM_LINK_MAX_AGE_DAYS after it is issued."""
    return _signer().sign_object({"s": submission.pk, "n": submission.token_nonce}, compress=True)


def submission_link(submission: FormSubmission) -> str:
    """The absolute public URL /f/<token>/ (settings.SITE_URL)."""
    return settings.SITE_URL + reverse("form-public", args=[submission_token(submission)])


def _link_invalid(reason: str) -> LinkInvalid:
    message = (
        "This link has expired. Ask the business to send you a new one."
        if reason == "expired"
        else LinkInvalid.default_message
    )
    return LinkInvalid(message, fields={"token": [message]}, extra={"reason": reason})


def submission_from_token(token: str, *, now: datetime | None = None) -> FormSubmission:
    """The submission a token names (workspace, contact, template loaded); LinkInvalid when
    forged, revoked or expired (extra={"reason": "expired"} for an expired one)."""
    signer = _signer()
    if not isinstance(token, str) or not token or len(token) > 500:
        raise _link_invalid("invalid")
    try:
        data = signer.unsign_object(token)
        # The time it was signed: unsign() with max_age would read the clock itself, and the
        # caller may pass `now`.
        issued = signing.b62_decode(signing.Signer.unsign(signer, token).rsplit(signer.sep, 1)[1])
    except (signing.BadSignature, TypeError, ValueError, IndexError):
        raise _link_invalid("invalid") from None
    if not isinstance(data, dict) or not isinstance(data.get("n"), str):
        raise _link_invalid("invalid")
    submission = (
        FormSubmission.objects.select_related("workspace", "contact", "template", "booking")
        .filter(pk=data.get("s") if isinstance(data.get("s"), int) else None)
        .first()
    )
    if submission is None or not constant_time_compare(submission.token_nonce, data["n"]):
        raise _link_invalid("invalid")
    max_age = timedelta(days=settings.FORM_LINK_MAX_AGE_DAYS).total_seconds()
    if (now or timezone.now()).timestamp() - issued > max_age:
        raise _link_invalid("expired")
    return submission


# --- Sending ------------------------------------------------------------------------------------


def _local(moment: datetime, workspace) -> str:
    tz = zoneinfo.ZoneInfo(workspace.timezone or "UTC")
    return dateformat.format(timezone.localtime(moment, tz), "l j F Y, H:i")


def _request_message(submission: FormSubmission, channel: str) -> tuple[str, str]:
    """(subject, body) of the message carrying the link."""
    from messaging.models import Channel

    workspace = submission.workspace
    context = {
        "workspace": workspace,
        "contact": submission.contact,
        "form_name": submission.template_name,
        "url": submission_link(submission),
        "due": _local(submission.due_at, workspace),
        "tz": workspace.timezone or "UTC",
        "booking_when": _local(submission.booking.start, workspace) if submission.booking else "",
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


def _check_send(*, workspace, template: FormTemplate, contact, booking) -> None:
    errors: dict[str, list[str]] = {}
    if template.workspace_id != workspace.pk:
        errors["template_id"] = ["Choose a form of this workspace."]
    elif not template.is_active or template.archived_at is not None:
        errors["template_id"] = ["This form is inactive: activate it before sending it."]
    elif not template.fields:
        errors["template_id"] = ["This form has no fields yet."]
    if contact.workspace_id != workspace.pk:
        errors["contact_id"] = ["Choose a contact of this workspace."]
    if booking is not None and (
        booking.workspace_id != workspace.pk or booking.contact_id != contact.pk
    ):
        errors["booking_id"] = ["Choose a booking of this contact."]
    if errors:
        raise InvalidInput(fields=errors)


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
    instead of a second one. InvalidInput for an inactive/archived template, a contact or
    booking of another workspace, or (with `deliver`) a contact that cannot be reached."""
    _check_send(workspace=workspace, template=template, contact=contact, booking=booking)
    if booking is not None:
        existing = _booking_submission(workspace, booking, template)
        if existing is not None:
            return existing
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
        return existing
    log.info(
        "form_sent",
        submission_id=submission.pk,
        template_id=template.pk,
        delivered=deliver,
        source=source,
    )
    return submission


def submission_resend(
    *, submission: FormSubmission, actor=None, channel: str | None = None
) -> FormSubmission:
    """Send an open submission's client a fresh link: a new token nonce revokes the links sent
    before (and restarts the link's validity), and the message goes out again. Conflict when
    the form is completed; InvalidInput when the contact cannot be reached."""
    with transaction.atomic():
        # Locked like submission_submit locks it: a form completed a moment ago is seen as
        # completed here, and is not re-sent.
        locked = FormSubmission.objects.select_for_update().get(pk=submission.pk)
        if not locked.is_open:
            raise Conflict("This form is completed: there is no link to send again.")
        submission.token_nonce = FormSubmission._meta.get_field("token_nonce").get_default()
        submission.save(update_fields=["token_nonce", "updated_at"])
        _deliver(submission, actor=actor, channel=channel)
    log.info("form_resent", submission_id=submission.pk, actor_id=getattr(actor, "pk", None))
    return submission


def _booking_submission(workspace, booking, template) -> FormSubmission | None:
    return (
        FormSubmission.objects.for_workspace(workspace)
        .filter(booking=booking, template=template)
        .first()
    )


def forms_send_for_booking(*, booking, now: datetime | None = None) -> list[FormSubmission]:
    """Send the booking's type's active forms to its contact, each once (safe to run twice).
    A contact who cannot be reached is sent nothing (logged): a later run, once they can be,
    sends them."""
    from messaging.services import NoChannel

    templates = (
        FormTemplate.objects.for_workspace(booking.workspace_id)
        .filter(booking_types=booking.booking_type_id, is_active=True, archived_at__isnull=True)
        .order_by("name", "pk")
    )
    sent = []
    for template in templates:
        try:
            sent.append(
                form_send(
                    workspace=booking.workspace,
                    template=template,
                    contact=booking.contact,
                    booking=booking,
                    source=FormSubmission.Source.BOOKING,
                    now=now,
                )
            )
        except NoChannel:
            log.warning("form_not_sent_no_channel", booking_id=booking.pk, template_id=template.pk)
    return sent


# --- The client's submission --------------------------------------------------------------------


def canonical_answers_sha256(answers: Mapping[str, Any]) -> str:
    """The hash the signature record keeps: of the answers as canonical JSON (sorted keys, no
    spaces, UTF-8), so anyone holding the stored answers can recompute it."""
    text = json.dumps(answers, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _valid_ip(ip: str | None) -> str | None:
    try:
        return str(ipaddress.ip_address((ip or "").strip()))
    except ValueError:
        return None


def _check_open(submission: FormSubmission) -> None:
    if FormSubmission.Status.COMPLETED not in SUBMISSION_TRANSITIONS.get(submission.status, ()):
        raise AlreadySubmitted(extra={"completed_at": submission.completed_at})


def submission_submit(
    *,
    submission: FormSubmission,
    data: Mapping[str, Any],
    files: Mapping[str, Any] | None = None,
    ip: str | None = None,
    now: datetime | None = None,
) -> FormSubmission:
    """The client's answers: validated against the snapshot (forms.answers), files stored, the
    signature recorded, status completed, form_submitted sent; all in one transaction with the
    submission's row locked. InvalidInput with per-field errors (nothing stored);
    AlreadySubmitted when already completed."""
    # Checked before the answers too: a second visit sees "already submitted", not errors.
    _check_open(submission)
    cleaned = clean_answers(submission.fields, data, files)
    ip = _valid_ip(ip)
    stored: list[str] = []
    try:
        with transaction.atomic():
            locked = FormSubmission.objects.select_for_update().get(pk=submission.pk)
            # The lock makes the second of two simultaneous submits wait, then see this.
            _check_open(locked)
            now = now or timezone.now()
            answers = dict(cleaned.answers)
            for checked in cleaned.uploads:
                upload = FormUpload(
                    workspace_id=locked.workspace_id,
                    submission=locked,
                    field_key=checked.field_key,
                    original_name=checked.original_name,
                    content_type=checked.content_type,
                    size=checked.size,
                    sha256=checked.sha256,
                )
                checked.file.seek(0)
                upload.file.save(checked.original_name, checked.file, save=False)
                stored.append(upload.file.name)
                upload.save()
                answers[checked.field_key] = upload.pk
            locked.answers = answers
            locked.answers_sha256 = canonical_answers_sha256(answers)
            if cleaned.signature_name:
                locked.signed_name = cleaned.signature_name
                locked.signed_at = now
                locked.signed_ip = ip
            locked.status = FormSubmission.Status.COMPLETED
            locked.completed_at = now
            locked.submitted_ip = ip
            locked.save(
                update_fields=[
                    "answers",
                    "answers_sha256",
                    "signed_name",
                    "signed_at",
                    "signed_ip",
                    "status",
                    "completed_at",
                    "submitted_ip",
                    "updated_at",
                ]
            )
            form_submitted.send(sender=FormSubmission, submission=locked)
    except BaseException:
        # The rows are gone with the transaction: so must the files written for them.
        for name in stored:
            _delete_quietly(name)
        raise
    log.info("form_submitted", submission_id=locked.pk, uploads=len(stored))
    # The caller's object (workspace, contact loaded) brought up to date.
    for name in ("answers", "answers_sha256", "signed_name", "signed_at", "signed_ip"):
        setattr(submission, name, getattr(locked, name))
    for name in ("status", "completed_at", "submitted_ip", "updated_at"):
        setattr(submission, name, getattr(locked, name))
    return submission


def _delete_quietly(name: str) -> None:
    try:
        default_storage.delete(name)
    except Exception as exc:  # the original error matters more than a stray file
        log.warning("form_upload_cleanup_failed", name=name, error=str(exc))


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

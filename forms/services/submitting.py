"""The client's one submission of a form: answers checked, files stored, the signature
recorded."""

from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import structlog
from django.core.files.storage import default_storage
from django.db import transaction
from django.utils import timezone

from careops.errors import Conflict
from forms.answers import clean_answers
from forms.models import SUBMISSION_TRANSITIONS, FormSubmission, FormUpload
from forms.signals import form_submitted

log = structlog.get_logger(__name__)


class AlreadySubmitted(Conflict):
    code = "already_submitted"
    default_message = "This form has already been submitted. Thank you."


def canonical_answers_sha256(answers: Mapping[str, Any], files: Mapping[str, str]) -> str:
    """The hash the signature record keeps (FormSubmission.answers_sha256): SHA-256 of this
    document as canonical JSON (sorted keys, no spaces, UTF-8, non-ASCII kept as is):

        {"answers": {<field key>: <answer as stored>, ...},
         "files": {<file field key>: <the file's SHA-256, hex>, ...}}

    so that it covers what each attached file held, not only the id of its record; anyone
    holding the stored answers and the files' hashes (FormUpload.sha256) can recompute it."""
    document = {"answers": dict(answers), "files": dict(files)}
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
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
            files = {checked.field_key: checked.sha256 for checked in cleaned.uploads}
            locked.answers_sha256 = canonical_answers_sha256(answers, files)
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

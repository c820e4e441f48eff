"""Sending forms to clients, their signed links, and the client's one submission."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from careops.errors import Conflict, InvalidInput
from forms.models import FormSubmission, FormTemplate

LINK_SALT = "careops.forms.link"


class LinkInvalid(InvalidInput):
    """A forged, revoked or expired link (the public page says so; the API answers 400)."""

    code = "link_invalid"
    default_message = "This link is not valid."


class AlreadySubmitted(Conflict):
    code = "already_submitted"
    default_message = "This form has already been submitted. Thank you."


def submission_token(submission: FormSubmission) -> str:
    """The signed token of the client's link: names the submission and its token_nonce, and
    expires settings.FORM_LINK_MAX_AGE_DAYS after it is issued."""
    raise NotImplementedError


def submission_link(submission: FormSubmission) -> str:
    """The absolute public URL /f/<token>/ (settings.SITE_URL)."""
    raise NotImplementedError


def submission_from_token(token: str, *, now: datetime | None = None) -> FormSubmission:
    """The submission a token names (workspace, contact, template loaded); LinkInvalid when
    forged, revoked or expired (extra={"reason": "expired"} for an expired one)."""
    raise NotImplementedError


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
    raise NotImplementedError


def forms_send_for_booking(*, booking, now: datetime | None = None) -> list[FormSubmission]:
    """Send the booking's type's active forms to its contact, each once (safe to run twice)."""
    raise NotImplementedError


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
    raise NotImplementedError


def submissions_mark_overdue(*, now: datetime | None = None) -> int:
    """Mark pending submissions past due_at overdue (form_overdue per submission); safe to run
    twice at once (SKIP LOCKED). Returns how many."""
    raise NotImplementedError

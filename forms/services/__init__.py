"""Writes for forms: templates (templates.py) and the submissions sent to clients
(submissions.py). Import from here."""

from __future__ import annotations

from forms.services.submissions import (
    AlreadySubmitted,
    LinkInvalid,
    form_send,
    forms_send_for_booking,
    submission_from_token,
    submission_link,
    submission_resend,
    submission_submit,
    submission_token,
    submissions_mark_overdue,
)
from forms.services.templates import template_archive, template_create, template_update

__all__ = [
    "AlreadySubmitted",
    "LinkInvalid",
    "form_send",
    "forms_send_for_booking",
    "submission_from_token",
    "submission_link",
    "submission_resend",
    "submission_submit",
    "submission_token",
    "submissions_mark_overdue",
    "template_archive",
    "template_create",
    "template_update",
]

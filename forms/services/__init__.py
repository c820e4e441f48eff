"""Writes for forms: templates (templates.py), and the submissions sent to clients: their signed
links (links.py), sending them (sending.py) and the client's submission (submitting.py). Import
from here."""

from __future__ import annotations

from forms.services.links import (
    LinkInvalid,
    submission_from_token,
    submission_link,
    submission_token,
)
from forms.services.sending import (
    form_send,
    form_send_once,
    submission_resend,
    submissions_mark_overdue,
)
from forms.services.submitting import AlreadySubmitted, canonical_answers_sha256, submission_submit
from forms.services.templates import (
    template_archive,
    template_create,
    template_field_add,
    template_field_move,
    template_field_remove,
    template_field_update,
    template_update,
)

__all__ = [
    "AlreadySubmitted",
    "LinkInvalid",
    "canonical_answers_sha256",
    "form_send",
    "form_send_once",
    "submission_from_token",
    "submission_link",
    "submission_resend",
    "submission_submit",
    "submission_token",
    "submissions_mark_overdue",
    "template_archive",
    "template_create",
    "template_field_add",
    "template_field_move",
    "template_field_remove",
    "template_field_update",
    "template_update",
]

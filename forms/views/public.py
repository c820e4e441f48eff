"""The client's form behind the signed link /f/<token>/: see it (prefilled from what the business
knows of them), fill it in once, and a clear page for every way the link can be spent.

CSRF-protected like any page (the form is served from our own origin, never embedded); the
per-address rate limit stands guard on the writes, shared with the API (forms/intake.py). The
CSRF check runs in the view, after the cap on the body's size is installed: the middleware would
read the whole body first.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from careops import rls
from careops.errors import InvalidInput
from careops.ratelimit import client_ip
from forms import fields as f
from forms.answers import (
    TRUE_WORDS,
    allowed_types_text,
    field_errors,
    file_size_text,
    upload_accept,
)
from forms.intake import limit_upload, submission_allowed, too_large_message, upload_too_large
from forms.models import FormSubmission
from forms.rendering import WHEN_FORMAT, field_rows
from forms.services import (
    AlreadySubmitted,
    LinkInvalid,
    submission_from_token,
    submission_submit,
)


def prefill(submission: FormSubmission) -> dict[str, Any]:
    """The answers the business already knows: fields whose maps_to names a contact field."""
    contact = submission.contact
    custom = contact.custom_fields if isinstance(contact.custom_fields, dict) else {}
    values: dict[str, Any] = {}
    for field in submission.fields:
        source = field.get("maps_to") or ""
        if source in f.CONTACT_FIELDS:
            value = getattr(contact, source, "")
        elif source.startswith("custom."):
            value = custom.get(source.removeprefix("custom."))
        else:
            continue
        if field["type"] == f.MULTIPLE_CHOICE:
            value = value if isinstance(value, list) else [value]
            values[field["key"]] = [str(v) for v in value if v is not None]
        elif value not in (None, ""):
            values[field["key"]] = value if isinstance(value, str) else str(value)
    return values


def posted_values(submission: FormSubmission, data) -> dict[str, Any]:
    """What the client typed, to show again beside the errors (files must be chosen again)."""
    values: dict[str, Any] = {}
    for field in submission.fields:
        key = field["key"]
        if field["type"] == f.MULTIPLE_CHOICE:
            values[key] = data.getlist(key)
        elif field["type"] == f.CHECKBOX:
            values[key] = (data.get(key) or "").strip().lower() in TRUE_WORDS
        elif field["type"] != f.FILE:
            values[key] = data.get(key, "")
    return values


def _invalid(request: HttpRequest, exc: LinkInvalid) -> HttpResponse:
    context = {"expired": exc.extra.get("reason") == "expired", "message": exc.message}
    return render(request, "forms/public_invalid.html", context, status=404)


def _already(request: HttpRequest, submission: FormSubmission, status: int = 200) -> HttpResponse:
    context = {
        "submission": submission,
        "workspace": submission.workspace,
        "completed": submission.workspace.local_text(submission.completed_at, WHEN_FORMAT)
        if submission.completed_at
        else "",
    }
    return render(request, "forms/public_already.html", context, status=status)


def _form_page(
    request: HttpRequest,
    submission: FormSubmission,
    *,
    values: dict[str, Any],
    errors: dict[str, list[str]] | None = None,
    limited: bool = False,
    status: int = 200,
) -> HttpResponse:
    errors = errors or {}
    context = {
        "submission": submission,
        "workspace": submission.workspace,
        "rows": field_rows(submission.fields, values, errors),
        "general_errors": errors.get("", []),
        # The summary at the top links each message to its field.
        "error_links": [
            (field["key"], field["label"], errors[field["key"]])
            for field in submission.fields
            if errors.get(field["key"])
        ],
        "error_count": sum(1 for key in errors if key),
        "has_files": any(field["type"] == f.FILE for field in submission.fields),
        "due": submission.workspace.local_text(submission.due_at, WHEN_FORMAT),
        "overdue": submission.status == FormSubmission.Status.OVERDUE,
        "limited": limited,
        "upload_accept": upload_accept(),
        "upload_max": file_size_text(settings.FORM_UPLOAD_MAX_BYTES),
        "upload_types": allowed_types_text(),
    }
    return render(request, "forms/public_form.html", context, status=status)


@csrf_exempt  # checked in _form_post, once the body's cap is in place (see the docstring)
@never_cache
@require_http_methods(["GET", "POST"])
def form_public(request: HttpRequest, token: str) -> HttpResponse:
    try:
        submission = submission_from_token(token)
    except LinkInvalid as exc:
        return _invalid(request, exc)
    rls.narrow(submission.workspace_id)
    if not submission.is_open:
        return _already(request, submission, status=409 if request.method == "POST" else 200)
    if request.method == "GET":
        return _form_page(request, submission, values=prefill(submission))
    file_fields = sum(1 for field in submission.fields if field["type"] == f.FILE)
    limit_upload(request, file_fields=file_fields)
    if upload_too_large(request):  # reads the body, within the cap
        # Refused unread (or stopped part way): nothing is written, so no CSRF check is due,
        # and the token could not be read anyway. The client chooses smaller files.
        errors = {"": [too_large_message()]}
        values = prefill(submission)
        return _form_page(request, submission, values=values, errors=errors, status=400)
    return _form_post(request, token, submission)


@csrf_protect
def _form_post(request: HttpRequest, token: str, submission: FormSubmission) -> HttpResponse:
    if not submission_allowed(request):
        values = posted_values(submission, request.POST)
        return _form_page(request, submission, values=values, limited=True, status=429)
    try:
        submission_submit(
            submission=submission, data=request.POST, files=request.FILES, ip=client_ip(request)
        )
    except AlreadySubmitted:
        submission.refresh_from_db()
        return _already(request, submission, status=409)
    except InvalidInput as exc:
        values = posted_values(submission, request.POST)
        return _form_page(request, submission, values=values, errors=field_errors(exc), status=400)
    return redirect("form-public-done", token=token)


@never_cache
@require_GET
def form_public_done(request: HttpRequest, token: str) -> HttpResponse:
    try:
        submission = submission_from_token(token)
    except LinkInvalid as exc:
        return _invalid(request, exc)
    rls.narrow(submission.workspace_id)
    if submission.is_open:
        return redirect("form-public", token=token)
    context = {"submission": submission, "workspace": submission.workspace}
    return render(request, "forms/public_done.html", context)


urlpatterns = [
    path("f/<str:token>/", form_public, name="form-public"),
    path("f/<str:token>/done/", form_public_done, name="form-public-done"),
]

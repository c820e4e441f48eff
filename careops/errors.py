"""Domain exceptions and the one place that turns errors into HTTP responses.

Every API error has one JSON shape:

    {"code": "validation_error", "message": "Some fields are not valid.",
     "fields": {"email": [{"code": "required", "message": "This field is required."}]}}

`fields` appears only for invalid input; nested fields are dotted (`workspace.name`).
"""

from __future__ import annotations

import sys
from typing import Any

import structlog
from django.conf import settings
from django.core.exceptions import BadRequest, RequestDataTooBig
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template import loader
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error
from rest_framework.views import set_rollback

log = structlog.get_logger(__name__)

API_PREFIX = "/api/"
# A lost database connection: the answer (503) and when to come back.
UNAVAILABLE_MESSAGE = "The service is briefly unavailable. Retry soon."
RETRY_AFTER_SECONDS = "5"


# --- Domain exceptions (raised by services; know nothing of HTTP frameworks) -----------------


class DomainError(Exception):
    """A business rule refused the operation. Subclasses name the rule."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"
    default_message = "The request could not be carried out."

    def __init__(
        self,
        message: str | None = None,
        *,
        fields: dict[str, list[str]] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        self.message = message or self.default_message
        self.fields = fields or {}
        self.extra = extra or {}
        super().__init__(self.message)


class InvalidInput(DomainError):
    code = "validation_error"
    default_message = "Some fields are not valid."


class NotFound(DomainError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"
    default_message = "Not found."


class Forbidden(DomainError):
    status_code = status.HTTP_403_FORBIDDEN
    code = "permission_denied"
    default_message = "You do not have permission to do this."


class Conflict(DomainError):
    status_code = status.HTTP_409_CONFLICT
    code = "conflict"
    default_message = "The request conflicts with the current state."


class WorkspaceRequired(DomainError):
    code = "workspace_required"
    default_message = "You belong to several workspaces: name one with the X-Workspace-ID header."


class LockedOut(exceptions.APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_code = "locked_out"
    default_detail = "Too many failed sign-in attempts. Try again later."


# --- The JSON shape ---------------------------------------------------------------------------


def error_body(
    code: str,
    message: str,
    fields: dict[str, list[dict[str, str]]] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    body.update(extra)
    return body


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[dict[str, str]]]:
    """DRF's nested ErrorDetail structure -> {"a.b": [{"code", "message"}]}."""
    out: dict[str, list[dict[str, str]]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, errors in _flatten(value, name).items():
                out.setdefault(field, []).extend(errors)
    elif isinstance(detail, list):
        if all(not isinstance(item, dict | list) for item in detail):
            out[prefix or "non_field_errors"] = [
                {"code": getattr(item, "code", "invalid"), "message": str(item)} for item in detail
            ]
        else:
            for index, item in enumerate(detail):
                for field, errors in _flatten(item, f"{prefix}.{index}").items():
                    out.setdefault(field, []).extend(errors)
    else:
        out[prefix or "non_field_errors"] = [
            {"code": getattr(detail, "code", "invalid"), "message": str(detail)}
        ]
    return out


def _validation_body(detail: Any) -> dict[str, Any]:
    fields = _flatten(detail)
    general = fields.get("non_field_errors")
    message = (
        general[0]["message"] if general and len(fields) == 1 else "Some fields are not valid."
    )
    return error_body("validation_error", message, fields)


def _domain_body(exc: DomainError) -> dict[str, Any]:
    fields = {
        name: [{"code": exc.code, "message": str(message)} for message in messages]
        for name, messages in exc.fields.items()
    }
    return error_body(exc.code, exc.message, fields, **exc.extra)


# --- DRF exception handler ------------------------------------------------------------------


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """Maps every exception raised in an API view to the error shape and a 4xx/5xx status."""
    headers: dict[str, str] = {}
    if isinstance(exc, DomainError):
        status_code, body = exc.status_code, _domain_body(exc)
    elif isinstance(exc, exceptions.ValidationError):
        status_code, body = 400, _validation_body(exc.detail)
    elif isinstance(exc, DjangoValidationError):
        status_code, body = 400, _validation_body(as_serializer_error(exc))
    elif isinstance(exc, Http404):
        status_code, body = 404, error_body("not_found", "Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        status_code, body = 403, error_body("permission_denied", "You may not do this.")
    elif isinstance(exc, exceptions.APIException):
        status_code = exc.status_code
        codes = exc.get_codes()
        code = codes if isinstance(codes, str) else exc.default_code
        body = error_body(
            code, str(exc.detail) if isinstance(exc.detail, str) else exc.default_detail
        )
        if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
            headers["Retry-After"] = str(int(exc.wait))
            body["retry_after"] = int(exc.wait)
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header
    elif isinstance(exc, RequestDataTooBig):
        status_code, body = 413, _too_large_body()
    elif isinstance(exc, IntegrityError):
        # A constraint the validation did not foresee: the database refused, nothing was
        # written. Say so instead of a 500.
        log.warning("integrity_error", error=str(exc))
        status_code, body = 409, error_body("conflict", "This conflicts with existing data.")
    elif isinstance(exc, OperationalError | InterfaceError):
        log.error("database_unavailable", error=str(exc))
        status_code = 503
        body = error_body("service_unavailable", UNAVAILABLE_MESSAGE)
        headers["Retry-After"] = RETRY_AFTER_SECONDS
    else:
        return None  # a bug: Django's handler500 answers, and Sentry hears of it

    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed):
        # DRF answers 403 when no authenticator offers a header; a bearer-token API says 401.
        status_code = 401
        headers.setdefault("WWW-Authenticate", 'Bearer realm="api"')
    set_rollback()
    return Response(body, status=status_code, headers=headers)


# --- Django-level handlers (URLs that never reach a DRF view) --------------------------------


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith(API_PREFIX)


def _too_large_body() -> dict[str, Any]:
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / (1024 * 1024)
    return error_body(
        "request_too_large", f"The request body is larger than {limit:g} MB, the most accepted."
    )


def _database_lost(exception: BaseException | None) -> BaseException | None:
    """The lost database connection behind `exception`, if one is: Django turns some into other
    errors (a session that cannot be saved is a SessionInterrupted, answered 400)."""
    for _ in range(5):
        if exception is None or isinstance(exception, OperationalError | InterfaceError):
            return exception
        exception = exception.__cause__ or exception.__context__
    return None


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if lost := _database_lost(exception):
        return database_unavailable(request, lost)
    if isinstance(exception, RequestDataTooBig):
        # Django refused a body over DATA_UPLOAD_MAX_MEMORY_SIZE unread: it is too large, not
        # malformed, and the client should be told which.
        if _is_api(request):
            return JsonResponse(_too_large_body(), status=413)
        return render(request, "413.html", status=413)
    if _is_api(request):
        return JsonResponse(error_body("bad_request", "The request is malformed."), status=400)
    return render(request, "400.html", status=400)


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("permission_denied", "You may not do this."), status=403)
    # The reason careops.tenancy gave (owners only, no access to an area), when it gave one.
    reason = str(exception) if isinstance(exception, DjangoPermissionDenied) else ""
    return render(request, "403.html", {"reason": reason}, status=403)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if _is_api(request):
        return JsonResponse(error_body("not_found", "Not found."), status=404)
    return render(request, "404.html", status=404)


def handler500(request: HttpRequest) -> HttpResponse:
    # Django calls this while handling the exception: a lost database connection raised outside
    # a view (in a middleware) is a 503 all the same.
    if lost := _database_lost(sys.exc_info()[1]):
        return database_unavailable(request, lost)
    if _is_api(request):
        return JsonResponse(
            error_body("server_error", "Something went wrong on our side. It has been logged."),
            status=500,
        )
    return render(request, "500.html", status=500)


def database_unavailable(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 503 of a lost database connection, made without the database: the page is rendered
    with no request context, whose processors would read the session and the user again."""
    log.error("database_unavailable", error=str(exception))
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            error_body("service_unavailable", UNAVAILABLE_MESSAGE), status=503
        )
    else:
        response = HttpResponse(loader.render_to_string("503.html"), status=503)
    response["Retry-After"] = RETRY_AFTER_SECONDS
    return response


class RejectNulMiddleware:
    """A NUL in the URL's path is a 400 before any view sees it: PostgreSQL text cannot hold
    one, so a view that looked the value up (a link's token, a webhook's key) would fail at the
    database with a 500. No path of ours carries one. (A query string may: each view refuses or
    ignores its parameters as it reads them.)"""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if "\x00" in request.path:
            raise BadRequest("A NUL character in the path.")  # handler400 answers
        return self.get_response(request)


class DatabaseUnavailableMiddleware:
    """A lost database connection answers a clean 503; the next request reconnects (Django
    closes a connection that raised and is no longer usable when the request ends, and the pool
    discards it).

    Near the top of MIDDLEWARE: the first query of a request is often a middleware's (the
    session read for django-structlog's user id), and Django's handling of that error raises it
    again (the got_request_exception receivers, the 500 page's context read the session too):
    it surfaces here, in __call__. A view's error comes to process_exception.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            return self.get_response(request)
        except (OperationalError, InterfaceError) as exception:
            return database_unavailable(request, exception)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        return database_unavailable(request, exception)


# --- Login lockout (django-axes) ---------------------------------------------------------------


def axes_username(request: HttpRequest, credentials: dict[str, Any] | None) -> str | None:
    """The account a sign-in attempt names: the API sends `email`, the login form `username`."""
    credentials = credentials or {}
    value = credentials.get("email") or credentials.get("username")
    if value is None and request is not None and request.method == "POST":
        value = request.POST.get("email") or request.POST.get("username")
    return value.strip().lower() if isinstance(value, str) else None


def lockout_response(
    request: HttpRequest, original_response: HttpResponse | None, credentials: dict | None
) -> HttpResponse:
    """What a locked-out sign-in gets: the error shape on the API, a page in the browser."""
    log.warning("login_locked_out", username=axes_username(request, credentials))
    if _is_api(request):
        response: HttpResponse = JsonResponse(
            error_body(LockedOut.default_code, str(LockedOut.default_detail)), status=429
        )
    else:
        response = render(request, "registration/locked_out.html", status=429)
    response["Retry-After"] = str(int(settings.AXES_COOLOFF_TIME.total_seconds()))
    return response

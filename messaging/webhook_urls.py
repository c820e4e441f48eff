"""Provider webhooks, mounted at /webhooks/: Twilio's per-integration URLs, and anymail's
inbound and tracking views for every ESP (/webhooks/anymail/<esp>/inbound/ and .../tracking/).
"""

from __future__ import annotations

from functools import wraps

import structlog
from anymail import urls as anymail_urls
from anymail.webhooks.mailgun import MailgunBaseWebhookView
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.urls import URLPattern, include, path
from django.views.decorators.csrf import csrf_exempt

from messaging import webhooks

log = structlog.get_logger(__name__)


def _not_configured(event: str, request: HttpRequest, **details) -> HttpResponse:
    log.error(event, path=request.path, **details)
    return HttpResponseForbidden("Webhooks are not configured.", content_type="text/plain")


def _require_webhook_secret(view):
    """anymail accepts any request, with only a warning, when WEBHOOK_SECRET is unset; an
    unconfigured deployment must refuse instead, or anyone could post fake emails and
    delivery events. Mailgun's views also check an HMAC, and with an empty signing key anyone
    can compute it: they need that key as well."""
    signed_by_mailgun = issubclass(getattr(view, "view_class", object), MailgunBaseWebhookView)

    @wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return _not_configured("anymail_webhook_secret_missing", request)
        if signed_by_mailgun and not settings.ANYMAIL.get("MAILGUN_WEBHOOK_SIGNING_KEY"):
            return _not_configured("anymail_mailgun_signing_key_missing", request)
        try:
            return view(request, *args, **kwargs)
        except ImproperlyConfigured as exc:
            # An ESP's own setting is missing (anymail raises it as the view is made).
            return _not_configured("anymail_webhook_misconfigured", request, error=str(exc))
        except (KeyError, ValueError, TypeError, UnicodeDecodeError) as exc:
            # anymail's parsers raise these on a payload that is not the ESP's format (a
            # field missing, JSON that does not parse). Our receivers raise none of them, so
            # this is bad input, not a bug: answer 400 rather than a 500 the ESP retries.
            # (A wrong signature is anymail's SuspiciousOperation: Django answers 400.)
            log.warning(
                "anymail_webhook_malformed",
                path=request.path,
                error=f"{type(exc).__name__}: {exc}",
            )
            return HttpResponseBadRequest("Malformed webhook payload.", content_type="text/plain")

    return csrf_exempt(guarded)


def _anymail_urlpatterns() -> list[URLPattern]:
    return [
        URLPattern(
            pattern.pattern,
            _require_webhook_secret(pattern.callback),
            pattern.default_args,
            pattern.name,
        )
        for pattern in anymail_urls.urlpatterns
    ]


urlpatterns = [
    path("twilio/<str:key>/sms", webhooks.twilio_sms, name="webhook-twilio-sms"),
    path("twilio/<str:key>/status", webhooks.twilio_status, name="webhook-twilio-status"),
    path("anymail/", include((_anymail_urlpatterns(), anymail_urls.app_name))),
]

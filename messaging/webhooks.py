"""Twilio's webhooks: texts clients send, and the delivery status of the texts we sent.

Each integration has its own URLs (/webhooks/twilio/<webhook_key>/sms and .../status); the
key finds the integration, and the X-Twilio-Signature, computed with that integration's auth
token, proves that Twilio sent the request. anymail's email webhooks are in webhook_urls.
"""

from __future__ import annotations

import structlog
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import get_object_or_404
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from careops.errors import InvalidInput
from messaging.inbound import TWILIO_STATUSES, message_status_update, sms_receive
from messaging.models import Channel, Integration, Message

log = structlog.get_logger(__name__)

# An empty TwiML document: the text is stored, and no automatic reply is sent from here.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response/>'


def _signed_integration(request: HttpRequest, key: str) -> Integration | None:
    """The active Twilio integration the URL names (404 if none), or None if the request does
    not carry a valid signature from it."""
    integration = get_object_or_404(
        Integration.objects.select_related("workspace"),
        webhook_key=key,
        provider="twilio",
        channel=Channel.SMS,
        is_active=True,
    )
    auth_token = (integration.credentials or {}).get("auth_token")
    if not auth_token:
        log.error("twilio_webhook_no_auth_token", integration_id=integration.pk)
        return None
    signature = request.headers.get("X-Twilio-Signature", "")
    # Twilio signs the URL it was configured with. Behind a proxy or load balancer,
    # request.build_absolute_uri() sees the internal scheme, host or port instead, so the URL
    # is rebuilt from SITE_URL: the public address the StatusCallback and the number's
    # webhook were configured with.
    url = settings.SITE_URL + request.get_full_path()
    if not signature or not RequestValidator(auth_token).validate(url, request.POST, signature):
        log.warning(
            "twilio_webhook_bad_signature",
            integration_id=integration.pk,
            signed=bool(signature),
            path=request.path,
        )
        return None
    return integration


def _bad_request(exc: InvalidInput) -> HttpResponse:
    problems = "; ".join(f"{field}: {' '.join(msgs)}" for field, msgs in exc.fields.items())
    return HttpResponseBadRequest(problems or exc.message, content_type="text/plain")


@csrf_exempt
@require_POST
def twilio_sms(request: HttpRequest, key: str) -> HttpResponse:
    """A client texted the integration's number."""
    integration = _signed_integration(request, key)
    if integration is None:
        return HttpResponseForbidden("Invalid Twilio signature.", content_type="text/plain")
    try:
        sms_receive(
            integration=integration,
            from_number=request.POST.get("From", ""),
            to_number=request.POST.get("To", ""),
            body=request.POST.get("Body", ""),
            sid=request.POST.get("MessageSid") or request.POST.get("SmsSid", ""),
        )
    except InvalidInput as exc:
        log.warning("twilio_sms_rejected", integration_id=integration.pk, errors=exc.fields)
        return _bad_request(exc)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest, key: str) -> HttpResponse:
    """Twilio's StatusCallback for a text we sent. Answers 200 for statuses and messages it
    does not know, so that Twilio does not retry what can never succeed."""
    integration = _signed_integration(request, key)
    if integration is None:
        return HttpResponseForbidden("Invalid Twilio signature.", content_type="text/plain")
    sid = request.POST.get("MessageSid") or request.POST.get("SmsSid", "")
    twilio_status = request.POST.get("MessageStatus") or request.POST.get("SmsStatus", "")
    if not sid or not twilio_status:
        return _bad_request(
            InvalidInput(fields={"MessageSid": ["MessageSid and MessageStatus are required."]})
        )
    status = TWILIO_STATUSES.get(twilio_status.lower())
    if status is None:
        log.info("twilio_status_ignored", sid=sid, twilio_status=twilio_status)
        return HttpResponse(status=200)
    error = ""
    if code := request.POST.get("ErrorCode", ""):
        detail = request.POST.get("ErrorMessage", "")
        error = f"Twilio error {code}" + (f": {detail}" if detail else "")
    message_id = request.GET.get("message", "")
    with transaction.atomic():
        _wait_for_sender(integration, message_id)
        message_status_update(
            workspace=integration.workspace,
            provider="twilio",
            provider_message_id=sid,
            status=status,
            error=error,
            integration=integration,
            message_id=int(message_id) if message_id.isdigit() else None,
        )
    return HttpResponse(status=200)


def _wait_for_sender(integration: Integration, message_id: str) -> None:
    """Twilio can call back before the worker that sent the text has committed the SID it got:
    the worker holds the message's row lock until then, so waiting for that lock (the callback
    URL names our message) makes the SID visible instead of losing the callback."""
    if message_id.isdigit():
        list(
            Message.objects.select_for_update()
            .filter(workspace=integration.workspace, pk=int(message_id))
            .values_list("pk", flat=True)
        )

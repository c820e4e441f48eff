"""Writes for integrations: the provider accounts a workspace sends through, in fallback order."""

from __future__ import annotations

from typing import Any

import phonenumbers
import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from careops.crypto import mask
from careops.errors import InvalidInput
from messaging import providers
from messaging.models import Channel, Integration
from messaging.providers import PROVIDERS, Outgoing, ProviderSpec, SendFailed

log = structlog.get_logger(__name__)

MAX_PRIORITY = 32767
URL_CREDENTIALS = ("api_url", "api_base_url")


def _e164(value: str) -> str | None:
    try:
        number = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        return None
    if not value.startswith("+") or not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _check_url(value: str) -> str | None:
    """An error for a provider base URL, or None. Plain http (a local stand-in or mock server)
    only where console providers are allowed too: development and tests."""
    schemes = ["https", "http"] if settings.MESSAGING_ALLOW_CONSOLE else ["https"]
    try:
        URLValidator(schemes=schemes)(value)
    except ValidationError:
        return f"Enter a URL starting with {' or '.join(s + '://' for s in schemes)}."
    return None


def _clean_credentials(spec, credentials: Any, errors: dict[str, list[str]]) -> dict[str, str]:
    if not isinstance(credentials, dict):
        errors["credentials"] = ["Give the credentials as an object of keys and values."]
        return {}
    allowed = (*spec.required, *spec.optional)
    cleaned: dict[str, str] = {}
    for key in spec.required:
        value = credentials.get(key)
        if not isinstance(value, str) or not value.strip():
            errors[f"credentials.{key}"] = [f"{spec.label} needs this."]
    for key, value in credentials.items():
        if key not in allowed:
            errors[f"credentials.{key}"] = [
                f"{spec.label} takes only: {', '.join(allowed) or 'no credentials'}."
            ]
        elif not isinstance(value, str):
            errors[f"credentials.{key}"] = ["Enter text."]
        elif value.strip():
            cleaned[key] = value.strip()
    for key in URL_CREDENTIALS:
        if key in cleaned and (problem := _check_url(cleaned[key])):
            errors[f"credentials.{key}"] = [problem]
    return cleaned


def _clean_from_address(channel: str, value: str, errors: dict[str, list[str]]) -> str:
    value = (value or "").strip()
    if channel == Channel.SMS:
        number = _e164(value)
        if number is None:
            errors["from_address"] = ["Enter the sending number in E.164, e.g. +447700900123."]
        return number or value
    try:
        validate_email(value)
    except ValidationError:
        errors["from_address"] = ["Enter the sending email address, e.g. hello@example.com."]
    return value.lower()


def providers_available() -> list[ProviderSpec]:
    """The providers a workspace may add here: console ones only where they are allowed."""
    return [s for s in PROVIDERS.values() if settings.MESSAGING_ALLOW_CONSOLE or not s.is_console]


@transaction.atomic
def integration_create(
    *,
    workspace,
    actor,
    provider: str,
    credentials: Any,
    from_address: str,
    channel: str | None = None,
    priority: int | None = None,
    is_active: bool = True,
) -> Integration:
    """Add a provider account to the workspace's fallback order for its channel (by default,
    after the last one). Credentials are validated per provider and stored encrypted."""
    available = providers_available()
    spec = next((s for s in available if s.key == provider), None)
    if spec is None:
        choices = ", ".join(s.key for s in available)
        raise InvalidInput(fields={"provider": [f"Choose one of: {choices}."]})
    errors: dict[str, list[str]] = {}
    if channel and channel not in Channel.values:
        raise InvalidInput(fields={"channel": ["Choose email or sms."]})
    if spec.channel and channel and channel != spec.channel:
        raise InvalidInput(fields={"channel": [f"{spec.label} sends {spec.channel} only."]})
    channel = channel or spec.channel
    if channel is None:
        raise InvalidInput(fields={"channel": ["Choose the channel: email or sms."]})
    cleaned = _clean_credentials(spec, credentials if credentials is not None else {}, errors)
    from_address = _clean_from_address(channel, from_address, errors)

    # Lock the workspace's integrations on the channel, so that "after the last one" and the
    # taken-place check see every concurrent create (the unique constraint is the proof).
    taken = set(
        Integration.objects.for_workspace(workspace)
        .filter(channel=channel)
        .select_for_update()
        .values_list("priority", flat=True)
    )
    if priority is None:
        priority = max(taken, default=0) + 1
    elif not 1 <= priority <= MAX_PRIORITY:
        errors["priority"] = [f"Enter a number from 1 to {MAX_PRIORITY}."]
    elif priority in taken:
        errors["priority"] = [f"Another {channel} integration is number {priority}: pick another."]
    if errors:
        raise InvalidInput(fields=errors)

    integration = Integration(
        workspace=workspace,
        channel=channel,
        provider=provider,
        priority=priority,
        is_active=is_active,
        from_address=from_address,
        credentials=cleaned,
    )
    try:
        with transaction.atomic():
            integration.save()
    except IntegrityError:
        raise InvalidInput(
            fields={"priority": [f"Another {channel} integration is number {priority}."]}
        ) from None
    log.info(
        "integration_created",
        integration_id=integration.pk,
        provider=provider,
        channel=channel,
        actor=getattr(actor, "pk", None),
    )
    return integration


def integration_delete(*, integration: Integration, actor) -> None:
    """Remove a provider account; messages move on to the next one in the order."""
    log.info(
        "integration_deleted",
        integration_id=integration.pk,
        provider=integration.provider,
        actor=getattr(actor, "pk", None),
    )
    integration.delete()


def integration_test(*, integration: Integration, actor, to: str | None = None) -> dict[str, Any]:
    """Send a test message through this one integration: an email to the actor, or an SMS to
    `to`. Records the outcome on the integration; returns {ok, provider, error}."""
    if integration.channel == Channel.SMS:
        number = _e164(to or "")
        if number is None:
            raise InvalidInput(
                fields={"to": ["Enter the number to text, in E.164, e.g. +447700900123."]}
            )
        outgoing = Outgoing(
            channel=Channel.SMS,
            to=number,
            body=f"Test message from CareOps: {integration.provider} works.",
        )
    else:
        from messaging.services import inbound_email_address

        workspace = integration.workspace
        outgoing = Outgoing(
            channel=Channel.EMAIL,
            to=actor.email,
            subject=f"CareOps test email ({integration.provider})",
            body=f"This test email was sent through {integration.provider} for {workspace.name}.",
            reply_to=(inbound_email_address(workspace),),
            sender_name=workspace.name,
        )
    now = timezone.now()
    sender = providers.sender_for_integration(integration)
    try:
        result = sender.send(outgoing)
    except SendFailed as exc:
        error = exc.reason
    except Exception as exc:
        log.exception("integration_test_crashed", integration_id=integration.pk)
        error = f"unexpected error: {type(exc).__name__}"
    else:
        Integration.objects.filter(pk=integration.pk).update(last_success_at=now)
        integration.last_success_at = now
        log.info("integration_test_sent", integration_id=integration.pk)
        return {"ok": True, "provider": result.provider, "error": ""}
    Integration.objects.filter(pk=integration.pk).update(last_error=error, last_error_at=now)
    integration.last_error, integration.last_error_at = error, now
    log.warning("integration_test_failed", integration_id=integration.pk, error=error)
    return {"ok": False, "provider": integration.provider, "error": error}


def credentials_masked(integration: Integration) -> dict[str, str]:
    """What the API and pages show of the credentials once saved: the last four characters."""
    return {key: mask(value) for key, value in (integration.credentials or {}).items()}


def integration_webhook_urls(integration: Integration) -> dict[str, str]:
    """The URLs to paste into the provider's console (Twilio: inbound SMS and status)."""
    if integration.provider != "twilio":
        return {}
    urls = {
        "inbound_sms": providers.webhook_url("webhook-twilio-sms", integration.webhook_key),
        "status": providers.webhook_url("webhook-twilio-status", integration.webhook_key),
    }
    return {name: url for name, url in urls.items() if url}

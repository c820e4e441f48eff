"""Writes for integrations: the provider accounts a workspace sends through, in fallback order."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import phonenumbers
import structlog
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone

from careops.crypto import mask
from careops.errors import InvalidInput
from careops.net import url_problem
from messaging import providers
from messaging.models import Channel, Integration
from messaging.providers import PROVIDERS, Outgoing, ProviderSpec, SendFailed
from messaging.signals import integration_recovered

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
    """An error for a provider base URL, or None. Plain http and addresses inside our network
    (a local stand-in or mock server) only where console providers are allowed too: development
    and tests (careops.net says why)."""
    return url_problem(value, allow_internal=settings.MESSAGING_ALLOW_CONSOLE, what="the provider")


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


# --- Test messages and checks -------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One provider tried with a test message: its label, and why it failed ("": it took it)."""

    sender: str
    error: str = ""


@dataclass(frozen=True)
class SendTestReport:
    """What became of a test message: which provider took it (`provider` as the message record
    would name it, `sender` as an operator reads it), or why each one tried did not."""

    ok: bool
    provider: str = ""
    sender: str = ""
    # The platform's default sender was used: the workspace has no integration on the channel.
    platform: bool = False
    attempts: tuple[Attempt, ...] = ()

    @property
    def error(self) -> str:
        return self.attempts[-1].error if self.attempts and not self.ok else ""


def _clean_test_to(channel: str, to: str | None) -> str:
    if channel == Channel.SMS:
        number = _e164(to or "")
        if number is None:
            raise InvalidInput(
                fields={"to": ["Enter the number to text, in E.164, e.g. +447700900123."]}
            )
        return number
    try:
        validate_email(to or "")
    except ValidationError:
        raise InvalidInput(fields={"to": ["Enter the email address to send to."]}) from None
    return to or ""


def _test_outgoing(workspace, channel: str, to: str, provider: str = "") -> Outgoing:
    through = f" through {provider}" if provider else ""
    if channel == Channel.SMS:
        body = (
            f"Test message from CareOps: {provider} works."
            if provider
            else f"Test message from CareOps for {workspace.name}."
        )
        return Outgoing(channel=Channel.SMS, to=to, body=body)
    from messaging.services import inbound_email_address

    return Outgoing(
        channel=Channel.EMAIL,
        to=to,
        subject=f"CareOps test email ({provider})" if provider else "CareOps test email",
        body=f"This test email was sent{through} for {workspace.name}.",
        reply_to=(inbound_email_address(workspace),),
        sender_name=workspace.name,
    )


def _record_health(integration: Integration | None, error: str, now) -> None:
    """The integration's last success, or its last error (what the settings page shows)."""
    if integration is None:
        return
    Integration.health_record(integration, error, now)  # the caller's instance updated too


def _send_through(senders: list[providers.Sender], outgoing: Outgoing) -> SendTestReport:
    """Try the senders in order, as a delivery would: the first that takes the message wins; a
    refused recipient stops there (no other provider would take it either, and it says nothing
    about the integration's health)."""
    now = timezone.now()
    attempts: list[Attempt] = []
    platform = all(sender.integration is None for sender in senders)
    for sender in senders:
        integration_id = getattr(sender.integration, "pk", None)
        try:
            result = sender.send(outgoing)
        except SendFailed as exc:
            failure = exc
        except Exception as exc:
            log.exception("test_message_crashed", integration_id=integration_id)
            failure = SendFailed(f"unexpected error: {type(exc).__name__}")
        else:
            _record_health(sender.integration, "", now)
            attempts.append(Attempt(sender.label))
            log.info("test_message_sent", integration_id=integration_id, provider=result.provider)
            return SendTestReport(True, result.provider, sender.label, platform, tuple(attempts))
        attempts.append(Attempt(sender.label, failure.reason))
        log.warning("test_message_failed", integration_id=integration_id, error=failure.reason)
        if failure.permanent:
            break
        _record_health(sender.integration, failure.reason, now)
    return SendTestReport(False, platform=platform, attempts=tuple(attempts))


def integration_send_test(*, integration: Integration, to: str) -> SendTestReport:
    """Send a test message to `to` (an email address or an E.164 number, by the integration's
    channel) through this one integration, and record the outcome on it."""
    to = _clean_test_to(integration.channel, to)
    outgoing = _test_outgoing(integration.workspace, integration.channel, to, integration.provider)
    return _send_through([providers.sender_for_integration(integration)], outgoing)


def workspace_send_test(*, workspace, channel: str, to: str) -> SendTestReport:
    """Send a test message to `to` the way the workspace's messages go: through its active
    integrations on the channel in order, falling back as a delivery does; with none, through
    the platform's default sender (report.platform)."""
    if channel not in Channel.values:
        raise InvalidInput(fields={"channel": ["Choose email or sms."]})
    to = _clean_test_to(channel, to)
    outgoing = _test_outgoing(workspace, channel, to)
    return _send_through(providers.senders_for(workspace, channel), outgoing)


def integration_test(*, integration: Integration, actor, to: str | None = None) -> dict[str, Any]:
    """Send a test message through this one integration: an email to the actor (the owner
    testing it from the app), or an SMS to `to`. Records the outcome on the integration;
    returns {ok, provider, error}."""
    recipient = actor.email if integration.channel == Channel.EMAIL else to
    report = integration_send_test(integration=integration, to=recipient or "")
    return {
        "ok": report.ok,
        "provider": report.provider or integration.provider,
        "error": report.error,
    }


@dataclass(frozen=True)
class ProviderCheck:
    """One provider account checked: whose, and what the provider said."""

    workspace: str  # the workspace's slug; "" for the platform's default senders
    channel: str
    sender: str
    ok: bool
    detail: str  # what the provider confirmed, or why the check failed
    integration_id: int | None = None


def _check(sender: providers.Sender) -> tuple[bool, str]:
    try:
        return True, sender.check()
    except SendFailed as exc:
        return False, exc.reason
    except Exception as exc:
        log.exception("provider_check_crashed", provider=sender.key)
        return False, f"unexpected error: {type(exc).__name__}"


def integration_check(*, integration: Integration) -> ProviderCheck:
    """Ask the integration's provider whether it accepts the credentials, without sending a
    message. A refusal is recorded as the integration's last error (its sends would fail the
    same way); a pass is not recorded as a success, which the settings and onboarding pages show
    as "sent successfully": nothing was sent."""
    sender = providers.sender_for_integration(integration)
    ok, detail = _check(sender)
    if not ok:
        _record_health(integration, detail, timezone.now())
    elif integration.is_failing:
        # Its credentials work again: not a success to show (see above), but what failed it may
        # be over, and whoever was alerted should know.
        integration_recovered.send(sender=Integration, integration=integration)
    log.info("integration_checked", integration_id=integration.pk, ok=ok, detail=detail)
    return ProviderCheck(
        integration.workspace.slug, integration.channel, sender.label, ok, detail, integration.pk
    )


def integrations_check(
    *, workspace=None, progress: Callable[[int, int], None] | None = None
) -> list[ProviderCheck]:
    """Check every active integration (of one workspace, or of all), and the platform's default
    senders, which serve every workspace without an integration on a channel. One slow or broken
    provider does not stop the others: each answers within the send timeout."""
    integrations = Integration.objects.filter(is_active=True).select_related("workspace")
    if workspace is not None:
        integrations = integrations.filter(workspace=workspace)
    integrations = list(integrations.order_by("workspace__slug", "channel", "priority", "pk"))
    channels = sorted(Channel.values)
    if workspace is not None:  # the platform's senders matter to it only where it has none
        covered = {integration.channel for integration in integrations}
        channels = [channel for channel in channels if channel not in covered]
    total = len(channels) + len(integrations)
    checks: list[ProviderCheck] = []
    for channel in channels:
        sender = providers.platform_sender(channel)
        ok, detail = _check(sender)
        checks.append(ProviderCheck("", channel, sender.label, ok, detail))
        if progress:
            progress(len(checks), total)
    for integration in integrations:
        checks.append(integration_check(integration=integration))
        if progress:
            progress(len(checks), total)
    return checks


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

"""The providers that carry messages: email through django-anymail's ESP backends, SMS through
Twilio, and console stand-ins for development.

A sender takes an `Outgoing` message and returns a `SendResult`, or raises `SendFailed`, which
says whose fault the failure is: the message's (`permanent`: a refused recipient, which no other
provider and no retry will fix) or the provider's (a network error, an outage, a broken account:
the next provider may succeed, and a retry later may too). A failure may also leave the outcome
unknown (`unknown`): the request reached the provider and its answer did not reach us whole (no
answer within SEND_TIMEOUT, a body cut short, a 2xx we cannot read), so the provider may have
taken the message. messaging.delivery then sends it through no other provider.

`check()` asks the provider whether it accepts the credentials without sending anything (an
account or key lookup, an SMTP login), for `manage.py check_integrations`.

A sender opens a connection per send, unless `open()` was called: then its sends share one (an
HTTP session kept alive, an SMTP login) until `close()`. Delivery of a batch of messages does
that: against a real provider each new connection costs a TLS handshake, or an SMTP login.
"""

from __future__ import annotations

import contextlib
import json
import re
import smtplib
import warnings
from dataclasses import dataclass, field
from email.utils import formataddr
from typing import Any

import requests
import structlog
from anymail.backends.resend import EmailBackend as AnymailResendBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailNotSupportedWarning,
    AnymailRecipientsRefused,
)
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.smtp import EmailBackend as SmtpBackend
from django.urls import NoReverseMatch, reverse
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client as TwilioClient

from messaging import provider_checks
from messaging.models import Channel, Integration

log = structlog.get_logger(__name__)

# anymail warns on every SendGrid connection that it no longer officially supports SendGrid;
# SendGrid is a provider workspaces choose knowingly, and the warning would fill the logs.
warnings.filterwarnings(
    "ignore", category=AnymailNotSupportedWarning, module=r"anymail\.backends\.sendgrid"
)

# Seconds a provider may take to answer before the next one is tried: the connect and each
# read of every HTTP call (anymail's backends, Twilio's client, check()). SMTP has EMAIL_TIMEOUT.
SEND_TIMEOUT = 15

# Errors of an HTTP call that the provider received and whose answer was lost: it may have
# taken the message. A connection refused or a connect timeout, by contrast, reached no one.
OUTCOME_UNKNOWN_ERRORS = (
    requests.exceptions.ReadTimeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)

# Twilio error codes that name the recipient: invalid "To" number, unsubscribed (STOP),
# not a mobile number. Any other Twilio error is the account's or Twilio's problem.
TWILIO_PERMANENT_CODES = frozenset({21211, 21610, 21614})

# In a 400/422 answer from an ESP, words that show the complaint is about the recipient (the
# message's fault) rather than the sender, domain or account (the integration's fault).
RECIPIENT_COMPLAINT = re.compile(r"recipient|[`'\".]to[`'\".]|\bto (?:field|address)", re.I)


@dataclass(frozen=True)
class ProviderSpec:
    key: str
    label: str
    channel: str | None  # None: either channel (the console providers)
    required: tuple[str, ...] = ()
    optional: tuple[str, ...] = ()

    @property
    def is_console(self) -> bool:
        return self.key == "console"


PROVIDERS: dict[str, ProviderSpec] = {
    spec.key: spec
    for spec in (
        ProviderSpec("resend", "Resend", Channel.EMAIL, ("api_key",), ("api_url",)),
        ProviderSpec("sendgrid", "SendGrid", Channel.EMAIL, ("api_key",), ("api_url",)),
        ProviderSpec(
            "mailgun", "Mailgun", Channel.EMAIL, ("api_key", "sender_domain"), ("api_url",)
        ),
        ProviderSpec("postmark", "Postmark", Channel.EMAIL, ("api_key",), ("api_url",)),
        ProviderSpec(
            "twilio", "Twilio", Channel.SMS, ("account_sid", "auth_token"), ("api_base_url",)
        ),
        ProviderSpec("console", "Console (development)", None),
    )
}


@dataclass(frozen=True)
class Outgoing:
    """What to send, independent of any provider."""

    channel: str
    to: str
    body: str
    subject: str = ""
    reply_to: tuple[str, ...] = ()
    sender_name: str = ""
    # Sent where the ESP honours one (Resend): the same key twice sends one email.
    idempotency_key: str = ""
    # Our message's id, carried in the status callback URL (see messaging.webhooks).
    message_id: int | None = None
    # (filename, content, content type) sent with an email.
    attachments: tuple[tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class SendResult:
    provider: str
    provider_message_id: str
    from_address: str


class SendFailed(Exception):
    """permanent: the message's fault (no provider will take it). unknown: the provider may
    have taken it (see the module's docstring)."""

    def __init__(self, reason: str, *, permanent: bool = False, unknown: bool = False):
        self.reason = reason
        self.permanent = permanent
        self.unknown = unknown
        super().__init__(reason)


def _unknown_outcome(exc: BaseException) -> SendFailed:
    if isinstance(exc, requests.exceptions.ReadTimeout):
        what = f"no answer within {SEND_TIMEOUT} s"
    else:
        what = "an answer cut short"
    return SendFailed(f"{what} ({type(exc).__name__}): it may have been sent", unknown=True)


def _short(text: Any, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def webhook_url(name: str, key: str) -> str:
    """An absolute URL of one of the integration's webhooks; "" while the route does not exist."""
    try:
        return settings.SITE_URL + reverse(name, args=[key])
    except NoReverseMatch:
        return ""


# --- Email --------------------------------------------------------------------------------------


def _email_failure(exc: Exception, to: str) -> SendFailed:
    # anymail's error for a failed request is also the requests exception it wraps.
    if isinstance(exc, OUTCOME_UNKNOWN_ERRORS) or isinstance(exc.__cause__, OUTCOME_UNKNOWN_ERRORS):
        return _unknown_outcome(exc.__cause__ or exc)
    if isinstance(exc, AnymailAPIError) and exc.status_code is not None:
        response = getattr(exc, "response", None)
        text = _short(getattr(response, "text", "") or "", 200)
        if 200 <= exc.status_code < 300:
            # The provider said yes, in words anymail cannot read (not JSON, no message id).
            return SendFailed(
                f"HTTP {exc.status_code} with an unreadable answer ({text or 'empty'}): "
                "it may have been sent",
                unknown=True,
            )
        if exc.status_code == 409:
            # Resend: a request with this idempotency key is in progress, or was sent with
            # another body. Either way the key is known to it: another provider would double it.
            return SendFailed(f"HTTP 409 {text}: it may have been sent".strip(), unknown=True)
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return SendFailed(f"recipient refused: {_short(exc)}", permanent=True)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return SendFailed(f"recipient refused: {_short(exc.recipients)}", permanent=True)
    if isinstance(exc, AnymailAPIError) and exc.status_code is not None:
        response = getattr(exc, "response", None)
        text = _short(getattr(response, "text", "") or "", 200)
        about_recipient = bool(RECIPIENT_COMPLAINT.search(text)) or to.lower() in text.lower()
        permanent = exc.status_code in (400, 422) and about_recipient
        return SendFailed(f"HTTP {exc.status_code} {text}".strip(), permanent=permanent)
    cause = exc.__cause__ or exc
    return SendFailed(f"{type(cause).__name__}: {_short(cause)}")


class ResendBackend(AnymailResendBackend):
    """anymail's Resend backend, sending the message's idempotency key as the HTTP header
    Resend reads it from: a send repeated after a crash (the provider accepted the message, the
    worker died before recording it) is then answered from Resend's memory, not sent twice."""

    def build_message_payload(self, message, defaults):
        payload = super().build_message_payload(message, defaults)
        key = getattr(message, "idempotency_key", "")
        if key:
            payload.headers["Idempotency-Key"] = key
        return payload


EMAIL_BACKENDS = {"resend": "messaging.providers.ResendBackend"}
# The ESPs whose backend (above) sends the idempotency key where the ESP reads it.
IDEMPOTENT_ESPS = frozenset({"resend"})


def _send_email(connection, outgoing: Outgoing, from_email: str) -> str:
    """Send through a Django email backend; the provider's message id, or ""."""
    email = EmailMessage(
        subject=outgoing.subject,
        body=outgoing.body,
        from_email=from_email,
        to=[outgoing.to],
        reply_to=list(outgoing.reply_to),
        connection=connection,
    )
    email.idempotency_key = outgoing.idempotency_key
    for filename, content, content_type in outgoing.attachments:
        email.attach(filename, content, content_type)
    try:
        email.send()
    except Exception as exc:
        raise _email_failure(exc, outgoing.to) from exc
    status = getattr(email, "anymail_status", None)
    return (status.message_id or "") if status is not None else ""


UNREADABLE = "the credentials cannot be read: enter them again"
NOTHING_TO_CHECK = "nothing to check"
PLATFORM_TWILIO_UNSET = "TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN are not both set"


@dataclass
class Sender:
    """One way out for a channel: an integration's provider, or the platform default."""

    # The provider answers a repeated Outgoing.idempotency_key with the message it already
    # took instead of sending another (Resend: for 24 hours), so a send whose outcome is
    # unknown may be repeated through it. No other provider here offers that.
    honours_idempotency_key = False

    key: str
    integration: Integration | None = None
    from_address: str = ""
    credentials: dict = field(default_factory=dict, repr=False)
    # After open(): the connection (or client) the following sends share, made at the first.
    _keep_open: bool = field(default=False, init=False, repr=False, compare=False)
    _connection: Any = field(default=None, init=False, repr=False, compare=False)

    @property
    def label(self) -> str:
        """How an operator reads this sender: the provider, and whose account it is."""
        if self.integration is not None:
            spec = PROVIDERS.get(self.key)
            return f"{spec.label if spec else self.key} (integration {self.integration.pk})"
        if self.key == "default":
            # "smtp", "console", "locmem" from django.core.mail.backends.<name>.EmailBackend
            return f"platform email ({settings.EMAIL_BACKEND.rsplit('.', 2)[-2]})"
        return f"platform SMS ({self.key})"

    def send(self, outgoing: Outgoing) -> SendResult:
        raise NotImplementedError

    def check(self) -> str:
        """Ask the provider whether it accepts these credentials, sending nothing: a short note
        of what it said, or SendFailed saying why not."""
        raise NotImplementedError

    def open(self) -> None:
        """Share one connection between the sends that follow, until close()."""
        self._keep_open = True

    def close(self) -> None:
        self._keep_open = False
        self._drop_connection()

    def _drop_connection(self) -> None:
        connection, self._connection = self._connection, None
        close = getattr(connection, "close", None)
        if close is not None:
            # Closing is tidying up: a connection the provider already dropped may complain.
            with contextlib.suppress(Exception):
                close()

    def _email_connection(self, backend: str | None, **kwargs: Any):
        """A Django email connection for one send, or the one kept open (see open())."""
        if not self._keep_open:
            return get_connection(backend, **kwargs)
        if self._connection is None:
            connection = get_connection(backend, **kwargs)
            try:
                connection.open()  # an SMTP connect and login; for an HTTP API, a session
            except Exception as exc:  # the provider's or the network's: the next one may do
                raise SendFailed(f"{type(exc).__name__}: {_short(exc)}") from exc
            self._connection = connection
        return self._connection

    def _send_email(self, connection, outgoing: Outgoing, from_email: str) -> str:
        try:
            return _send_email(connection, outgoing, from_email)
        except SendFailed as exc:
            if not exc.permanent:
                # The kept connection may be the trouble (an SMTP server that hung up): the
                # next send opens a fresh one.
                self._drop_connection()
            raise


class AnymailSender(Sender):
    @property
    def honours_idempotency_key(self) -> bool:
        return self.key in IDEMPOTENT_ESPS

    def connection_kwargs(self) -> dict[str, Any]:
        creds = self.credentials
        kwargs: dict[str, Any] = {"timeout": SEND_TIMEOUT}
        # Postmark calls its key a server token.
        kwargs["server_token" if self.key == "postmark" else "api_key"] = creds["api_key"]
        if self.key == "mailgun":
            kwargs["sender_domain"] = creds["sender_domain"]
        if creds.get("api_url"):
            kwargs["api_url"] = creds["api_url"]
        return kwargs

    def send(self, outgoing: Outgoing) -> SendResult:
        if not self.credentials:
            raise SendFailed(UNREADABLE)
        backend = EMAIL_BACKENDS.get(self.key, f"anymail.backends.{self.key}.EmailBackend")
        connection = self._email_connection(backend, **self.connection_kwargs())
        from_email = formataddr((outgoing.sender_name, self.from_address))
        message_id = self._send_email(connection, outgoing, from_email)
        # The tracking webhook matches messages by anymail's esp_name, lower-cased.
        return SendResult(connection.esp_name.lower(), message_id, self.from_address)

    def check(self) -> str:
        if not self.credentials:
            raise SendFailed(UNREADABLE)
        if self.key not in provider_checks.ESP_CHECKS:
            return "not checked: the provider offers no check without sending"
        backend = EMAIL_BACKENDS.get(self.key, f"anymail.backends.{self.key}.EmailBackend")
        # anymail's backend resolves the API URL (its default, or the integration's) and opens
        # a session the way a send would.
        connection = get_connection(backend, **self.connection_kwargs())
        path, request = provider_checks.ESP_CHECKS[self.key](self.credentials)
        connection.open()
        try:
            response = connection.session.get(
                connection.api_url + path, timeout=SEND_TIMEOUT, **request
            )
        except requests.RequestException as exc:
            raise SendFailed(f"{type(exc).__name__}: {_short(exc)}") from exc
        finally:
            connection.close()
        ok, verdict = provider_checks.esp_verdict(
            self.key, response.status_code, provider_checks.json_dict(response), response.text
        )
        if not ok:
            raise SendFailed(_short(verdict, 300))
        return verdict


class DjangoEmailSender(Sender):
    """The project's EMAIL_BACKEND (platform default), or Django's console backend."""

    def send(self, outgoing: Outgoing) -> SendResult:
        backend = (
            "django.core.mail.backends.console.EmailBackend" if self.key == "console" else None
        )
        connection = self._email_connection(backend)
        from_email = (
            formataddr((outgoing.sender_name, self.from_address))
            if self.from_address
            else settings.DEFAULT_FROM_EMAIL
        )
        message_id = self._send_email(connection, outgoing, from_email)
        esp_name = getattr(connection, "esp_name", None)
        provider = esp_name.lower() if esp_name else self.key
        return SendResult(provider, message_id, self.from_address or settings.DEFAULT_FROM_EMAIL)

    def check(self) -> str:
        if self.key == "console":
            return NOTHING_TO_CHECK
        connection = get_connection()
        if not isinstance(connection, SmtpBackend):
            return NOTHING_TO_CHECK  # console, file, in-memory: development backends
        where = f"{connection.host}:{connection.port}"
        try:
            connection.open()  # connects, STARTTLS or TLS, and logs in when a user is set
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP {where}: {type(exc).__name__}: {_short(exc)}") from exc
        finally:
            with contextlib.suppress(smtplib.SMTPException, OSError):
                connection.close()
        return f"SMTP {where} " + ("accepted the login" if connection.username else "answered")


# --- SMS --------------------------------------------------------------------------------------


class TwilioSender(Sender):
    def client(self) -> TwilioClient:
        if self._connection is not None:
            return self._connection
        creds = self.credentials
        if not creds.get("account_sid") or not creds.get("auth_token"):
            raise SendFailed(UNREADABLE if self.integration else PLATFORM_TWILIO_UNSET)
        client = TwilioClient(
            creds["account_sid"],
            creds["auth_token"],
            http_client=TwilioHttpClient(timeout=SEND_TIMEOUT),
        )
        if creds.get("api_base_url"):
            client.api.base_url = creds["api_base_url"].rstrip("/")
        if self._keep_open:
            self._connection = client  # its HTTP client keeps the connection alive
        return client

    def status_callback(self, message_id: int | None) -> str:
        if self.integration is None:
            return ""
        url = webhook_url("webhook-twilio-status", self.integration.webhook_key)
        return f"{url}?message={message_id}" if url and message_id else url

    def send(self, outgoing: Outgoing) -> SendResult:
        client = self.client()
        params: dict[str, Any] = {"to": outgoing.to, "from_": self.from_address}
        callback = self.status_callback(outgoing.message_id)
        if callback:
            params["status_callback"] = callback
        try:
            sent = client.messages.create(body=outgoing.body, **params)
        except TwilioRestException as exc:
            raise SendFailed(
                f"HTTP {exc.status} error {exc.code}: {_short(exc.msg, 200)}",
                permanent=exc.code in TWILIO_PERMANENT_CODES,
            ) from exc
        except OUTCOME_UNKNOWN_ERRORS as exc:
            raise _unknown_outcome(exc) from exc
        except json.JSONDecodeError as exc:
            # The twilio client parses a 2xx answer as JSON: Twilio said yes, unreadably.
            raise SendFailed(
                f"an unreadable answer ({type(exc).__name__}): it may have been sent",
                unknown=True,
            ) from exc
        except Exception as exc:
            raise SendFailed(f"{type(exc).__name__}: {_short(exc)}") from exc
        if not sent.sid:
            raise SendFailed("an answer without a message SID: it may have been sent", unknown=True)
        return SendResult("twilio", sent.sid, self.from_address)

    def check(self) -> str:
        client = self.client()
        try:
            account = client.api.v2010.accounts(self.credentials["account_sid"]).fetch()
        except TwilioRestException as exc:
            raise SendFailed(f"HTTP {exc.status} error {exc.code}: {_short(exc.msg, 200)}") from exc
        except Exception as exc:
            raise SendFailed(f"{type(exc).__name__}: {_short(exc)}") from exc
        if account.status != "active":
            raise SendFailed(f"the Twilio account is {account.status}")
        if account.type == "Trial":
            return "account active (trial: texts verified numbers only)"
        return "account active"


class ConsoleSmsSender(Sender):
    def send(self, outgoing: Outgoing) -> SendResult:
        log.info("sms_console", to=outgoing.to, sender=self.from_address, body=outgoing.body)
        return SendResult("console", "", self.from_address)

    def check(self) -> str:
        return NOTHING_TO_CHECK


# --- Choosing senders ----------------------------------------------------------------------------


CONSOLE_DISABLED = "console providers are disabled here (MESSAGING_ALLOW_CONSOLE)"


class DisabledSender(Sender):
    """A console integration where console providers are not allowed: it refuses rather than
    pretend to send, so the message moves on to the next provider or fails visibly."""

    def send(self, outgoing: Outgoing) -> SendResult:
        raise SendFailed(CONSOLE_DISABLED)

    def check(self) -> str:
        raise SendFailed(CONSOLE_DISABLED)


def sender_for_integration(integration: Integration) -> Sender:
    common = {
        "key": integration.provider,
        "integration": integration,
        "from_address": integration.from_address,
        "credentials": integration.credentials or {},
    }
    if integration.provider == "console":
        if not settings.MESSAGING_ALLOW_CONSOLE:
            return DisabledSender(**common)
        if integration.channel == Channel.SMS:
            return ConsoleSmsSender(**common)
        return DjangoEmailSender(**common)
    if integration.provider == "twilio":
        return TwilioSender(**common)
    if integration.provider in PROVIDERS:
        return AnymailSender(**common)
    return DisabledSender(**common)


def platform_sender(channel: str) -> Sender:
    """The platform's default way out, for a workspace with no integration on the channel."""
    if channel == Channel.EMAIL:
        return DjangoEmailSender(key="default")
    if settings.SMS_DEFAULT_PROVIDER == "twilio":
        return TwilioSender(
            key="twilio",
            from_address=settings.TWILIO_FROM_NUMBER,
            credentials={
                "account_sid": settings.TWILIO_ACCOUNT_SID,
                "auth_token": settings.TWILIO_AUTH_TOKEN,
                # Unset in production (api.twilio.com); tests point it at a local stand-in.
                "api_base_url": settings.TWILIO_API_BASE_URL,
            },
        )
    return ConsoleSmsSender(key="console", from_address=settings.TWILIO_FROM_NUMBER)


def senders_for(workspace, channel: str) -> list[Sender]:
    """The workspace's active integrations on the channel, in priority order; with none, the
    platform default."""
    integrations = (
        Integration.objects.for_workspace(workspace)
        .filter(channel=channel, is_active=True)
        .order_by("priority", "pk")
    )
    return [sender_for_integration(i) for i in integrations] or [platform_sender(channel)]

"""Sending webhook deliveries: signed POSTs, only ever from Celery (or the owner's test ping).

Signature: `CareOps-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`
(README, "Outbound webhooks", shows how a receiver checks it). `CareOps-Event` names the event
kind and `CareOps-Delivery` the delivery, the same on every attempt, for the receiver's dedupe.

An attempt succeeds on a 2xx answer within TIMEOUT_SECONDS. Redirects are not followed (the
target was checked, where a redirect leads was not). Anything else is a failed attempt: the
delivery waits (BACKOFF, jittered) and the minute sweep sends it again, MAX_ATTEMPTS in all,
then it is abandoned. Each failed attempt counts against the endpoint; DISABLE_AFTER failures
in a row (across its deliveries) disable it, abandon what it still had waiting, and raise an
alert emailed to the owners. The target host is checked again before each attempt (a name may
resolve elsewhere now than when it was registered), and the connection goes to the address that
was checked (urllib3 to that address, TLS verified against the URL's name).

The delivery row is locked (SKIP LOCKED) while its attempt runs, at most TIMEOUT_SECONDS plus
the lookup: a second task or sweep for it passes it by.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import certifi
import structlog
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, Timeout
from urllib3 import exceptions as urllib3_errors

from automation.alerts import alert_email_queue, alert_raise
from automation.models import Alert, WebhookDelivery, WebhookEndpoint
from automation.webhooks.events import PING, ping_payload
from automation.webhooks.services import url_check
from careops.net import address_is_internal

log = structlog.get_logger(__name__)

SIGNATURE_HEADER = "CareOps-Signature"
EVENT_HEADER = "CareOps-Event"
DELIVERY_HEADER = "CareOps-Delivery"
USER_AGENT = "CareOps-Webhooks/1"
TIMEOUT_SECONDS = 5.0
# How long the n-th failed attempt waits before the next (±10 %): about a day and a half in all.
BACKOFF = (
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
    timedelta(hours=12),
    timedelta(hours=14),
)
MAX_ATTEMPTS = len(BACKOFF) + 1
DISABLE_AFTER = 10  # failed attempts in a row
JITTER = 0.1
ERROR_MAX_LENGTH = 500  # WebhookDelivery.last_error
BODY_SNIPPET = 200  # of a refusal's body, kept in the error
# The sweep leaves new deliveries this long to the task queued on commit.
SWEEP_GRACE_SECONDS = 30
SWEEP_BATCH = 200


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The CareOps-Signature header's value for this body, sent at `timestamp`."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def body_of(payload: dict) -> bytes:
    return json.dumps(payload, cls=DjangoJSONEncoder, separators=(",", ":")).encode()


def retry_delay(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt, jittered so that the deliveries
    of one outage do not all come back at the same second."""
    base = BACKOFF[min(attempts, len(BACKOFF)) - 1]
    return base * (1 + random.uniform(-JITTER, JITTER))  # noqa: S311 - not a secret


@dataclass(frozen=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    response_ms: int | None = None
    error: str = ""


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_MAX_LENGTH else text[: ERROR_MAX_LENGTH - 1] + "…"


def _addresses(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _pool(target, address: str) -> HTTPConnectionPool:
    """A connection to the address that was checked, not to whatever the name resolves to a
    moment later (DNS rebinding): TLS still verifies the certificate against the URL's host
    name, sent as SNI, and the Host header names it too."""
    port = target.port or (443 if target.scheme == "https" else 80)
    timeout = Timeout(connect=TIMEOUT_SECONDS, read=TIMEOUT_SECONDS)
    if target.scheme == "https":
        return HTTPSConnectionPool(
            address,
            port,
            timeout=timeout,
            retries=False,
            maxsize=1,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            server_hostname=target.hostname,
            assert_hostname=target.hostname,
        )
    return HTTPConnectionPool(address, port, timeout=timeout, retries=False, maxsize=1)


def post(*, url: str, secret: str, delivery_id: int, kind: str, body: bytes) -> Outcome:
    """One signed POST; never raises for what the network or the receiver does. The target is
    checked again first (its name may resolve elsewhere now), and the connection goes to the
    address that passed the check."""
    if problem := url_check(url):
        return Outcome(False, error=f"Not sent: {problem}")
    target = urlsplit(url)
    try:
        addresses = _addresses(target.hostname or "", target.port or 0)
    except (OSError, UnicodeError, ValueError):
        return Outcome(False, error=f"Not sent: {target.hostname} does not resolve.")
    if not settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS and any(map(address_is_internal, addresses)):
        return Outcome(False, error="Not sent: the endpoint's address is inside a private network.")
    headers = {
        "Host": target.netloc,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        SIGNATURE_HEADER: signature(secret, int(time.time()), body),
        EVENT_HEADER: kind,
        DELIVERY_HEADER: str(delivery_id),
    }
    path = (target.path or "/") + (f"?{target.query}" if target.query else "")
    started = time.monotonic()
    pool = _pool(target, addresses[0])
    try:
        # Redirects are not followed; the body is read only for a refusal, and only its start.
        response = pool.urlopen(
            "POST", path, body=body, headers=headers, redirect=False, preload_content=False
        )
        try:
            elapsed = round((time.monotonic() - started) * 1000)
            code = response.status
            if 200 <= code < 300:
                return Outcome(True, code, elapsed)
            if 300 <= code < 400:
                where = response.headers.get("Location", "")
                error = f"HTTP {code}: redirects are not followed; register the final URL: {where}"
                return Outcome(False, code, elapsed, _cut(error))
            snippet = response.read(BODY_SNIPPET) or b""
            text = " ".join(snippet.decode("utf-8", "replace").split())
            return Outcome(False, code, elapsed, _cut(f"HTTP {code}: {text}".rstrip(": ")))
        finally:
            response.release_conn()
    except urllib3_errors.NewConnectionError as exc:  # (a ConnectTimeoutError subclass)
        return Outcome(False, error=_cut(f"Could not connect: {_reason(exc)}"))
    except urllib3_errors.TimeoutError:
        return Outcome(False, error=f"No answer within {TIMEOUT_SECONDS:g} s.")
    except urllib3_errors.SSLError as exc:
        return Outcome(False, error=_cut(f"TLS failed: {_reason(exc)}"))
    except (urllib3_errors.HTTPError, OSError) as exc:
        return Outcome(False, error=_cut(f"Could not connect: {_reason(exc)}"))
    finally:
        pool.close()


def _reason(exc: BaseException) -> str:
    """The innermost cause of a connection error, without urllib3's object addresses."""
    while exc.__context__ is not None and exc.__context__ is not exc:
        exc = exc.__context__
    text = str(exc)
    return text.split(": ", 1)[-1] if "object at 0x" in text else text


# --- Attempts ---------------------------------------------------------------------------------


def webhook_delivery_attempt(delivery_id: int, *, now: datetime | None = None) -> bool | None:
    """Send the delivery if it is pending and due (and no one else is sending it): True on
    success, False on a failed attempt, None when there was nothing to do. Safe to call twice."""
    now = now or timezone.now()
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint")
            .filter(
                pk=delivery_id,
                status=WebhookDelivery.Status.PENDING,
                next_attempt_at__lte=now,
            )
            .first()
        )
        if delivery is None:
            return None
        endpoint = delivery.endpoint
        if not endpoint.is_active:  # disabled while this one waited in the queue
            _finish(delivery, WebhookDelivery.Status.ABANDONED, "The endpoint is disabled.")
            return None
        outcome = post(
            url=endpoint.url,
            secret=endpoint.secret or "",
            delivery_id=delivery.pk,
            kind=delivery.kind,
            body=body_of(delivery.payload),
        )
        _record(delivery, endpoint, outcome)
    return outcome.ok


def _finish(delivery: WebhookDelivery, status: str, error: str = "") -> None:
    delivery.status = status
    delivery.next_attempt_at = None
    if error:
        delivery.last_error = error
    delivery.save(update_fields=["status", "next_attempt_at", "last_error", "updated_at"])


def _record(delivery: WebhookDelivery, endpoint: WebhookEndpoint, outcome: Outcome) -> None:
    now = timezone.now()
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = outcome.status_code
    delivery.last_response_ms = outcome.response_ms
    delivery.last_error = outcome.error
    endpoints = WebhookEndpoint.objects.filter(pk=endpoint.pk)
    if outcome.ok:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        endpoints.update(consecutive_failures=0, last_success_at=now, updated_at=now)
    elif delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.ABANDONED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + retry_delay(delivery.attempts)
    delivery.save()
    log_event = "webhook_delivered" if outcome.ok else "webhook_attempt_failed"
    log.info(
        log_event,
        delivery_id=delivery.pk,
        endpoint_id=endpoint.pk,
        attempts=delivery.attempts,
        status_code=outcome.status_code,
        response_ms=outcome.response_ms,
        error=outcome.error,
        retry_at=delivery.next_attempt_at,
    )
    if not outcome.ok:
        endpoints.update(consecutive_failures=F("consecutive_failures") + 1, updated_at=now)
        failures = endpoints.values_list("consecutive_failures", flat=True).first() or 0
        if failures >= DISABLE_AFTER:
            webhook_endpoint_disable(endpoint=endpoint, failures=failures, now=now)


def webhook_endpoint_disable(
    *, endpoint: WebhookEndpoint, failures: int, now: datetime | None = None
) -> bool:
    """Stop sending to an endpoint that keeps failing: it is marked disabled with the reason,
    what it still had waiting is abandoned, and the owners get an alert (and its email) linking
    to its page. Returns False when it was disabled already."""
    now = now or timezone.now()
    host = urlsplit(endpoint.url).hostname or endpoint.url
    reason = f"Disabled after {failures} failed attempts in a row."
    disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason, updated_at=now
    )
    if not disabled:
        return False
    WebhookDelivery.objects.filter(
        endpoint_id=endpoint.pk, status=WebhookDelivery.Status.PENDING
    ).update(
        status=WebhookDelivery.Status.ABANDONED,
        next_attempt_at=None,
        last_error="Not sent: the endpoint was disabled.",
        updated_at=now,
    )
    alert, created = alert_raise(
        workspace=endpoint.workspace_id,
        kind=Alert.Kind.WEBHOOK_DISABLED,  # critical, linking the endpoint's page: catalogue
        subject_id=endpoint.pk,
        message=f"The webhook to {host} is disabled: {failures} failed attempts in a row.",
    )
    if created:
        alert_email_queue(alert)
    log.warning("webhook_endpoint_disabled", endpoint_id=endpoint.pk, failures=failures)
    return True


def webhook_endpoint_ping(*, endpoint: WebhookEndpoint, actor) -> WebhookDelivery:
    """The owner's test, sent now (they wait for the answer, TIMEOUT_SECONDS at most): a signed
    `ping` with an empty `data`, recorded among the endpoint's deliveries. Not retried, and it
    counts neither for nor against the endpoint; a disabled endpoint can be tested too."""
    now = timezone.now()
    payload = ping_payload(endpoint.workspace, now)
    delivery = WebhookDelivery.objects.create(
        workspace_id=endpoint.workspace_id,
        endpoint=endpoint,
        kind=PING,
        payload=payload,
        next_attempt_at=now,
    )
    outcome = post(
        url=endpoint.url,
        secret=endpoint.secret or "",
        delivery_id=delivery.pk,
        kind=PING,
        body=body_of(payload),
    )
    done = timezone.now()
    delivery.attempts = 1
    delivery.last_attempt_at = done
    delivery.last_status_code = outcome.status_code
    delivery.last_response_ms = outcome.response_ms
    delivery.last_error = outcome.error
    delivery.status = (
        WebhookDelivery.Status.SUCCEEDED if outcome.ok else WebhookDelivery.Status.FAILED
    )
    delivery.delivered_at = done if outcome.ok else None
    delivery.next_attempt_at = None
    delivery.save()
    log.info(
        "webhook_pinged",
        endpoint_id=endpoint.pk,
        ok=outcome.ok,
        status_code=outcome.status_code,
        actor=getattr(actor, "pk", None),
    )
    return delivery


# --- The sweep --------------------------------------------------------------------------------


def webhook_deliveries_due(*, now: datetime | None = None, limit: int = SWEEP_BATCH) -> int:
    """Every minute: queue a task for each pending delivery that is due (a retry whose backoff
    has passed, or a new one whose own task was lost: the broker was down at commit), oldest
    due first. Returns how many were queued."""
    from automation.webhooks.tasks import webhook_deliver

    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(
            status=WebhookDelivery.Status.PENDING,
            next_attempt_at__lte=now - timedelta(seconds=SWEEP_GRACE_SECONDS),
        )
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )
    queued = 0
    for delivery_id in due:
        try:
            webhook_deliver.delay(delivery_id)
        except Exception as exc:
            # The broker is down: everything stays pending for the next sweep.
            log.warning("webhook_sweep_enqueue_failed", error=str(exc))
            break
        queued += 1
    if due:
        log.info("webhook_deliveries_swept", due=len(due), queued=queued)
    return queued


# --- Retention --------------------------------------------------------------------------------


def webhook_deliveries_purge(
    *, days: int, now: datetime | None = None, batch_size: int = 1000
) -> int:
    """Daily: delete finished deliveries (succeeded, failed, abandoned) older than `days`, as
    automation's history is (EVENT_RETENTION_DAYS); a pending one always stays. One transaction
    per batch, so a purge cut short keeps its progress. Returns how many were deleted."""
    cutoff = (now or timezone.now()) - timedelta(days=days)
    old = WebhookDelivery.objects.exclude(status=WebhookDelivery.Status.PENDING).filter(
        created_at__lt=cutoff
    )
    deleted = 0
    while ids := list(old.order_by("pk").values_list("pk", flat=True)[:batch_size]):
        deleted += WebhookDelivery.objects.filter(pk__in=ids).delete()[0]
    if deleted:
        log.info("webhook_deliveries_purged", cutoff=cutoff.isoformat(), deleted=deleted)
    return deleted

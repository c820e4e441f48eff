"""Writes for outbound webhooks: owners register, edit, enable and remove endpoints; the event
dispatcher fans each event out into one delivery per subscribed endpoint."""

from __future__ import annotations

import secrets
from typing import Any

import structlog
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from automation.alerts import alerts_resolve
from automation.models import Alert, Event, WebhookDelivery, WebhookEndpoint
from automation.webhooks.events import WEBHOOK_EVENTS, event_payload
from careops.errors import InvalidInput
from careops.net import url_problem
from careops.queue import enqueue_on_commit
from workspaces.models import Workspace

log = structlog.get_logger(__name__)

MAX_ENDPOINTS = 10  # per workspace: each one multiplies every event's outgoing requests
URL_MAX_LENGTH = 500
SECRET_PREFIX = "whsec_"  # noqa: S105 - a prefix, not a secret
SECRET_MIN_LENGTH = 24
SECRET_MAX_LENGTH = 200

# Fan-out cache: a workspace's active endpoints as (id, subscribed kinds).
EndpointCache = dict[int, list[tuple[int, frozenset[str]]]]


def secret_generate() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def url_check(url: Any) -> str | None:
    """Why this URL cannot be a webhook target, or None: https, no credentials, and a public
    address (named or resolved) unless WEBHOOKS_ALLOW_PRIVATE_TARGETS (development, tests)."""
    if not isinstance(url, str) or not url.strip():
        return "Enter the URL that receives the events."
    if len(url.strip()) > URL_MAX_LENGTH:
        return f"Enter a URL of at most {URL_MAX_LENGTH} characters."
    return url_problem(
        url.strip(), allow_internal=settings.WEBHOOKS_ALLOW_PRIVATE_TARGETS, what="the endpoint"
    )


def _clean_events(events: Any, errors: dict[str, list[str]]) -> list[str]:
    if not isinstance(events, list | tuple) or not events:
        errors["events"] = ["Choose at least one event."]
        return []
    unknown = [e for e in events if not isinstance(e, str) or e not in WEBHOOK_EVENTS]
    if unknown:
        errors["events"] = [f"Choose among: {', '.join(WEBHOOK_EVENTS)}."]
        return []
    return [kind for kind in WEBHOOK_EVENTS if kind in events]  # one of each, in a set order


def _clean_secret(secret: Any, errors: dict[str, list[str]]) -> str:
    if secret is None or secret == "":
        return secret_generate()
    if (
        not isinstance(secret, str)
        or not SECRET_MIN_LENGTH <= len(secret) <= SECRET_MAX_LENGTH
        or not secret.isprintable()
        or any(c.isspace() for c in secret)
    ):
        errors["secret"] = [
            f"Enter {SECRET_MIN_LENGTH} to {SECRET_MAX_LENGTH} characters without spaces, "
            "or leave it empty to have one made."
        ]
    return secret if isinstance(secret, str) else ""


def _clean_description(description: Any, errors: dict[str, list[str]]) -> str:
    if description is None:
        return ""
    if not isinstance(description, str) or len(description) > 200:
        errors["description"] = ["Enter at most 200 characters."]
        return ""
    return description.strip()


@transaction.atomic
def webhook_endpoint_create(
    *,
    workspace,
    actor,
    url: str,
    events: list[str],
    description: str = "",
    secret: str | None = None,
) -> WebhookEndpoint:
    """Register a URL for the chosen events. The secret signs every delivery: made here when
    none is given, stored encrypted, and readable on the returned instance (the only time the
    owner is shown it)."""
    errors: dict[str, list[str]] = {}
    if problem := url_check(url):
        errors["url"] = [problem]
    events = _clean_events(events, errors)
    secret = _clean_secret(secret, errors)
    description = _clean_description(description, errors)
    # Locked: two owners adding the last allowed endpoint at once make one.
    Workspace.objects.select_for_update().filter(pk=getattr(workspace, "pk", workspace)).first()
    if WebhookEndpoint.objects.for_workspace(workspace).count() >= MAX_ENDPOINTS:
        errors.setdefault("url", []).append(
            f"A workspace has at most {MAX_ENDPOINTS} webhook endpoints: remove one first."
        )
    if errors:
        raise InvalidInput(fields=errors)
    endpoint = WebhookEndpoint.objects.create(
        workspace_id=getattr(workspace, "pk", workspace),
        url=url.strip(),
        description=description,
        secret=secret,
        events=events,
        created_by=actor,
    )
    log.info(
        "webhook_endpoint_created",
        endpoint_id=endpoint.pk,
        events=events,
        actor=getattr(actor, "pk", None),
    )
    return endpoint


def webhook_endpoint_update(
    *,
    endpoint: WebhookEndpoint,
    actor,
    url: str | None = None,
    events: list[str] | None = None,
    description: str | None = None,
) -> WebhookEndpoint:
    """Change the URL, the events or the description (what is not given stays). Deliveries
    already waiting go to the new URL."""
    errors: dict[str, list[str]] = {}
    changed = []
    if url is not None:
        if problem := url_check(url):
            errors["url"] = [problem]
        endpoint.url = url.strip() if isinstance(url, str) else endpoint.url
        changed.append("url")
    if events is not None:
        endpoint.events = _clean_events(events, errors)
        changed.append("events")
    if description is not None:
        endpoint.description = _clean_description(description, errors)
        changed.append("description")
    if errors:
        endpoint.refresh_from_db()
        raise InvalidInput(fields=errors)
    if changed:
        endpoint.save(update_fields=[*changed, "updated_at"])
        log.info(
            "webhook_endpoint_updated",
            endpoint_id=endpoint.pk,
            fields=changed,
            actor=getattr(actor, "pk", None),
        )
    return endpoint


@transaction.atomic
def webhook_endpoint_enable(*, endpoint: WebhookEndpoint, actor) -> WebhookEndpoint:
    """Switch a disabled endpoint on again: its failure count starts from zero and its alert is
    resolved. Deliveries abandoned when it was disabled are not sent again; new events are.
    Idempotent."""
    now = timezone.now()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
        is_active=True, disabled_at=None, disabled_reason="", consecutive_failures=0, updated_at=now
    )
    alerts_resolve(
        workspace=endpoint.workspace_id,
        kind=Alert.Kind.WEBHOOK_DISABLED,
        subject_id=endpoint.pk,
        now=now,
    )
    endpoint.refresh_from_db()
    log.info("webhook_endpoint_enabled", endpoint_id=endpoint.pk, actor=getattr(actor, "pk", None))
    return endpoint


@transaction.atomic
def webhook_endpoint_delete(*, endpoint: WebhookEndpoint, actor) -> None:
    """Remove the endpoint with its deliveries (waiting ones are never sent); its alert, if
    any, is resolved."""
    alerts_resolve(
        workspace=endpoint.workspace_id,
        kind=Alert.Kind.WEBHOOK_DISABLED,
        subject_id=endpoint.pk,
    )
    log.info("webhook_endpoint_deleted", endpoint_id=endpoint.pk, actor=getattr(actor, "pk", None))
    endpoint.delete()


# --- Fan-out (called by automation.engine while it dispatches an event) -------------------------


def _subscribed(event: Event, cache: EndpointCache) -> list[int]:
    if event.workspace_id not in cache:
        rows = (
            WebhookEndpoint.objects.for_workspace(event.workspace_id)
            .filter(is_active=True)
            .order_by("pk")
            .values_list("pk", "events")
        )
        cache[event.workspace_id] = [(pk, frozenset(kinds or ())) for pk, kinds in rows]
    return [pk for pk, kinds in cache[event.workspace_id] if event.kind in kinds]


def webhook_deliveries_create(event: Event, *, cache: EndpointCache | None = None) -> int:
    """One pending delivery of the event per active endpoint of its workspace subscribed to its
    kind, in the dispatcher's transaction, each sent by a task queued on commit (the minute
    sweep sends those whose task was lost). An event dispatched again adds none (unique per
    endpoint and event). Returns how many deliveries are waiting for the event."""
    if event.kind not in WEBHOOK_EVENTS:
        return 0
    endpoint_ids = _subscribed(event, {} if cache is None else cache)
    if not endpoint_ids:
        return 0
    from automation.webhooks.tasks import webhook_deliver

    workspace = Workspace.objects.get(pk=event.workspace_id)
    payload = event_payload(event, workspace)
    now = timezone.now()
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                workspace_id=event.workspace_id,
                endpoint_id=endpoint_id,
                event=event,
                kind=event.kind,
                payload=payload,
                next_attempt_at=now,
            )
            for endpoint_id in endpoint_ids
        ],
        ignore_conflicts=True,
    )
    waiting = list(
        WebhookDelivery.objects.for_workspace(event.workspace_id)
        .filter(event=event, status=WebhookDelivery.Status.PENDING)
        .values_list("pk", flat=True)
    )
    for delivery_id in waiting:
        enqueue_on_commit(webhook_deliver, delivery_id)
    log.info("webhook_deliveries_created", event_id=event.pk, deliveries=len(waiting))
    return len(waiting)

"""Reads of outbound webhooks that the pages and the API share."""

from __future__ import annotations

from django.db.models import QuerySet

from automation.models import WebhookDelivery, WebhookEndpoint


def webhook_endpoints_for_workspace(*, workspace) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.for_workspace(workspace).order_by("pk")


def webhook_deliveries_recent(*, endpoint: WebhookEndpoint) -> QuerySet[WebhookDelivery]:
    """The endpoint's deliveries, newest first (automation_delivery_recent)."""
    return (
        WebhookDelivery.objects.for_workspace(endpoint.workspace_id)
        .filter(endpoint=endpoint)
        .order_by("-created_at", "-pk")
    )

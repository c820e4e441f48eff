"""Support's view of outbound webhooks (imported by automation.admin): the endpoints, never
their secrets, and every delivery with its last attempt. Read-only: owners manage endpoints in
the product; a disabled one is switched on again by its owner."""

from __future__ import annotations

from django.contrib import admin

from automation.models import WebhookDelivery, WebhookEndpoint
from careops.admin import ReadOnlyAdmin


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    list_display = [
        "url",
        "workspace",
        "is_active",
        "consecutive_failures",
        "last_success_at",
        "disabled_at",
        "created_at",
    ]
    list_filter = ["is_active", "workspace"]
    search_fields = ["url", "description", "workspace__name", "workspace__slug"]
    list_select_related = ["workspace"]
    ordering = ["-created_at", "-pk"]
    exclude = ["secret"]  # never shown, not even masked: the owner saw it once


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "kind",
        "endpoint",
        "workspace",
        "status",
        "attempts",
        "last_status_code",
        "last_response_ms",
        "next_attempt_at",
    ]
    list_filter = ["status", "kind", "workspace"]
    search_fields = ["kind", "endpoint__url", "last_error"]
    list_select_related = ["workspace", "endpoint"]
    raw_id_fields = ["endpoint", "event"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]

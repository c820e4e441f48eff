"""Webhook endpoints and their deliveries (imported by automation.models: app `automation`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from careops.crypto import EncryptedJSONField
from careops.models import WorkspaceOwnedModel


class WebhookEndpoint(WorkspaceOwnedModel):
    """A URL of the owner's that receives the events it is subscribed to, signed with its
    secret. Disabled (is_active false) by the delivery after repeated failures; an owner
    enables it again."""

    url = models.CharField(max_length=500)  # checked by the services (careops.net)
    description = models.CharField(max_length=200, blank=True)
    # The signing secret, encrypted at rest; shown in full once, when the endpoint is created.
    secret = EncryptedJSONField()
    # Event kinds (automation.webhooks.events.WEBHOOK_EVENTS), checked by the services.
    events = models.JSONField(default=list)
    is_active = models.BooleanField(default=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=255, blank=True)
    # Failed attempts in a row, across its deliveries; a success resets it.
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(is_active=True) | models.Q(disabled_at__isnull=False),
                name="automation_webhookendpoint_disabled_has_time",
            ),
        ]
        indexes = [
            # The fan-out: a workspace's active endpoints (and the settings list).
            models.Index(fields=["workspace", "is_active"], name="automation_webhook_ws_active"),
        ]

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(WorkspaceOwnedModel):
    """One event sent (or to be sent) to one endpoint: the payload as it was when the event
    was dispatched, and how the last attempt went. A ping (the owner's test) has no event."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"  # a ping that failed: pings are not retried
        ABANDONED = "abandoned", "Abandoned"  # out of attempts, or the endpoint was disabled

    endpoint = models.ForeignKey(
        WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries"
    )
    # Null for a ping, and once the event is purged (the payload keeps what was sent).
    event = models.ForeignKey(
        "automation.Event",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="webhook_deliveries",
    )
    kind = models.CharField(max_length=40)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Pending: not before this (new: at once; after a failure: the backoff). Null when done.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # An event goes to an endpoint once, however often it is dispatched.
            models.UniqueConstraint(
                fields=["workspace", "endpoint", "event"],
                name="automation_webhookdelivery_once_per_event",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="pending") | models.Q(next_attempt_at__isnull=False),
                name="automation_webhookdelivery_pending_is_due",
            ),
        ]
        indexes = [
            # The sweep: pending deliveries whose attempt is due, oldest due first.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status="pending"),
                name="automation_delivery_due",
            ),
            # An endpoint's recent deliveries, newest first (its page, the API).
            models.Index(fields=["endpoint", "-created_at"], name="automation_delivery_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} to {self.endpoint_id} ({self.status})"

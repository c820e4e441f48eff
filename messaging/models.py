"""The inbox: one conversation per contact, its messages in and out, the providers that carry
them (integrations), and the message templates staff and automations use."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce, Lower

from careops.crypto import EncryptedJSONField
from careops.models import WorkspaceOwnedModel

# Longest provider error kept on a message or an integration.
ERROR_MAX_LENGTH = 2000


class Channel(models.TextChoices):
    EMAIL = "email", "Email"
    SMS = "sms", "SMS"


class Conversation(WorkspaceOwnedModel):
    class Status(models.TextChoices):
        OPEN = "open", "Open"
        CLOSED = "closed", "Closed"

    contact = models.ForeignKey(
        "contacts.Contact", on_delete=models.CASCADE, related_name="conversations"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=160, blank=True)
    # The channel the contact last wrote on: the default for a reply.
    last_inbound_channel = models.CharField(max_length=10, choices=Channel.choices, blank=True)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_conversations",
    )
    # Set by a staff reply: automations leave a conversation a person has taken over alone.
    automation_paused = models.BooleanField(default=False)
    automation_paused_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "contact"], name="messaging_conversation_one_per_contact"
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["open", "closed"]),
                name="messaging_conversation_status_valid",
            ),
        ]
        indexes = [
            # The inbox, by last activity.
            models.Index(
                fields=["workspace", "-last_message_at"], name="messaging_conv_ws_activity"
            ),
            # The "unread" filter of the inbox and the unread badge count.
            models.Index(
                fields=["workspace", "-last_message_at"],
                condition=models.Q(unread_count__gt=0),
                name="messaging_conv_ws_unread",
            ),
            # The inbox list and its keyset pages (messaging.selectors.INBOX_ORDER: the same
            # expression): by last activity, never-active ones last, the pk breaking ties.
            models.Index(
                models.F("workspace"),
                Coalesce("last_message_at", models.Value(datetime(1, 1, 1, tzinfo=UTC))).desc(),
                models.F("id").desc(),
                name="messaging_conversation_inbox",
            ),
            # The inbox's "unread" list, in the same order.
            models.Index(
                models.F("workspace"),
                Coalesce("last_message_at", models.Value(datetime(1, 1, 1, tzinfo=UTC))).desc(),
                models.F("id").desc(),
                condition=models.Q(unread_count__gt=0),
                name="messaging_conversation_unread",
            ),
        ]

    def __str__(self) -> str:
        return f"Conversation with {self.contact}"


class Message(WorkspaceOwnedModel):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"
        RECEIVED = "received", "Received"

    class SenderKind(models.TextChoices):
        STAFF = "staff", "Staff"
        AUTOMATION = "automation", "Automation"
        CONTACT = "contact", "Contact"
        SYSTEM = "system", "System"

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    direction = models.CharField(max_length=10, choices=Direction.choices)
    channel = models.CharField(max_length=10, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=Status.choices)
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()
    sender_kind = models.CharField(max_length=12, choices=SenderKind.choices)
    sender_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # Who else sent it, e.g. "rule:12" for an automation rule (automation owns that id).
    sender_reference = models.CharField(max_length=100, blank=True)
    to_address = models.CharField(max_length=254, blank=True)
    from_address = models.CharField(max_length=254, blank=True)
    provider = models.CharField(max_length=40, blank=True)
    provider_message_id = models.CharField(max_length=255, blank=True)
    error = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # When the retry sweep may try a failed message again; null: not to be retried.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    # The integration that may have sent it when its answer was lost (no answer in time, an
    # unreadable one), and, where the provider honours idempotency keys, the key that attempt
    # carried: the retries then go through that integration alone, with that key, so that the
    # provider answers with the message it took instead of sending a second (messaging.delivery).
    unconfirmed_integration = models.ForeignKey(
        "Integration", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    unconfirmed_key = models.CharField(max_length=100, blank=True)
    # When a send began: set, with the two fields above naming the integration being tried (and
    # its key where it honours keys), and committed before the provider is called; cleared with
    # its answer. One set for longer than a delivery task may run (messaging.delivery.
    # sending_limit) is a send whose worker died mid-call: its answer is lost.
    sending_since = models.DateTimeField(null=True, blank=True)
    # Files sent with an email (a booking's .ics): [{"filename", "content_type", "content"}],
    # text content only; SMS carries none.
    attachments = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(direction="inbound", status="received")
                    | models.Q(
                        direction="outbound",
                        status__in=["queued", "sent", "delivered", "failed"],
                    )
                ),
                name="messaging_message_status_matches_direction",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=["email", "sms"]),
                name="messaging_message_channel_valid",
            ),
            # A provider's message id names one message: a webhook delivered twice finds the
            # row it already made instead of making a second.
            models.UniqueConstraint(
                fields=["workspace", "provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="messaging_message_one_per_provider_id",
            ),
        ]
        indexes = [
            # A conversation's thread, oldest first.
            models.Index(fields=["conversation", "created_at"], name="messaging_msg_thread"),
            # The dashboard's figures: a workspace's messages over a period, in and out.
            models.Index(
                fields=["workspace", "created_at", "direction"], name="messaging_msg_ws_period"
            ),
            # Delivery-status webhooks find the message by the provider's id.
            models.Index(
                fields=["provider", "provider_message_id"],
                condition=~models.Q(provider_message_id=""),
                name="messaging_msg_provider_id",
            ),
            # The work queue of the retry sweep.
            models.Index(
                fields=["next_attempt_at"],
                condition=models.Q(status__in=["queued", "failed"], direction="outbound"),
                name="messaging_msg_retry_due",
            ),
            # The inbox's "failed to send" flag: EXISTS (a failed outbound message of this
            # conversation), per row of a page (selectors._failed_outbound).
            models.Index(
                fields=["conversation"],
                condition=models.Q(status="failed", direction="outbound"),
                name="messaging_msg_failed_outbound",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} {self.channel} #{self.pk} ({self.status})"


# How far along an outbound message is. Provider callbacks only ever move a message forward:
# a late "sent" never undoes "delivered", and a duplicate callback changes nothing.
STATUS_RANK = {
    Message.Status.QUEUED: 0,
    Message.Status.SENT: 1,
    Message.Status.DELIVERED: 2,
    Message.Status.FAILED: 2,
}


def _webhook_key() -> str:
    return secrets.token_urlsafe(18)


class Integration(WorkspaceOwnedModel):
    """A provider account the workspace sends through, in its place in the fallback order."""

    channel = models.CharField(max_length=10, choices=Channel.choices)
    provider = models.CharField(max_length=40)
    priority = models.PositiveSmallIntegerField(
        default=1, help_text="1 is tried first; the next is tried when it fails."
    )
    is_active = models.BooleanField(default=True)
    from_address = models.CharField(
        max_length=254, help_text="The sender: an email address, or an SMS number in E.164."
    )
    credentials = EncryptedJSONField(null=True, blank=True)
    # The secret part of this integration's webhook URLs (Twilio posts to /webhooks/twilio/<key>/).
    webhook_key = models.CharField(max_length=32, unique=True, default=_webhook_key)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["workspace", "channel", "priority"],
                name="messaging_integration_one_per_place",
            ),
            models.CheckConstraint(
                condition=models.Q(channel__in=["email", "sms"]),
                name="messaging_integration_channel_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.provider} ({self.channel}, #{self.priority})"

    @property
    def is_failing(self) -> bool:
        """Its last error is newer than its last success."""
        return self.last_error_at is not None and (
            self.last_success_at is None or self.last_success_at < self.last_error_at
        )

    @classmethod
    def health_record(cls, integration: Integration, error: str, now: datetime) -> None:
        """A send or a check through it: its last success, or its last error (what the settings
        page shows). `integration` as the caller read it before the send: going from working
        to failing sends integration_failed, from failing to working integration_recovered
        (other domains alert on those), so a failing provider signals once, not per send."""
        from messaging.signals import integration_failed, integration_recovered

        was_failing = integration.is_failing
        if error:
            error = error[:ERROR_MAX_LENGTH]
            cls.objects.filter(pk=integration.pk).update(last_error=error, last_error_at=now)
            integration.last_error, integration.last_error_at = error, now
            if not was_failing:
                integration_failed.send(sender=cls, integration=integration)
        else:
            cls.objects.filter(pk=integration.pk).update(last_success_at=now)
            integration.last_success_at = now
            if was_failing:
                integration_recovered.send(sender=cls, integration=integration)


class MessageTemplate(WorkspaceOwnedModel):
    """A canned reply or an automation's message, with {{ variables }} (see rendering.py)."""

    name = models.CharField(max_length=100)
    channel = models.CharField(
        max_length=10, choices=Channel.choices, blank=True, help_text="Blank: either channel."
    )
    subject = models.CharField(max_length=255, blank=True)
    body = models.TextField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                "workspace", Lower("name"), name="messaging_template_unique_name_per_workspace"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class InboxNotice(WorkspaceOwnedModel):
    """A note to the workspace's owners at the top of their inbox: something to look at (stock
    running out), with a link to the page where the work is. Posted once per source (another
    app's key, e.g. "alert:12": messaging does not know what it names), closed by an owner
    clicking Done or by its poster when the cause is gone."""

    title = models.CharField(max_length=255)
    body = models.CharField(max_length=500, blank=True)
    # The page where the work is: a path inside the app.
    url = models.CharField(max_length=255, blank=True)
    source = models.CharField(max_length=100)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        constraints = [
            # Posting the same thing twice (a retried task, a second sweep) is a no-op.
            models.UniqueConstraint(
                fields=["workspace", "source"], name="messaging_inboxnotice_one_per_source"
            ),
        ]
        indexes = [
            # The owners' inbox: the open notices, newest first.
            models.Index(
                fields=["workspace", "-created_at"],
                condition=models.Q(closed_at__isnull=True),
                name="messaging_inboxnotice_open",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def is_open(self) -> bool:
        return self.closed_at is None

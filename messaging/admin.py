"""Support back office for the inbox: conversations, messages, integrations and templates.

Rows here belong to a workspace and are made by the product (inbound messages, staff replies,
owners' settings), so support reads and corrects them but does not add them. Integration
credentials are never shown or edited here: only a masked summary of them.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.template.defaultfilters import truncatechars

from careops.admin import ActionsOnlyAdmin, ReadOnlyAdmin, SuperusersEditOnly, WorkspaceOwnedAdmin
from careops.crypto import mask
from careops.errors import Conflict
from messaging import services
from messaging.models import Conversation, InboxNotice, Integration, Message, MessageTemplate
from workspaces.admin import WorkspaceAdmin


class MessageInline(admin.TabularInline):
    model = Message
    extra = 0
    fields = ["created_at", "direction", "channel", "status", "sender_kind", "summary", "error"]
    readonly_fields = fields
    ordering = ["created_at", "pk"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Message")
    def summary(self, message: Message) -> str:
        return truncatechars(message.body, 120)


@admin.register(Conversation)
class ConversationAdmin(WorkspaceOwnedAdmin):
    list_display = [
        "contact",
        "workspace",
        "status",
        "unread_count",
        "last_message_at",
        "automation_paused",
        "assigned_to",
    ]
    list_filter = ["status", "automation_paused", "last_inbound_channel", "last_message_at"]
    search_fields = ["contact__email", "contact__name", "contact__phone", "workspace__name"]
    list_select_related = ["contact", "workspace", "assigned_to"]
    raw_id_fields = ["contact", "assigned_to"]
    readonly_fields = [
        "workspace",
        "unread_count",
        "last_message_at",
        "last_message_preview",
        "last_inbound_channel",
        "automation_paused_at",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "last_message_at"
    ordering = ["-last_message_at"]
    inlines = [MessageInline]


@admin.register(Message)
class MessageAdmin(ActionsOnlyAdmin):
    """A message is a record of what was said and what the provider answered: read-only. A
    failed outbound one can be sent again (the action), through the delivery service."""

    list_display = [
        "id",
        "workspace",
        "direction",
        "channel",
        "status",
        "provider",
        "to_address",
        "attempts",
        "created_at",
    ]
    list_filter = ["status", "channel", "direction", "provider", "created_at"]
    search_fields = ["=provider_message_id", "to_address", "from_address"]
    list_select_related = ["workspace"]
    raw_id_fields = ["conversation", "sender_user"]
    readonly_fields = [
        "workspace",
        "direction",
        "channel",
        "sender_kind",
        "sender_reference",
        "provider",
        "provider_message_id",
        "attempts",
        "sent_at",
        "delivered_at",
        "failed_at",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    ordering = ["-created_at"]
    actions = ["retry_failed"]

    @admin.action(description="Retry failed messages", permissions=["change"])
    def retry_failed(self, request, queryset) -> None:
        retried = skipped = 0
        for message in queryset.filter(
            direction=Message.Direction.OUTBOUND, status=Message.Status.FAILED
        ):
            try:
                services.message_retry(message=message, actor=request.user)
            except Conflict:
                skipped += 1  # sent or retried by someone else meanwhile
            else:
                self.log_change(request, message, "Queued again (retry failed)")
                retried += 1
        skipped += queryset.count() - retried - skipped
        self.message_user(request, f"{retried} message(s) queued again.", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} message(s) skipped: only failed outbound messages can be retried.",
                messages.WARNING,
            )


def credentials_summary(integration: Integration) -> str:
    credentials = integration.credentials
    if credentials is None:
        return "None stored (or no longer readable: enter them again in the app)."
    if not isinstance(credentials, dict) or not credentials:
        return "None stored."
    return ", ".join(f"{key}: {mask(value)}" for key, value in sorted(credentials.items()))


class IntegrationInline(admin.TabularInline):
    """On the workspace's page: its providers, masked, linking to their own page."""

    model = Integration
    extra = 0
    fields = ["provider", "channel", "priority", "is_active", "credentials_summary", "last_error"]
    readonly_fields = fields
    ordering = ["channel", "priority"]
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Credentials")
    def credentials_summary(self, integration: Integration) -> str:
        return credentials_summary(integration)


WorkspaceAdmin.inlines = [*WorkspaceAdmin.inlines, IntegrationInline]


@admin.register(Integration)
class IntegrationAdmin(SuperusersEditOnly, WorkspaceOwnedAdmin):
    """Support sees an integration's settings and health; only a superuser changes them."""

    list_display = [
        "provider",
        "channel",
        "workspace",
        "priority",
        "is_active",
        "from_address",
        "last_error_at",
        "last_success_at",
    ]
    list_filter = ["provider", "channel", "is_active"]
    search_fields = ["workspace__name", "workspace__slug", "from_address"]
    list_select_related = ["workspace"]
    # The credentials and the webhook key are secrets: neither is a form field here.
    exclude = ["credentials", "webhook_key"]
    readonly_fields = [
        "workspace",
        "credentials_summary",
        "webhook_key_summary",
        "last_error",
        "last_error_at",
        "last_success_at",
        "created_at",
        "updated_at",
    ]

    @admin.display(description="Credentials")
    def credentials_summary(self, integration: Integration) -> str:
        return credentials_summary(integration)

    @admin.display(description="Webhook key")
    def webhook_key_summary(self, integration: Integration) -> str:
        return mask(integration.webhook_key)


@admin.register(MessageTemplate)
class MessageTemplateAdmin(WorkspaceOwnedAdmin):
    list_display = ["name", "workspace", "channel", "subject", "updated_at"]
    list_filter = ["channel"]
    search_fields = ["name", "subject", "workspace__name"]
    list_select_related = ["workspace"]
    readonly_fields = ["workspace", "created_at", "updated_at"]


@admin.register(InboxNotice)
class InboxNoticeAdmin(ReadOnlyAdmin):
    """The owners' notes (posted and closed by the product): looked at, never edited here."""

    list_display = ["title", "workspace", "source", "created_at", "closed_at", "closed_by"]
    list_filter = [("closed_at", admin.EmptyFieldListFilter), "created_at"]
    search_fields = ["title", "source", "workspace__name"]
    list_select_related = ["workspace", "closed_by"]
    ordering = ["-created_at"]

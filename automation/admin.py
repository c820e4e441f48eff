"""Support back office for automation: the event outbox, the rules, planned reminders, what each
run did, and alerts.

Events, reminders and runs are history written by the dispatcher: read-only here. An event can
be dispatched again (its handlers run only where no run was recorded yet, or the last one
failed: redelivery never sends twice). A rule's message texts are the owners' to write in the
product, where they are checked: support only switches a rule on or off and toggles the owner
emails, through the same service. Alerts are acknowledged with an action, as staff would.
"""

from __future__ import annotations

from django.contrib import admin, messages

from automation import rules
from automation.alerts import alert_acknowledge
from automation.models import Alert, AutomationRun, Event, Reminder, Rule
from careops.admin import ActionsOnlyAdmin, ReadOnlyAdmin
from careops.queue import enqueue_on_commit


class OpenFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [("open", "Open"), ("acknowledged", "Acknowledged"), ("resolved", "Resolved")]

    def queryset(self, request, queryset):
        if self.value() == "open":
            return queryset.filter(acknowledged_at__isnull=True, resolved_at__isnull=True)
        if self.value() == "acknowledged":
            return queryset.filter(acknowledged_at__isnull=False)
        if self.value() == "resolved":
            return queryset.filter(resolved_at__isnull=False)
        return queryset


@admin.register(Event)
class EventAdmin(ActionsOnlyAdmin):
    list_display = [
        "created_at",
        "kind",
        "subject_type",
        "subject_id",
        "workspace",
        "dispatched_at",
        "attempts",
        "next_attempt_at",
    ]
    # Empty dispatched_at: not dispatched yet.
    list_filter = ["kind", ("dispatched_at", admin.EmptyFieldListFilter), "workspace"]
    search_fields = ["=subject_id", "last_error"]
    list_select_related = ["workspace"]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]
    actions = ["dispatch_again"]

    @admin.action(description="Dispatch again", permissions=["change"])
    def dispatch_again(self, request, queryset) -> None:
        from automation.tasks import automation_dispatch_event

        events = list(queryset)
        ids = [event.pk for event in events]
        # Due at once, backoff or not (one given up gets one more attempt per action).
        Event.objects.filter(pk__in=ids).update(dispatched_at=None, next_attempt_at=None)
        for event in events:
            enqueue_on_commit(automation_dispatch_event, event.pk)
            self.log_change(request, event, "Queued for dispatch again")
        self.message_user(
            request,
            f"{len(ids)} event(s) queued for dispatch. Rules that already acted on them do "
            "nothing again; failed ones are retried.",
            messages.SUCCESS,
        )


@admin.register(Rule)
class RuleAdmin(admin.ModelAdmin):
    list_display = ["kind", "workspace", "is_enabled", "email_owners", "offset_minutes"]
    list_filter = ["kind", "is_enabled", "workspace"]
    search_fields = ["workspace__name"]
    list_select_related = ["workspace"]
    fields = [
        "workspace",
        "kind",
        "is_enabled",
        "email_owners",
        "inbox_owners",
        "subject",
        "body",
        "sms_body",
        "offset_minutes",
        "quiet_start",
        "quiet_end",
        "created_at",
        "updated_at",
    ]
    # See the module docstring: the texts are edited by owners, where they are checked.
    readonly_fields = [
        "workspace",
        "kind",
        "subject",
        "body",
        "sms_body",
        "offset_minutes",
        "quiet_start",
        "quiet_end",
        "created_at",
        "updated_at",
    ]
    ordering = ["workspace", "kind"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.kind != Rule.Kind.STOCK_LOW:
            # Only stock alerts email the owners or post to their inbox.
            return [*self.readonly_fields, "email_owners", "inbox_owners"]
        return self.readonly_fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False  # every workspace gets each rule on first read

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def save_model(self, request, obj, form, change) -> None:
        current = Rule.objects.get(pk=obj.pk)
        changes = {field: form.cleaned_data[field] for field in form.changed_data}
        rules.rule_update(rule=current, actor=request.user, **changes)


@admin.register(Reminder)
class ReminderAdmin(ReadOnlyAdmin):
    list_display = ["due_at", "booking", "offset_minutes", "status", "reason", "workspace"]
    list_filter = ["status", "workspace"]
    search_fields = ["=booking__id", "booking__contact__name", "booking__contact__email"]
    list_select_related = ["booking__booking_type", "booking__contact", "workspace"]
    date_hierarchy = "due_at"
    ordering = ["-due_at", "-pk"]


@admin.register(AutomationRun)
class AutomationRunAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "rule", "outcome", "reason", "contact", "booking", "workspace"]
    list_filter = ["outcome", "rule__kind", "workspace"]
    search_fields = ["key", "reason", "contact__name", "contact__email"]
    list_select_related = [
        "rule",
        "contact",
        "booking__booking_type",
        "booking__contact",
        "workspace",
    ]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]


@admin.register(Alert)
class AlertAdmin(admin.ModelAdmin):
    list_display = [
        "created_at",
        "message",
        "kind",
        "severity",
        "workspace",
        "is_open",
        "acknowledged_by",
        "resolved_at",
    ]
    list_filter = [OpenFilter, "kind", "severity", "workspace"]
    search_fields = ["message"]
    list_select_related = ["workspace", "acknowledged_by"]
    readonly_fields = [
        "workspace",
        "kind",
        "severity",
        "subject_type",
        "subject_id",
        "message",
        "url",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "emailed_at",
        "created_at",
        "updated_at",
    ]
    date_hierarchy = "created_at"
    ordering = ["-created_at", "-pk"]
    actions = ["acknowledge_selected"]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(boolean=True, description="Open")
    def is_open(self, alert: Alert) -> bool:
        return alert.is_open

    @admin.action(description="Acknowledge", permissions=["change"])
    def acknowledge_selected(self, request, queryset) -> None:
        acknowledged = 0
        for alert in queryset.filter(acknowledged_at__isnull=True):
            alert_acknowledge(alert=alert, actor=request.user)
            self.log_change(request, alert, "Acknowledged")
            acknowledged += 1
        self.message_user(request, f"{acknowledged} alert(s) acknowledged.", messages.SUCCESS)


# Outbound webhooks' back office lives with them.
from automation.webhooks import admin as _webhooks_admin  # noqa: E402, F401

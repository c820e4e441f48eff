"""What the whole support back office shares: the CSV export action on every list, the audit
trail (Django's LogEntry, read-only), the superuser-only rule for accounts, groups and
integrations, and the worker heartbeats.

Who may do what is the Support group's table (careops.support); actions log what they did to
each row (`log_change`), as the admin's own forms do.
"""

from __future__ import annotations

from collections.abc import Iterator

import structlog
from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.admin.utils import label_for_field, lookup_field
from django.contrib.auth.models import Group
from django.http import StreamingHttpResponse
from django.utils import timezone

from careops.models import WorkerHeartbeat
from contacts.csv_export import csv_cell, csv_lines

log = structlog.get_logger(__name__)

EXPORT_CHUNK = 1_000


def _export_rows(modeladmin: admin.ModelAdmin, request, queryset) -> Iterator[list[str]]:
    columns = [name for name in modeladmin.get_list_display(request) if name != "action_checkbox"]
    if "pk" not in columns and "id" not in columns:
        columns.insert(0, "pk")
    # Headers are the names (stable for scripts); a computed column gets its label.
    yield [
        name
        if hasattr(modeladmin.model, name) or name == "pk"
        else str(label_for_field(name, modeladmin.model, modeladmin))
        for name in columns
    ]
    rows = 0
    for obj in queryset.iterator(chunk_size=EXPORT_CHUNK):
        row = []
        for name in columns:
            _, _, value = lookup_field(name, obj, modeladmin)
            row.append(csv_cell(value))
        yield row
        rows += 1
    # Counted as they went out (no COUNT query first), logged once the download is complete.
    log.info(
        "admin_export_csv",
        model=modeladmin.model._meta.label,
        rows=rows,
        user_id=request.user.pk,
    )


@admin.action(description="Export selected rows as CSV", permissions=["view"])
def export_as_csv(modeladmin: admin.ModelAdmin, request, queryset) -> StreamingHttpResponse:
    """The list's own columns (which never show a secret), streamed, formula-safe."""
    meta = modeladmin.model._meta
    response = StreamingHttpResponse(
        csv_lines(_export_rows(modeladmin, request, queryset)),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    filename = f"{meta.app_label}-{meta.model_name}-{stamp}.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


admin.site.add_action(export_as_csv, "export_as_csv")


class ReadOnlyAdmin(admin.ModelAdmin):
    """History (the audit trail, status changes, the stock ledger, merges, runs): looked at,
    never added to, edited or deleted here."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class WorkspaceOwnedAdmin(admin.ModelAdmin):
    """Rows the product makes inside a workspace (the admin's forms do not choose one): support
    reads and corrects them, never adds them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class ActionsOnlyAdmin(admin.ModelAdmin):
    """Records (messages, events): no row is edited through a form, and the change permission
    is the right to use the list's actions (retry, dispatch again), which call the services.
    The change page is the read-only view page."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return obj is None and super().has_change_permission(request)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class SuperusersEditOnly:
    """Accounts, groups and integrations (which hold credentials): support may look, only a
    superuser changes them, whatever permissions a group was given. (Mixed in before the
    ModelAdmin, whose own refusals still stand.)"""

    def has_add_permission(self, request, *args) -> bool:
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return request.user.is_superuser and super().has_delete_permission(request, obj)


admin.site.unregister(Group)


@admin.register(Group)
class GroupAdmin(SuperusersEditOnly, admin.ModelAdmin):
    list_display = ["name"]
    search_fields = ["name"]
    filter_horizontal = ["permissions"]


@admin.register(LogEntry)
class LogEntryAdmin(ReadOnlyAdmin):
    """The audit trail of the admin: who changed what, when. Read-only for everyone."""

    list_display = ["action_time", "user", "content_type", "object_repr", "action_flag", "change"]
    list_filter = ["action_flag", "content_type", "action_time"]
    search_fields = ["object_repr", "object_id", "user__email", "change_message"]
    list_select_related = ["user", "content_type"]
    date_hierarchy = "action_time"
    ordering = ["-action_time", "-pk"]

    @admin.display(description="Change")
    def change(self, entry: LogEntry) -> str:
        return entry.get_change_message()


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "seen_at"]
    readonly_fields = ["hostname", "seen_at"]
    ordering = ["-seen_at"]

    def has_add_permission(self, request) -> bool:
        return False

from django.contrib import admin

from careops.models import WorkerHeartbeat


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "seen_at"]
    readonly_fields = ["hostname", "seen_at"]
    ordering = ["-seen_at"]

    def has_add_permission(self, request) -> bool:
        return False

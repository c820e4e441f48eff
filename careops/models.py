"""The base pieces every workspace-owned model stands on, and the worker heartbeat."""

from __future__ import annotations

from django.db import models
from django.utils import timezone


class WorkspaceQuerySet(models.QuerySet):
    def for_workspace(self, workspace) -> WorkspaceQuerySet:
        """The only way views and the API reach workspace-owned rows."""
        return self.filter(workspace=workspace)


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class WorkspaceOwnedModel(TimestampedModel):
    """A row that belongs to one workspace. Constraints and indexes start with `workspace`."""

    workspace = models.ForeignKey(
        "workspaces.Workspace", on_delete=models.CASCADE, related_name="+", editable=False
    )

    objects = WorkspaceQuerySet.as_manager()

    class Meta:
        abstract = True


class WorkerHeartbeat(models.Model):
    """The last time each Celery worker said it was alive (see careops.celery.HeartbeatStep)."""

    hostname = models.CharField(max_length=255, unique=True)
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.hostname} at {self.seen_at:%Y-%m-%d %H:%M:%S}"

    @classmethod
    def record(cls, hostname: str) -> None:
        cls.objects.update_or_create(hostname=hostname, defaults={"seen_at": timezone.now()})

    @classmethod
    def latest(cls) -> WorkerHeartbeat | None:
        return cls.objects.order_by("-seen_at").first()

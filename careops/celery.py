"""The Celery app: configured from Django settings (CELERY_*), tasks found in every app."""

from __future__ import annotations

import logging.config
import os

import structlog
from celery import Celery, bootsteps
from celery.signals import before_task_publish, setup_logging, task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careops.settings")

app = Celery("careops")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

log = structlog.get_logger(__name__)


@setup_logging.connect
def use_django_logging(**kwargs) -> None:
    """Let Django's LOGGING (structlog) format the worker's lines too."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)


@before_task_publish.connect
def carry_workspace_scope(headers=None, **kwargs) -> None:
    """A task runs in the row-level-security scope that published it (careops.rls)."""
    from careops import rls

    rls.task_headers(headers)


@task_prerun.connect
def enter_workspace_scope(task_id=None, task=None, **kwargs) -> None:
    from careops import rls

    rls.task_started(task_id, task.request)


@task_postrun.connect
def leave_workspace_scope(task_id=None, **kwargs) -> None:
    from careops import rls

    rls.task_ended(task_id)


class HeartbeatStep(bootsteps.StartStopStep):
    """Records in the database, every few seconds, that this worker is alive.

    /health/ready reads it. A database row needs no broadcast support from the broker (the
    filesystem transport has none) and proves that the worker reaches the database too.
    """

    requires = {"celery.worker.components:Timer"}

    def __init__(self, worker, **kwargs):
        super().__init__(worker, **kwargs)
        self.tref = None

    def start(self, worker):
        from django.conf import settings

        self.beat(worker)
        self.tref = worker.timer.call_repeatedly(
            settings.WORKER_HEARTBEAT_SECONDS, self.beat, (worker,), priority=10
        )

    def stop(self, worker):
        if self.tref is not None:
            self.tref.cancel()
            self.tref = None

    @staticmethod
    def beat(worker) -> None:
        from django.db import close_old_connections

        from careops.models import WorkerHeartbeat

        close_old_connections()
        try:
            WorkerHeartbeat.record(worker.hostname)
        except Exception:
            # A missed beat shows up as a stale heartbeat; it must not kill the worker.
            log.exception("worker_heartbeat_failed", hostname=worker.hostname)


app.steps["worker"].add(HeartbeatStep)

"""Handing work to Celery once the transaction that created it has committed."""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task
from django.db import transaction

log = structlog.get_logger(__name__)


def enqueue_on_commit(task: Task, *args: Any) -> None:
    """Queue `task(*args)` after commit; a broker outage is logged, not raised.

    Callers keep the work itself in the database (an unsent row, an undispatched event), and a
    periodic sweep queues whatever was not, so a broker outage delays work and never loses it.
    """

    def publish() -> None:
        try:
            task.delay(*args)
        except Exception as exc:
            log.warning("task_enqueue_failed", task=task.name, args=args, error=str(exc))

    transaction.on_commit(publish)

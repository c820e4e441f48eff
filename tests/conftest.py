"""Fixtures of the cross-cutting tests: a real Celery worker process on the test database."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from careops.celery import app as celery_app
from careops.models import WorkerHeartbeat
from tests.processes import BIN, env_with, start, stop, wait_for


@pytest.fixture
def worker(tmp_path):
    db = connection.settings_dict
    hostname = f"test-{uuid.uuid4().hex[:8]}@localhost"
    celery_app.control.purge()  # leftovers of earlier runs would only be noise
    process = start(
        [
            str(BIN / "celery"),
            "-A",
            "careops",
            "worker",
            "--pool=solo",
            "-n",
            hostname,
            "--loglevel=INFO",
        ],
        env_with(
            DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            WORKER_HEARTBEAT_SECONDS="1",
        ),
        tmp_path / "worker.log",
    )
    try:
        wait_for(
            lambda: WorkerHeartbeat.objects.filter(hostname=hostname).exists(),
            timeout=60,
            what=f"the worker's heartbeat (log: {tmp_path / 'worker.log'})",
        )
        yield hostname
    finally:
        stop(process)

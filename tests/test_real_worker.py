"""The real wiring: tasks go through Redis to a Celery worker that uses the test database."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from careops.celery import app as celery_app
from careops.models import WorkerHeartbeat
from tests.processes import BIN, env_with, start, stop, wait_for
from workspaces.models import Invitation

pytestmark = [pytest.mark.slow, pytest.mark.real_worker, pytest.mark.django_db(transaction=True)]


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


def test_a_running_worker_makes_readiness_report_it_alive(worker, client):
    response = client.get("/health/ready")

    assert response.json()["checks"]["worker"]["ok"] is True


def test_an_invitation_email_is_sent_by_the_worker_after_commit(worker, owner_api, workspace_a):
    response = owner_api.post(
        f"/api/v1/workspaces/{workspace_a.pk}/invitations",
        {"email": "via.worker@example.com"},
        format="json",
    )
    assert response.status_code == 201

    invitation = Invitation.objects.get(pk=response.json()["id"])
    wait_for(
        lambda: Invitation.objects.filter(pk=invitation.pk, sent_at__isnull=False).exists(),
        timeout=30,
        what="the worker to send the invitation",
    )

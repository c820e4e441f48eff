"""The real wiring: tasks go through Redis to a Celery worker that uses the test database."""

from __future__ import annotations

import pytest

from tests.processes import wait_for
from workspaces.models import Invitation

pytestmark = [pytest.mark.slow, pytest.mark.real_worker, pytest.mark.django_db(transaction=True)]


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

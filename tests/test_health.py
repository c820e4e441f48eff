from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from careops.models import WorkerHeartbeat

pytestmark = pytest.mark.django_db

DEAD_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1


def test_liveness_answers_without_touching_anything(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readiness_reports_database_broker_and_worker(client):
    WorkerHeartbeat.record("celery@test")

    response = client.get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert {name: check["ok"] for name, check in body["checks"].items()} == {
        "database": True,
        "broker": True,
        "worker": True,
    }


def test_readiness_is_503_naming_the_broker_when_it_is_down(client, settings):
    settings.CELERY_BROKER_URL = DEAD_BROKER

    response = client.get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["broker"]
    assert body["checks"]["broker"]["ok"] is False
    assert body["checks"]["broker"]["error"]
    assert body["checks"]["database"]["ok"] is True


def test_a_stale_worker_is_reported_but_not_required_by_default(client):
    WorkerHeartbeat.objects.create(
        hostname="celery@gone", seen_at=timezone.now() - timedelta(minutes=10)
    )

    response = client.get("/health/ready")

    assert response.status_code == 200
    assert response.json()["checks"]["worker"]["ok"] is False
    assert "celery@gone" in response.json()["checks"]["worker"]["error"]


def test_a_required_worker_without_heartbeat_makes_readiness_fail(client, settings):
    settings.HEALTH_REQUIRED_CHECKS = ["database", "broker", "worker"]

    response = client.get("/health/ready")

    assert response.status_code == 503
    assert response.json()["failing"] == ["worker"]

"""The quickstart's embedded settings (SQLite, filesystem broker) migrate and serve pages."""

from __future__ import annotations

import secrets
import subprocess
import urllib.request

import pytest

from tests.processes import BIN, ROOT, env_with, free_port, start, stop, wait_for

pytestmark = pytest.mark.slow


def quickstart_env(tmp_path) -> dict[str, str]:
    return env_with(
        DEBUG="true",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        REDIS_URL=None,
        CELERY_BROKER_URL=None,
        CELERY_BROKER_DIR=str(tmp_path / "broker"),
        SECRET_KEY=None,
        STATIC_MANIFEST=None,
    )


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback only
            return response.status, response.read().decode()
    except OSError:
        return 0, ""


def test_embedded_settings_migrate_seed_and_serve_the_login_page(tmp_path):
    env = quickstart_env(tmp_path)
    manage = [str(BIN / "python"), str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "--no-input"], env=env, check=True, capture_output=True)
    seeded = subprocess.run([*manage, "seed_demo"], env=env, check=True, capture_output=True)
    assert b"owner@demo.careops.test" in seeded.stdout

    port = free_port()
    server = start(
        [*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], env, tmp_path / "web.log"
    )
    try:
        status, page = wait_for(
            lambda: (r := fetch(f"http://127.0.0.1:{port}/accounts/login/"))[0] and r,
            timeout=30,
            what="runserver to answer",
        )
        assert status == 200
        assert "Sign in to CareOps" in page
        ready_status, ready = fetch(f"http://127.0.0.1:{port}/health/ready")
        assert ready_status == 200, ready
    finally:
        stop(server)


def test_production_settings_pass_the_deploy_checks(tmp_path):
    env = env_with(
        DEBUG="false",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="app.careops.example",
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        SECURE_SSL_REDIRECT=None,
        STATIC_MANIFEST=None,
    )
    result = subprocess.run(
        [
            str(BIN / "python"),
            str(ROOT / "manage.py"),
            "check",
            "--deploy",
            "--fail-level",
            "WARNING",
        ],
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_with_a_weak_secret_key(tmp_path):
    env = env_with(DEBUG="false", SECRET_KEY="short", DATABASE_URL=f"sqlite:///{tmp_path / 'x.db'}")
    result = subprocess.run(
        [str(BIN / "python"), str(ROOT / "manage.py"), "check"],
        env=env,
        capture_output=True,
        text=True,
    )

    assert result.returncode != 0
    assert "SECRET_KEY" in result.stderr

"""The PostgreSQL connection careops.settings makes: no JIT compilation, sent with a direct
connection and left to the app role behind a transaction pooler (which may refuse it)."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.db import connection

from tests.processes import BIN, ROOT, env_with

pytestmark = pytest.mark.django_db


def test_the_apps_connection_runs_without_jit():
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone()[0] == "off"


def _options(**env: str | None) -> dict:
    """careops.settings' database OPTIONS under that environment, read in a fresh process."""
    done = subprocess.run(
        [
            str(BIN / "python"),
            "-c",
            "import json; from careops import settings; "
            "print(json.dumps(settings.DATABASES['default']['OPTIONS'], default=str))",
        ],
        cwd=ROOT,
        env=env_with(DATABASE_URL="postgres://postgres@127.0.0.1:5432/careops", **env),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("env", "sent"),
    [
        ({}, "-c jit=off"),
        ({"DATABASE_JIT": "true"}, None),
        ({"DATABASE_POOLED": "true"}, None),
    ],
)
def test_jit_is_turned_off_with_the_connection_unless_asked_or_pooled(env, sent):
    assert _options(**{"DATABASE_JIT": None, "DATABASE_POOLED": None, **env}).get("options") == sent

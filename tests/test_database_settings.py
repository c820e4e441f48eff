"""The PostgreSQL connection careops.settings makes: no JIT compilation, sent with a direct
connection and left to the app role behind a transaction pooler (which may refuse it); and on a
direct connection, parameters bound by the server and repeated statements prepared."""

from __future__ import annotations

import json
import subprocess

import pytest
from django.db import connection

from tests.processes import BIN, ROOT, env_with
from workspaces.models import Workspace

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


@pytest.mark.parametrize(
    ("env", "binding", "threshold"),
    [
        ({}, True, 5),
        ({"DATABASE_PREPARE_THRESHOLD": "2"}, True, 2),
        ({"DATABASE_PREPARED": "false"}, None, None),
        # A transaction pooler may hand each statement to another server connection, which
        # would not hold what this one prepared.
        ({"DATABASE_POOLED": "true"}, None, None),
    ],
)
def test_statements_are_prepared_on_a_direct_connection_only(env, binding, threshold):
    options = _options(
        **{"DATABASE_PREPARED": None, "DATABASE_POOLED": None, "DATABASE_PREPARE_THRESHOLD": None}
        | env
    )
    assert options.get("server_side_binding") == binding
    assert options.get("prepare_threshold") == threshold


def test_a_statement_run_again_is_prepared_on_its_connection(workspace_a):
    found = [list(Workspace.objects.filter(pk=workspace_a.pk)) for _ in range(6)]
    assert found == [[workspace_a]] * 6
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['SELECT "workspaces_workspace"."id"%'],
        )
        assert cursor.fetchone()[0] == 1

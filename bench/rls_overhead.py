"""What row-level security costs a request: the same API reads as the tables' owner (no policy
applies, DATABASE_RLS off) and as the application's role (policies on, each transaction given
the request's workspace; careops.rls).

    make bench            (PostgreSQL database careops_bench, created if missing)

In-process (Django's test client, no HTTP server), one request at a time, so the difference is
the database's: the set_config per transaction, the transaction a lone statement gets, and the
policy's filter. Prints ms per request for each endpoint and role, and the ratio.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import benchenv  # noqa: F401
from django.conf import settings
from django.core import signals
from django.db import close_old_connections, connection
from psycopg import sql
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from careops import rls
from contacts.models import Contact
from tests.app_role import app_role_name
from workspaces.models import User
from workspaces.services import workspace_create

CONTACTS = int(os.environ.get("BENCH_RLS_CONTACTS", "2000"))
REQUESTS = int(os.environ.get("BENCH_RLS_REQUESTS", "300"))
PATHS = ("/api/v1/contacts", "/api/v1/contacts?search=client1", "/api/v1/auth/me")


def setup() -> tuple[APIClient, int]:
    tag = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"rls-{tag}@bench.example", password=None)
    workspace = workspace_create(owner=owner, name=f"RLS bench {tag}")
    Contact.objects.bulk_create(
        Contact(workspace=workspace, name=f"Client {n}", email=f"client{n}@{tag}.example")
        for n in range(CONTACTS)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE contacts_contact")  # the planner sees the rows just added
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(owner).access_token}",
        HTTP_X_WORKSPACE_ID=str(workspace.pk),
    )
    return client, workspace.pk


def measure(client: APIClient, path: str) -> float:
    for _ in range(20):  # warm up
        assert client.get(path).status_code == 200
    times = []
    for _ in range(REQUESTS):
        started = time.perf_counter()
        response = client.get(path)
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content[:200]
    return statistics.median(times) * 1000


def as_app_role() -> None:
    from django.core.management import call_command

    call_command("db_app_role", app_role_name(), stdout=open(os.devnull, "w"))  # noqa: SIM115
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(app_role_name())))
        cursor.execute("SELECT set_config(%s, %s, false)", [rls.SETTING, rls.ALL])
    settings.DATABASE_RLS = True


def main() -> None:
    # One connection for the whole run: the role set on it must stay.
    signals.request_finished.disconnect(close_old_connections)
    client, _workspace_id = setup()
    owner = {path: measure(client, path) for path in PATHS}
    as_app_role()
    bound = {path: measure(client, path) for path in PATHS}
    print(f"{'endpoint (median of ' + str(REQUESTS) + ')':<40} {'owner':>9} {'app role':>9} ratio")
    for path in PATHS:
        ratio = bound[path] / owner[path]
        print(f"{path:<40} {owner[path]:7.2f}ms {bound[path]:7.2f}ms {ratio:5.2f}")


if __name__ == "__main__":
    main()

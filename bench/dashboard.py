"""The dashboard at a realistic size: a busy workspace's home page and figures.

    make bench            (PostgreSQL database careops_bench)

A workspace with BENCH_BOOKINGS bookings (default 100,000) over the last two years and the
coming month, written by careops.demo_bulk (what `seed_demo --bookings` writes: about one
contact per seven bookings, their conversations, the intake forms, stock usage and restocks,
practitioners' calendars); then, timed and counted: the key figures for 30 and 90 days, the
panels, and the owner's and a staff member's whole page through Django's test client.
Rows are bulk-inserted (no signals, no automation): this measures reads.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careops.settings")

import django

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402

from bookings.models import Booking  # noqa: E402
from careops.dashboard.panels import panels_for  # noqa: E402
from careops.dashboard.stats import dashboard_stats, period_parse  # noqa: E402
from careops.demo_bulk import workspace_fill  # noqa: E402
from contacts.models import Contact  # noqa: E402
from forms.models import FormSubmission  # noqa: E402
from messaging.models import Message  # noqa: E402
from workspaces.models import Membership, User, Workspace  # noqa: E402
from workspaces.services import workspace_create  # noqa: E402

BOOKINGS = int(os.environ.get("BENCH_BOOKINGS", "100000"))


def seed() -> tuple[Workspace, User, User]:
    run = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"dash-{run}@example.com", password=None)
    staff = User.objects.create_user(email=f"dash-{run}-staff@example.com", password=None)
    workspace = workspace_create(owner=owner, name=f"Dashboard {run}", timezone="Europe/London")
    Workspace.objects.filter(pk=workspace.pk).update(
        status="active", activated_at=datetime.now(UTC)
    )
    workspace.refresh_from_db()
    Membership.objects.create(workspace=workspace, user=staff, role="staff")
    started = time.perf_counter()
    with transaction.atomic():  # one commit: the deferred foreign keys are checked once
        added = workspace_fill(
            workspace=workspace, owner=owner, staff=[staff], bookings=BOOKINGS, seed=7
        )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"workspace {workspace.slug}: {added.get(Booking, 0):,} bookings, "
        f"{added.get(Contact, 0):,} contacts, {added.get(Message, 0):,} messages, "
        f"{added.get(FormSubmission, 0):,} forms; generated in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return workspace, owner, staff


def measure(label: str, work, repeat: int = 5) -> None:
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    work()  # warm
    timings = []
    for _ in range(repeat):
        queries = 0
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            work()
            timings.append(time.perf_counter() - started)
    timings.sort()
    print(
        f"{label:<40} {timings[0] * 1000:8.1f} ms best {timings[len(timings) // 2] * 1000:8.1f} "
        f"ms median of {repeat}, {queries} queries"
    )


def main() -> None:
    workspace, owner, staff = seed()
    owner_membership = Membership.objects.select_related("workspace").get(
        workspace=workspace, user=owner
    )
    for period in ("30d", "90d"):
        chosen = period_parse(workspace=workspace, params={"period": period})
        measure(
            f"figures, {period}",
            lambda chosen=chosen: dashboard_stats(workspace=workspace, period=chosen),
        )
    measure("owner's panels", lambda: panels_for(owner_membership))
    for who, user in (("owner", owner), ("staff", staff)):
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)

        def page(client=client):
            response = client.get("/")
            assert response.status_code == 200, response.status_code

        measure(f"the {who}'s whole page (GET /)", page)


if __name__ == "__main__":
    main()

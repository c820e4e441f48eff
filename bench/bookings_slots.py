"""Booking slots at a realistic size: a month of free times for a busy service.

    make bench            (PostgreSQL database careops_bench)

A workspace with BENCH_STAFF staff calendars open Monday to Friday 08:00-18:00, a 30-minute
service with a 10-minute buffer, and every calendar about half booked for the coming month;
then the public page's question, "which times are free this month", timed and counted.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from datetime import time as wall
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careops.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from bookings.availability import available_slots  # noqa: E402
from bookings.services import booking_create  # noqa: E402
from bookings.setup_services import booking_type_save, working_hours_save  # noqa: E402
from contacts.services import contact_upsert  # noqa: E402
from workspaces.models import Membership, User  # noqa: E402
from workspaces.services import workspace_create  # noqa: E402

STAFF = int(os.environ.get("BENCH_STAFF", "3"))
DAYS = 31


def main() -> None:
    run = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"slots-{run}@example.com", password=None)
    workspace = workspace_create(owner=owner, name=f"Slots {run}", timezone="Europe/London")
    staff = [owner]
    for n in range(STAFF - 1):
        user = User.objects.create_user(email=f"slots-{run}-{n}@example.com", password=None)
        Membership.objects.create(workspace=workspace, user=user, role="staff")
        staff.append(user)
    service = booking_type_save(
        workspace=workspace,
        name="Consultation",
        duration_minutes=30,
        buffer_after_minutes=10,
        min_notice_minutes=0,
        horizon_days=90,
        staff_ids=[user.pk for user in staff],
    )
    for user in staff:
        for weekday in range(5):
            working_hours_save(
                workspace=workspace,
                staff_id=user.pk,
                weekday=weekday,
                start_time=wall(8),
                end_time=wall(18),
            )
    contact, _ = contact_upsert(workspace=workspace, email=f"client-{run}@example.org")
    zone = ZoneInfo(workspace.timezone)
    today = datetime.now(UTC).astimezone(zone).date() + timedelta(days=1)
    booked = 0
    for day in range(DAYS):
        date = today + timedelta(days=day)
        if date.weekday() >= 5:
            continue
        for user in staff:
            for hour in range(8, 18, 2):  # every other hour: about half the day taken
                start = datetime.combine(date, wall(hour), tzinfo=zone)
                booking_create(
                    workspace=workspace,
                    booking_type=service,
                    contact=contact,
                    start=start,
                    staff=user,
                    enforce_rules=False,
                )
                booked += 1
    print(f"workspace {workspace.slug}: {STAFF} calendars, {booked:,} bookings over {DAYS} days")

    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    timings = []
    for _ in range(5):
        queries = 0
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            slots = available_slots(
                booking_type=service,
                start_date=today,
                end_date=today + timedelta(days=DAYS - 1),
                tz="America/New_York",
            )
            timings.append(time.perf_counter() - started)
    best, worst = min(timings) * 1000, max(timings) * 1000
    print(
        f"{'a month of slots (visitor in New York)':<44} {best:9.1f} ms best, "
        f"{worst:.1f} ms worst of 5, {queries} queries, {len(slots):,} slots"
    )


if __name__ == "__main__":
    main()

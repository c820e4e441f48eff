"""The dashboard at a realistic size: a busy workspace's home page and figures.

    make bench            (PostgreSQL database careops_bench)

A workspace with BENCH_BOOKINGS bookings (default 100,000) over the last two years and the
coming month, one contact per ten bookings, five messages per contact in conversations, a form
per four bookings and some low stock; then, timed and counted: the key figures for 30 and 90
days, the panels, and the owner's and a staff member's whole page through Django's test client.
Rows are bulk-inserted (no signals, no automation): this measures reads.
"""

from __future__ import annotations

import os
import random
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careops.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bookings.models import Booking, BookingType  # noqa: E402
from careops.dashboard.panels import panels_for  # noqa: E402
from careops.dashboard.stats import dashboard_stats, period_parse  # noqa: E402
from contacts.models import Contact  # noqa: E402
from forms.models import FormSubmission, FormTemplate  # noqa: E402
from inventory.models import InventoryItem  # noqa: E402
from messaging.models import Conversation, Message  # noqa: E402
from workspaces.models import Membership, User, Workspace  # noqa: E402
from workspaces.services import workspace_create  # noqa: E402

BOOKINGS = int(os.environ.get("BENCH_BOOKINGS", "100000"))
BATCH = 5000


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
    service = BookingType.objects.create(
        workspace=workspace, name="Consultation", slug="consultation", duration_minutes=30
    )
    rng = random.Random(7)
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)

    contacts = Contact.objects.bulk_create(
        (
            Contact(
                workspace=workspace,
                name=f"Client {n}",
                email=f"client{n}-{run}@example.org",
                created_at=now - timedelta(minutes=rng.randrange(0, 2 * 365 * 24 * 60)),
            )
            for n in range(max(BOOKINGS // 10, 1))
        ),
        batch_size=BATCH,
    )
    # Past bookings are done with (completed, no-show or cancelled: outside the overlap
    # constraint); the coming month's are confirmed, each at its own half hour.
    past_statuses = ["completed"] * 8 + ["no_show", "cancelled"]
    future = min(BOOKINGS // 20, 30 * 24 * 2)
    rows = []
    for n in range(BOOKINGS):
        if n < future:
            start, status = now + timedelta(minutes=30 * (n + 1)), "confirmed"
        else:
            start = now - timedelta(minutes=rng.randrange(30, 2 * 365 * 24 * 60))
            status = rng.choice(past_statuses)
        end = start + timedelta(minutes=30)
        rows.append(
            Booking(
                workspace=workspace,
                booking_type=service,
                contact=contacts[n % len(contacts)],
                staff=staff if n % 2 else None,
                start=start,
                end=end,
                blocked_start=start,
                blocked_end=end,
                status=status,
            )
        )
    bookings = Booking.objects.bulk_create(rows, batch_size=BATCH)

    conversations = Conversation.objects.bulk_create(
        (
            Conversation(
                workspace=workspace,
                contact=contact,
                unread_count=1 if n % 7 == 0 else 0,
                assigned_to=staff if n % 3 == 0 else None,
                last_message_at=now - timedelta(hours=n % 5000),
            )
            for n, contact in enumerate(contacts)
        ),
        batch_size=BATCH,
    )
    messages = []
    for n, conversation in enumerate(conversations):
        asked = now - timedelta(minutes=rng.randrange(60, 365 * 24 * 60))
        for k in range(5):
            inbound = k % 2 == 0
            messages.append(
                Message(
                    workspace=workspace,
                    conversation=conversation,
                    direction="inbound" if inbound else "outbound",
                    status="received" if inbound else "sent",
                    sender_kind="contact" if inbound else "staff",
                    channel="email",
                    body="Hello",
                    created_at=asked + timedelta(minutes=37 * k + n % 30),
                )
            )
    Message.objects.bulk_create(messages, batch_size=BATCH)

    template = FormTemplate.objects.create(workspace=workspace, name="Intake", fields=[])
    statuses = ["completed", "completed", "pending", "overdue"]
    FormSubmission.objects.bulk_create(
        (
            FormSubmission(
                workspace=workspace,
                template=template,
                template_name="Intake",
                template_version=1,
                contact_id=booking.contact_id,
                booking=booking,
                status=statuses[n % 4],
                sent_at=booking.start - timedelta(days=2),
                due_at=booking.start,
                completed_at=booking.start - timedelta(days=1) if n % 4 < 2 else None,
                overdue_at=booking.start if n % 4 == 3 else None,
            )
            for n, booking in enumerate(bookings[::4])
        ),
        batch_size=BATCH,
    )
    InventoryItem.objects.bulk_create(
        InventoryItem(
            workspace=workspace,
            name=f"Item {n}",
            sku=f"SKU-{run}-{n}",
            quantity_on_hand=n % 5,
            low_stock_threshold=3,
            low_since=now if n % 5 <= 3 else None,
        )
        for n in range(50)
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    print(
        f"workspace {workspace.slug}: {len(bookings):,} bookings, {len(contacts):,} contacts, "
        f"{len(messages):,} messages, {len(bookings[::4]):,} forms"
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

"""Stock moves under contention, and the automation outbox at a realistic size.

    make bench            (PostgreSQL database careops_bench)

1. BENCH_STOCK_THREADS threads each record BENCH_STOCK_USAGES usages of one item at once (the
   worst case: every UPDATE waits on the same row): usages per second, and the proof that the
   quantity on hand is exactly the initial quantity minus every usage.
2. BENCH_EVENTS contacts are created through the service, each writing its contact.created
   event in the same transaction (published to an in-memory broker nobody reads, as if Redis
   were down); then the sweep dispatches them all: events per second, and the proof that every
   contact got exactly one welcome run and one queued message.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careops.settings")

import django

django.setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from automation.engine import events_dispatch_pending  # noqa: E402
from automation.models import AutomationRun, Event, Rule  # noqa: E402
from careops.celery import app as celery_app  # noqa: E402
from contacts.services import contact_create  # noqa: E402
from inventory.models import InventoryItem, InventoryUsage  # noqa: E402
from inventory.services import item_create, stock_move  # noqa: E402
from messaging.models import Message  # noqa: E402
from workspaces.models import User  # noqa: E402
from workspaces.services import workspace_create  # noqa: E402

THREADS = int(os.environ.get("BENCH_STOCK_THREADS", "8"))
USAGES = int(os.environ.get("BENCH_STOCK_USAGES", "250"))
EVENTS = int(os.environ.get("BENCH_EVENTS", "2000"))


def stock(workspace, owner) -> None:
    total = THREADS * USAGES
    item = item_create(
        workspace=workspace, actor=owner, name="Gloves", sku="GLV", quantity_on_hand=total + 10
    )

    def worker() -> None:
        try:
            for _ in range(USAGES):
                stock_move(item=item, kind=InventoryUsage.Kind.USAGE, quantity=1, actor=owner)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    item.refresh_from_db()
    ledger = InventoryUsage.objects.filter(item=item, kind=InventoryUsage.Kind.USAGE).count()
    print(
        f"stock: {total} usages from {THREADS} threads on one item in {elapsed:.2f} s "
        f"({total / elapsed:.0f}/s); on hand {item.quantity_on_hand} "
        f"(expected 10), ledger rows {ledger} (expected {total})"
    )
    assert item.quantity_on_hand == 10 and ledger == total
    InventoryItem.objects.filter(pk=item.pk).delete()


def outbox(workspace, owner) -> None:
    # Published into memory: no worker takes them, as if the broker had never answered.
    celery_app.conf.broker_url = "memory://"
    celery_app.conf.task_always_eager = False
    started = time.perf_counter()
    for n in range(EVENTS):
        contact_create(
            workspace=workspace, actor=owner, name=f"Client {n}", email=f"c{n}@example.org"
        )
    created = time.perf_counter() - started
    pending = Event.objects.filter(workspace=workspace, dispatched_at__isnull=True).count()
    later = timezone.now() + timedelta(minutes=5)  # past the sweep's grace period
    started = time.perf_counter()
    dispatched = 0
    while True:
        batch = events_dispatch_pending(now=later)
        if not batch:
            break
        dispatched += batch
    swept = time.perf_counter() - started
    runs = AutomationRun.objects.filter(workspace=workspace, rule__kind=Rule.Kind.WELCOME)
    sent = runs.filter(outcome=AutomationRun.Outcome.SENT).count()
    messages = Message.objects.filter(workspace=workspace, sender_kind="automation").count()
    print(
        f"outbox: {EVENTS} contacts with their events written in {created:.2f} s "
        f"({EVENTS / created:.0f}/s); {pending} undispatched; the sweep dispatched "
        f"{dispatched} in {swept:.2f} s ({dispatched / swept:.0f}/s); welcome runs sent "
        f"{sent}, messages queued {messages} (each expected {EVENTS})"
    )
    assert dispatched == EVENTS and sent == EVENTS and messages == EVENTS


def main() -> None:
    run = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"auto-{run}@example.com", password=None)
    workspace = workspace_create(owner=owner, name=f"Automation {run}", timezone="Europe/London")
    stock(workspace, owner)
    outbox(workspace, owner)


if __name__ == "__main__":
    main()

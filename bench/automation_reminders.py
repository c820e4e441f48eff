"""Reminders at scale: BENCH_REMINDERS bookings (default 100,000), each with a reminder due now,
sent by real Celery workers to a local HTTP stand-in of the email provider.

    make bench-http        (run by bench/http/run.py; alone: python bench/automation_reminders.py)

A workspace of its own (one contact per booking, so a recipient seen twice is a reminder sent
twice), its bookings on 50 practitioners' calendars from two hours ahead, and a planned reminder
per booking due a minute ago, all written in bulk (careops.demo_bulk.insert_rows). Its email
integration is Resend, pointed at a stand-in in this process that counts what arrives.

Then one `celery -A careops worker --concurrency 2` (the Procfile's) consumes the default queue
and a `bench-sweep` queue; this script keeps one sweep task (automation_send_due_reminders, what
beat runs every 5 minutes) waiting there whenever none is, so sweeps run back to back instead
of every 5 minutes, and the sends each sweep queues (messages_deliver, 50 messages a task) run
beside them. Timed until every reminder of the workspace is dealt with and every message is
sent; then the check: each booking has exactly one sent run and one message, and the provider
got each recipient once.

Prints one line `BENCH_JSON {...}` for bench/http/run.py. REDIS_URL (default db 9) is flushed
first: stale tasks of an earlier run must not count. Due reminders of the demo workspaces, if
any, are swept too (a sweep takes every workspace's); the check looks at this workspace only.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import benchenv
import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from automation.models import AutomationRun, Reminder, Rule
from automation.reminders import SEND_BATCH
from automation.rules import rules_for
from automation.tasks import automation_send_due_reminders
from bookings import setup_services
from bookings.models import Booking
from careops.demo_bulk import insert_rows
from careops.demo_bulk.rows import REMINDER_FIELDS
from contacts.models import Contact
from messaging.delivery import DELIVERY_BATCH
from messaging.models import Integration, Message
from workspaces.models import Membership, User, Workspace
from workspaces.services import workspace_create

COUNT = int(os.environ.get("BENCH_REMINDERS", "100000"))
CALENDARS = 50
CHUNK = 10_000
TIMEOUT = float(os.environ.get("BENCH_REMINDERS_TIMEOUT", "1800"))
SWEEP_QUEUE = "bench-sweep"
SWEEP_LIMIT = 500  # reminders_send_due's default: what one sweep task takes


class Provider:
    """Resend's email endpoint, as fast as it can be: counts each recipient, answers 200."""

    def __init__(self) -> None:
        self.recipients: dict[str, int] = {}
        self.lock = threading.Lock()
        provider = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: without TCP_NODELAY a client reusing
            # its connection (delivery keeps one per batch) waits ~40 ms per request for the
            # delayed ACK, which a real provider's server does not make it do.
            disable_nagle_algorithm = True

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                to = json.loads(body or b"{}").get("to") or ["?"]
                with provider.lock:
                    for address in to:
                        provider.recipients[address] = provider.recipients.get(address, 0) + 1
                    n = sum(provider.recipients.values())
                payload = json.dumps({"id": f"bench-{n}"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args):  # quiet
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"


def seed(provider: Provider) -> Workspace:
    run = uuid.uuid4().hex[:8]
    now = timezone.now()
    owner = User.objects.create_user(email=f"reminders-{run}@example.com", password=None)
    workspace = workspace_create(owner=owner, name=f"Reminders {run}", timezone="Europe/London")
    Workspace.objects.filter(pk=workspace.pk).update(status="active", activated_at=now)
    workspace.refresh_from_db()
    staff = [
        User.objects.create_user(email=f"reminders-{run}-{n}@example.com", password=None)
        for n in range(CALENDARS)
    ]
    Membership.objects.bulk_create(
        [Membership(workspace=workspace, user=user, role="staff") for user in staff]
    )
    booking_type = setup_services.booking_type_save(
        workspace=workspace, name="Check-up", duration_minutes=30
    )
    rule = rules_for(workspace)[Rule.Kind.BOOKING_REMINDER]
    # No quiet hours: every reminder is due now, whatever the time of the run.
    Rule.objects.filter(pk=rule.pk).update(is_enabled=True, quiet_start=None, quiet_end=None)
    rule.refresh_from_db()
    Integration.objects.create(
        workspace=workspace,
        channel="email",
        provider="resend",
        priority=1,
        from_address="hello@reminders.example",
        credentials={"api_key": "re_bench_key_1234", "api_url": provider.url + "/"},
    )
    first = (now + timedelta(hours=2)).replace(minute=0, second=0, microsecond=0)
    due = now - timedelta(minutes=1)
    started = time.perf_counter()
    with transaction.atomic():
        for offset in range(0, COUNT, CHUNK):
            ns = range(offset, min(offset + CHUNK, COUNT))
            contact_ids = insert_rows(
                Contact,
                ["workspace_id", "name", "email", "source", "created_at", "updated_at"],
                [
                    (
                        workspace.pk,
                        f"Client {n}",
                        f"client-{n}@reminders.example",
                        "manual",
                        now,
                        now,
                    )
                    for n in ns
                ],
            )
            bookings = []
            for n, contact_id in zip(ns, contact_ids, strict=True):
                start = first + timedelta(minutes=30 * (n // CALENDARS))
                end = start + timedelta(minutes=30)
                bookings.append(
                    (
                        workspace.pk,
                        booking_type.pk,
                        contact_id,
                        staff[n % CALENDARS].pk,
                        start,
                        end,
                        start,
                        end,
                        "confirmed",
                        "staff",
                        now,
                        now,
                    )
                )
            booking_ids = insert_rows(
                Booking,
                [
                    "workspace_id",
                    "booking_type_id",
                    "contact_id",
                    "staff_id",
                    "start",
                    "end",
                    "blocked_start",
                    "blocked_end",
                    "status",
                    "source",
                    "created_at",
                    "updated_at",
                ],
                bookings,
            )
            insert_rows(
                Reminder,
                REMINDER_FIELDS,
                [
                    (workspace.pk, pk, rule.offset_minutes, row[4], due, now, now)
                    for pk, row in zip(booking_ids, bookings, strict=True)
                ],
            )
    with connection.cursor() as cursor:
        for table in ("contacts_contact", "bookings_booking", "automation_reminder"):
            cursor.execute(f"ANALYZE {table}")
    print(
        f"workspace {workspace.slug}: {COUNT:,} bookings with a reminder due, written in "
        f"{time.perf_counter() - started:.1f} s"
    )
    return workspace


def worker(log: Path) -> subprocess.Popen:
    command = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "careops",
        "worker",
        "--concurrency",
        "2",
        "-Q",
        f"celery,{SWEEP_QUEUE}",
        "--loglevel",
        "INFO",
        "-n",
        f"bench-{uuid.uuid4().hex[:6]}@%h",
        "--without-gossip",
        "--without-mingle",
    ]
    process = subprocess.Popen(  # our own command line
        command,
        cwd=benchenv.ROOT,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        # INFO, production's default level: it also says when the worker is ready.
        env={**os.environ, "LOG_LEVEL": "INFO"},
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the Celery worker exited at start; see {log}")
        if b" ready." in log.read_bytes():
            return process
        time.sleep(0.3)
    process.terminate()
    sys.exit(f"the Celery worker was not ready within 60 s; see {log}")


def main() -> None:
    argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()  # nothing to choose (BENCH_REMINDERS...), but --help must not start a run
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.flushdb()  # stale tasks of an earlier run (bench/http's bookings) must not count
    # An earlier run's leftovers (one stopped halfway) point at a provider long gone: the
    # sweep would spend this run's time on them.
    stale = Reminder.objects.filter(
        workspace__name__startswith="Reminders ", status=Reminder.Status.PLANNED
    ).update(status=Reminder.Status.CANCELLED, reason="An earlier benchmark run.")
    if stale:
        print(f"cancelled {stale:,} planned reminders of earlier runs")
    provider = Provider()
    workspace = seed(provider)
    ours = Reminder.objects.filter(workspace=workspace)
    outbound = Message.objects.filter(workspace=workspace, direction="outbound")
    log = Path(f"/tmp/careops-bench-reminders-{workspace.slug}.log")  # noqa: S108
    process = worker(log)
    notes: list[str] = []
    started = time.perf_counter()
    sweep_seconds = None
    sweeps, shown = 0, 0.0
    try:
        while True:
            elapsed = time.perf_counter() - started
            planned = ours.filter(status=Reminder.Status.PLANNED).count()
            if planned and broker.llen(SWEEP_QUEUE) == 0:
                automation_send_due_reminders.apply_async(queue=SWEEP_QUEUE)
                sweeps += 1
            if not planned and sweep_seconds is None:
                sweep_seconds = elapsed
            pending = outbound.filter(status=Message.Status.QUEUED).count()
            if sweep_seconds is not None and not pending:
                break
            if elapsed > TIMEOUT:
                notes.append(f"stopped after {TIMEOUT:.0f} s: {planned:,} reminders planned")
                break
            if elapsed - shown >= 30:
                shown = elapsed
                sent = outbound.filter(status=Message.Status.SENT).count()
                print(f"  {elapsed:6.0f} s: {planned:,} still planned, {sent:,} sent")
            time.sleep(0.5)
        seconds = time.perf_counter() - started
    finally:
        process.terminate()
        process.wait(timeout=60)
    print(result(workspace, provider, seconds, sweep_seconds or seconds, sweeps, notes))


def result(workspace, provider, seconds, sweep_seconds, sweeps, notes) -> str:
    ours = Reminder.objects.filter(workspace=workspace)
    statuses = dict(ours.values_list("status").annotate(n=Count("id")).order_by())
    runs = (
        AutomationRun.objects.filter(workspace=workspace, reminder__isnull=False)
        .values("booking_id")
        .annotate(sent=Count("id", filter=Q(outcome="sent")), other=Count("id"))
    )
    once = sum(1 for r in runs if r["sent"] == 1)
    twice = sum(1 for r in runs if r["sent"] > 1)
    messages = Message.objects.filter(workspace=workspace, direction="outbound")
    by_status = dict(messages.values_list("status").annotate(n=Count("id")).order_by())
    distinct = messages.values("to_address").distinct().count()
    at_provider = sum(provider.recipients.values())
    repeated = sum(1 for n in provider.recipients.values() if n > 1)
    ok = (
        once == COUNT
        and not twice
        and by_status.get("sent", 0) == COUNT
        and distinct == COUNT
        and at_provider == COUNT
        and not repeated
    )
    check = (
        f"{'PASS' if ok else 'FAIL'}: {once:,} of {COUNT:,} bookings have exactly one sent "
        f"reminder run, {twice} more than one; {by_status.get('sent', 0):,} messages sent "
        f"(statuses {by_status}), {distinct:,} distinct recipients; the provider got "
        f"{at_provider:,} requests, {repeated} recipients more than once; reminders {statuses}"
    )
    sent = by_status.get("sent", 0)
    notes.append(
        f"{sweeps} sweep tasks of {SWEEP_LIMIT}, back to back (a full sweep queues the next "
        "itself: automation.tasks.automation_send_due_reminders)"
    )
    data = {
        "reminders": COUNT,
        "seconds": seconds,
        "sweep_seconds": sweep_seconds,
        "per_second": sent / seconds if seconds else 0.0,
        "workers": "one Celery worker, --concurrency 2 (prefork)",
        "sweep": f"automation_send_due_reminders, {SWEEP_LIMIT} per task, {SEND_BATCH} per "
        "transaction",
        "channel": f"email through Resend, {DELIVERY_BATCH} messages per delivery task on one "
        "kept-open connection",
        "check": check,
        "ok": ok,
        "notes": notes,
    }
    print(check)
    return "BENCH_JSON " + json.dumps(data)


if __name__ == "__main__":
    main()

"""Contacts and inbox at a realistic size: CSV import and export, and the inbox list.

    make bench            (PostgreSQL database careops_bench, created if missing)

Prints one line per measurement: wall time, and queries where they matter. Rerunnable: each run
works in a fresh workspace of its own.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careops.settings")

import django

django.setup()

from django.db import connection  # noqa: E402

from contacts.csv_export import contacts_export_lines  # noqa: E402
from contacts.csv_import import contacts_import_csv  # noqa: E402
from contacts.models import Contact  # noqa: E402
from messaging.selectors import conversations_list  # noqa: E402
from messaging.services import message_receive  # noqa: E402
from workspaces.models import User  # noqa: E402
from workspaces.services import workspace_create  # noqa: E402

ROWS = int(os.environ.get("BENCH_ROWS", "5000"))
CONVERSATIONS = int(os.environ.get("BENCH_CONVERSATIONS", "2000"))


def timed(label: str, fn, *, per: int | None = None):
    queries = 0

    def count(execute, sql, params, many, context):
        nonlocal queries
        queries += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
    rate = f", {per / seconds:,.0f}/s" if per else ""
    print(f"{label:<44} {seconds * 1000:9.1f} ms  {queries:7,d} queries{rate}")
    return result


def csv_file(rows: int, tag: str) -> bytes:
    lines = ["name,email,phone,tags,notes"]
    for n in range(rows):
        phone = f"+44770{n:07d}" if n % 3 else ""
        email = f"client{n}@{tag}.example" if n % 5 else ""
        if not (email or phone):
            email = f"only{n}@{tag}.example"
        lines.append(f"Client {n},{email},{phone},regular;{'vip' if n % 10 == 0 else 'new'},")
    lines.append("Nobody,,,,no address")  # rejected
    lines.append("Bad email,not-an-email,,,")  # rejected
    return ("\n".join(lines) + "\n").encode()


def main() -> None:
    run = uuid.uuid4().hex[:8]
    owner = User.objects.create_user(email=f"bench-{run}@example.com", password=None)
    workspace = workspace_create(owner=owner, name=f"Bench {run}")
    data = csv_file(ROWS, run)
    print(f"workspace {workspace.slug}: {ROWS:,} CSV rows, {CONVERSATIONS:,} conversations")

    report = timed(
        f"import {ROWS:,} new rows",
        lambda: contacts_import_csv(workspace=workspace, actor=owner, file=data),
        per=ROWS,
    )
    print(f"  created {report.created}, updated {report.updated}, rejected {len(report.rejected)}")
    timed(
        f"import the same {ROWS:,} rows again (updates)",
        lambda: contacts_import_csv(workspace=workspace, actor=owner, file=data),
        per=ROWS,
    )
    timed(
        f"export {ROWS:,} contacts",
        lambda: sum(1 for _ in contacts_export_lines(workspace=workspace)),
        per=ROWS,
    )

    contacts = list(Contact.objects.for_workspace(workspace).order_by("pk")[:CONVERSATIONS])
    timed(
        f"receive {len(contacts):,} inbound messages",
        lambda: [
            message_receive(workspace=workspace, contact=c, channel="email", body="Hello")
            for c in contacts
        ],
        per=len(contacts),
    )
    for filters in ({}, {"unread": True}, {"q": "client 1"}):
        timed(
            f"inbox first page (50) {filters or 'all'}",
            lambda f=filters: list(conversations_list(workspace=workspace, **f)[:50]),
        )


if __name__ == "__main__":
    main()

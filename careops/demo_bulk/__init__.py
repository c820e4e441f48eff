"""A busy workspace's history, in bulk: `seed_demo --bookings N` and bench/dashboard.py.

workspace_fill() tops a workspace up to N bookings over the last two years and the coming month,
with what such a business accumulates around them: contacts (about one per seven bookings,
tagged), practitioners with their working hours, the bookings' status history, intake forms sent
with the services that ask for them, supplies consumed by completed bookings (with restocks),
conversations in and out by email and SMS, and reminders planned for the upcoming bookings.

Rows are written straight to their tables (COPY on PostgreSQL, bulk_create elsewhere): no
signals, no events, no automation. Every database constraint still holds, and the fields other
code keeps up to date are computed the way the services would leave them: a booking's blocked
range, the items' quantity on hand (the sum of their ledger, with running balances), and each
conversation's last message, preview, inbound channel and unread count.

The calendar is a grid of hourly slots (Mon-Fri 9:00-17:00 on the workspace's clock), one per
practitioner, and every booking fits in its slot buffers included: no two bookings ever overlap
on a calendar, active or not. A top-up leaves the slots existing bookings occupy alone.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime

from django.db import models

from bookings.models import Booking
from careops.demo_bulk.catalogue import MAX_BOOKINGS
from careops.demo_bulk.filler import Filler, Progress
from careops.demo_bulk.rows import insert_rows
from workspaces.models import User, Workspace

__all__ = ["MAX_BOOKINGS", "insert_rows", "workspace_fill"]


def workspace_fill(
    *,
    workspace: Workspace,
    owner: User,
    staff: Sequence[User] = (),
    bookings: int,
    seed: int = 0,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> dict[type[models.Model], int]:
    """Top `workspace` up to `bookings` bookings (0 to MAX_BOOKINGS), with their contacts,
    forms, messages, stock usage and practitioners (`staff` deliver first; more members are
    added when the calendars would otherwise be too full). Run again with the same number, it
    adds nothing. Deterministic for a seed and the workspace's state. Call it in a transaction.
    Returns how many rows of each model it added."""
    if not 0 <= bookings <= MAX_BOOKINGS:
        raise ValueError(f"bookings must be between 0 and {MAX_BOOKINGS:,}")
    existing = Booking.objects.for_workspace(workspace).count()
    missing = bookings - existing
    if missing <= 0:
        return {}
    # Demo data, not secrets: a seeded generator makes a run reproducible.
    rng = random.Random(f"{seed}:{workspace.pk}:{existing}")  # noqa: S311
    filler = Filler(workspace, owner, rng, now)
    filler.setup(staff, bookings)
    filler.fill(missing, progress)
    return {model: n for model, n in filler.added.items() if n}

"""Sweeps that send in batches (booking reminders, form reminders): each batch in one
transaction, and a batch that fails rolled back and dealt with again one by one, so the one
that fails rolls back alone."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import structlog
from celery.exceptions import SoftTimeLimitExceeded
from django.db import transaction

from automation.models import Rule

log = structlog.get_logger(__name__)

# send(ids, now, rules) -> how many were dealt with; rules caches each workspace's Rule.
SendBatch = Callable[[list[int], datetime, dict[int, Rule]], int]
# note_failure(id, exc, now): record what went wrong with one, for its retry.
NoteFailure = Callable[[int, Exception, datetime], None]


def batches_send(
    ids: list[int],
    *,
    now: datetime,
    size: int,
    send: SendBatch,
    note_failure: NoteFailure,
    what: str,
) -> int:
    """Deal with `ids`, `size` per transaction; returns how many were dealt with."""
    rules: dict[int, Rule] = {}
    done = 0
    for offset in range(0, len(ids), size):
        batch = ids[offset : offset + size]
        sent = _together(batch, now, rules, send, what) if len(batch) > 1 else None
        if sent is None:  # a batch of one, or one rolled back: each in a transaction of its own
            sent = sum(_alone(one, now, rules, send, note_failure, what) for one in batch)
        done += sent
    return done


def _together(
    ids: list[int], now: datetime, rules: dict[int, Rule], send: SendBatch, what: str
) -> int | None:
    """The batch in one transaction: how many were dealt with, or None when rolled back."""
    try:
        with transaction.atomic():
            return send(ids, now, rules)
    except SoftTimeLimitExceeded:
        raise
    except Exception:
        log.warning(f"{what}_batch_failed", count=len(ids), exc_info=True)
        rules.clear()  # rules first created in the rolled-back transaction are gone
        return None


def _alone(
    one: int,
    now: datetime,
    rules: dict[int, Rule],
    send: SendBatch,
    note_failure: NoteFailure,
    what: str,
) -> int:
    try:
        with transaction.atomic():
            return send([one], now, rules)
    except SoftTimeLimitExceeded:
        raise
    except Exception as exc:
        # A bug or an outage on one must not stop the others: its work is rolled back, and it
        # is tried again after a backoff.
        log.exception(f"{what}_crashed", id=one)
        rules.clear()
        note_failure(one, exc, now)
        return 0

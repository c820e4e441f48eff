"""Alerts staff act on: raised once per subject and kind while open, acknowledged by staff,
resolved when the cause is gone."""

from __future__ import annotations

from datetime import datetime

from automation.models import Alert


def alert_raise(
    *,
    workspace,
    kind: str,
    subject_type: str,
    subject_id: int,
    message: str,
    url: str = "",
    severity: str = Alert.Severity.WARNING,
) -> tuple[Alert, bool]:
    """The open alert for this subject and kind, created if there is none (the partial unique
    constraint settles a race: the loser returns the winner's). Returns (alert, created)."""
    raise NotImplementedError


def alert_acknowledge(*, alert: Alert, actor, now: datetime | None = None) -> Alert:
    """Staff saw it and act on it. Idempotent."""
    raise NotImplementedError


def alerts_resolve(
    *, workspace, kind: str, subject_type: str, subject_id: int, now: datetime | None = None
) -> int:
    """The cause is gone (the form completed, the item restocked): close its open alerts."""
    raise NotImplementedError

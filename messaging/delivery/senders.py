"""The senders a delivery call reads once per (workspace, channel), and the integrations' health it
records once at its end."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from messaging import providers
from messaging.models import Integration


class _Senders:
    """The senders of each (workspace, channel) of a delivery call, read once, their
    connections kept open until close()."""

    def __init__(self) -> None:
        self._senders: dict[tuple[int, str], list[providers.Sender]] = {}

    def of(self, workspace, channel: str) -> list[providers.Sender]:
        key = (workspace.pk, channel)
        if key not in self._senders:
            self._senders[key] = providers.senders_for(workspace, channel)
            for sender in self._senders[key]:
                sender.open()
        return self._senders[key]

    def close(self) -> None:
        for senders in self._senders.values():
            for sender in senders:
                sender.close()


@dataclass
class _Health:
    """Each integration's last success and last error seen by a delivery call, with when (and the
    integration as the call read it: whether it was failing before)."""

    integrations: dict[int, Integration] = field(default_factory=dict)
    successes: dict[int, datetime] = field(default_factory=dict)
    errors: dict[int, tuple[str, datetime]] = field(default_factory=dict)

    def note(self, integration: Integration | None, error: str, now: datetime) -> None:
        if integration is None:
            return
        self.integrations[integration.pk] = integration
        if error:
            self.errors[integration.pk] = (error, now)
        else:
            self.successes[integration.pk] = now

    def record(self) -> None:
        for integration_id, (error, at) in self.errors.items():
            Integration.health_record(self.integrations[integration_id], error, at)
        for integration_id, at in self.successes.items():
            Integration.health_record(self.integrations[integration_id], "", at)

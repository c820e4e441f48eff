"""Each rule's handlers, registered with automation.engine.handles on import."""

from __future__ import annotations

from automation.handlers import alerts, messages  # noqa: F401

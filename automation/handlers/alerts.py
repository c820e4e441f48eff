"""Handlers that raise alerts: overdue forms, low stock."""

from __future__ import annotations

"""Automation listens to the other domains: each signal becomes an Event in the same
transaction (see automation.engine)."""

from __future__ import annotations

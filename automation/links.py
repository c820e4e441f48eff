"""Automation's part of a contact: what automation did for them, on their timeline."""

from __future__ import annotations

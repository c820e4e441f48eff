"""Handlers that send messages: welcome, confirmation, forms, reminders, pause."""

from __future__ import annotations

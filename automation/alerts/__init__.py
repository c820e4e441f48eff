"""Alerts staff act on. The catalogue of kinds (what each is about, links to, and how it is
raised and resolved) is automation.alerts.catalogue; raising, acknowledging, resolving and
emailing one is core; the stock alerts are inventory; the five-minute sweep of missed messages
and unconfirmed bookings is sweeps. Overdue forms and failing providers are raised and resolved
by handlers of the events forms and messaging record (automation.handlers.alerts)."""

from __future__ import annotations

from automation.alerts.catalogue import (
    ALERT_AREAS,
    CATALOGUE,
    alert_area,
    alert_kinds_visible,
    alert_url,
)
from automation.alerts.core import (
    alert_acknowledge,
    alert_email_owners,
    alert_email_queue,
    alert_raise,
    alerts_resolve,
)
from automation.alerts.inventory import inventory_check, stock_low_message, stock_low_raise
from automation.alerts.sweeps import alerts_check

__all__ = [
    "ALERT_AREAS",
    "CATALOGUE",
    "alert_acknowledge",
    "alert_area",
    "alert_email_owners",
    "alert_email_queue",
    "alert_kinds_visible",
    "alert_raise",
    "alert_url",
    "alerts_check",
    "alerts_resolve",
    "inventory_check",
    "stock_low_message",
    "stock_low_raise",
]

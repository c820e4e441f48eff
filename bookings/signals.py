"""Events bookings raise for other domains (automation: confirmations, forms, reminders;
inventory: the supplies a completed booking used).

Each is sent inside the transaction that made the change, with `booking` (for a status change
also `previous`, for a reschedule `previous_start`): a receiver writes what must commit with
the change (an outbox event, a stock movement) and queues any other work on commit. A receiver
that raises rolls the change back.
"""

from __future__ import annotations

from django.dispatch import Signal

booking_created = Signal()
booking_rescheduled = Signal()  # also `previous_start`
booking_status_changed = Signal()  # also `previous`

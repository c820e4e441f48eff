"""Events bookings raise for other domains (automation: confirmations, forms, reminders).

Each is sent after the transaction that made the change commits, with `booking` (and for a
status change `previous`), so a receiver can queue work that sees the committed row.
"""

from __future__ import annotations

from django.dispatch import Signal

booking_created = Signal()
booking_rescheduled = Signal()  # also `previous_start`
booking_status_changed = Signal()  # also `previous`

# Sent inside the transaction that stored a new status, with `booking` and `previous`, so a
# receiver's writes (the stock a completed booking used) commit with the change or not at all.
booking_status_saved = Signal()

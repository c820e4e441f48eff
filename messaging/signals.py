"""Events messaging raises for other domains (automation records them).

Sent inside the transaction that made the change: a receiver records what it needs there.
"""

from __future__ import annotations

from django.dispatch import Signal

# A staff member sent a message to a contact, with `message` and `conversation`.
staff_replied = Signal()

"""Events messaging raises for other domains (automation records them).

Sent inside the transaction that made the change: a receiver records what it needs there.
"""

from __future__ import annotations

from django.dispatch import Signal

# A staff member sent a message to a contact, with `message` and `conversation`.
staff_replied = Signal()

# An integration failed after working (or before it ever worked), with `integration` (its
# last_error the new one): once per change from healthy to failing, not per failed send.
integration_failed = Signal()
# A failing integration worked again (a send through it, or a passing check): `integration`.
integration_recovered = Signal()

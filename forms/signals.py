"""Events forms raise for other domains (automation: alerts, follow-ups).

Sent inside the transaction that made the change, with `submission`: a receiver records what
it needs in the same transaction and queues any work on commit.
"""

from __future__ import annotations

from django.dispatch import Signal

form_sent = Signal()
form_submitted = Signal()
form_overdue = Signal()

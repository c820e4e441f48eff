"""Delivering an outbound message: through the workspace's providers in order, with retries.

Every path ends with the message sent, or failed with an error saying why (and, while attempts
remain, a time for the retry sweep to try again): a message is never silently dropped.

Nor sent twice, as far as the providers allow. A provider that fails with an answer (a 5xx, a
401, a connection refused) did not take the message, and the next one is tried. A provider whose
answer is lost (no answer within providers.SEND_TIMEOUT, one cut short, a 2xx we cannot read)
may have taken it: then no other provider is tried, as it would send a second copy, and
  - where the provider honours idempotency keys (Resend), the message is retried with backoff
    through that integration alone, with the key of the attempt whose answer was lost: if the
    provider took it, it answers with that message instead of sending it again;
  - elsewhere (SendGrid, Mailgun, Postmark, Twilio), nothing can ask the provider whether it took
    the message, and a retry could send a second: the message is failed, not retried, with an
    error saying it may have been sent; staff decide (the inbox's retry button sends it again).
The integration that may have it is kept on the message (Message.unconfirmed_integration).

A worker that dies mid-send (SIGKILL, the OOM killer, the hard time limit) loses the answer too,
so no transaction is held open across a provider's call for its rollback to erase the send: the
message is marked (sending_since, the integration, its key where it honours keys) and committed
before the call, and the answer is recorded in a write of its own that clears the mark. A mark
younger than a delivery task may live (sending_limit()) is a send in progress, which other
workers skip; an older one is a send cut short, taken for a lost answer as above.

Messages queued in bulk (automation's reminders sweep: messaging.bulk.messages_queue) are
handed to delivery DELIVERY_BATCH to a task (deliveries_queue), and a task delivers its messages
one after the other, each as a lone message is, sharing what they have in common: the
workspace's senders (read once) and their connections to the providers (kept open).
"""

# The package's modules, in the order a message goes through them:
#   batches.py   the entry points (a task's batch, a lone message), handing batches to tasks,
#                and the retry sweep's due messages
#   sending.py   one message's send: due or not, its mark (a lease up to sending_limit()), the
#                providers tried in order
#   outcomes.py  the outcome's write: sent, failed, failed after a lost answer or a cut-short send
#   senders.py   the senders read once per call, and the integrations' health written at its end
# Everything other code (and tests) use is re-exported here; a few names are read from here at
# call time (DELIVERY_BATCH, DELIVERY_BUDGET_SECONDS, outgoing_for, _succeed), so that replacing
# them on messaging.delivery takes effect.

from __future__ import annotations

from messaging.delivery.batches import (
    DELIVERY_BATCH,
    DELIVERY_BUDGET_SECONDS,
    QUEUED_GRACE,
    SWEEP_BATCH,
    deliveries_queue,
    message_deliver,
    messages_deliver,
    messages_due_ids,
)
from messaging.delivery.outcomes import (
    BACKOFF_MINUTES,
    CUT_SHORT,
    UNCONFIRMED_EARLIER,
    UNCONFIRMED_EXHAUSTED,
    UNCONFIRMED_GONE,
    UNCONFIRMED_RETRY,
    UNCONFIRMED_STOP,
    Outcome,
    retry_delay,
)
from messaging.delivery.outcomes import _succeed as _succeed  # read at call time: see above
from messaging.delivery.sending import CLOCK_SKEW, UNLIMITED_TASK, outgoing_for, sending_limit

__all__ = [
    "BACKOFF_MINUTES",
    "CLOCK_SKEW",
    "CUT_SHORT",
    "DELIVERY_BATCH",
    "DELIVERY_BUDGET_SECONDS",
    "QUEUED_GRACE",
    "SWEEP_BATCH",
    "UNCONFIRMED_EARLIER",
    "UNCONFIRMED_EXHAUSTED",
    "UNCONFIRMED_GONE",
    "UNCONFIRMED_RETRY",
    "UNCONFIRMED_STOP",
    "UNLIMITED_TASK",
    "Outcome",
    "deliveries_queue",
    "message_deliver",
    "messages_deliver",
    "messages_due_ids",
    "outgoing_for",
    "retry_delay",
    "sending_limit",
]

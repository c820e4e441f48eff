"""Events inventory raises for other domains (automation: low-stock alerts).

Sent inside the transaction that moved the stock, with `item` (its quantity_on_hand already
the new one): a receiver records what it needs in the same transaction, queues work on commit.
"""

from __future__ import annotations

from django.dispatch import Signal

# The item's stock fell to or below its threshold: once per crossing (see InventoryItem.low_since).
stock_low = Signal()

"""Events inventory raises for other domains (automation: stock alerts).

Sent inside the transaction that moved the stock, with `item` (its quantity_on_hand already
the new one): a receiver records what it needs in the same transaction, queues work on commit.
"""

from __future__ import annotations

from django.dispatch import Signal

# The item's stock fell to or below its threshold: once per crossing (see InventoryItem.low_since).
stock_low = Signal()
# Stock was added to the item (a restock, or a correction upward): alerts about it running short
# may be over.
stock_restocked = Signal()

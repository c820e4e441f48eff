"""Events contacts raise for other domains (contacts imports none of them)."""

from __future__ import annotations

from django.dispatch import Signal

# A person wrote through the workspace's public contact form. Sent inside the transaction that
# stored the contact, with workspace, contact, subject and body: messaging stores the body as the
# first inbound message of the contact's conversation.
contact_form_submitted = Signal()

# A contact was created (by staff, an import of one row, a form, a booking or an inbound
# message). Sent inside the transaction that stored it, with `contact`: automation records an
# event there (the welcome message).
contact_created = Signal()

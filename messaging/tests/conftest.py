"""Fixtures of the messaging tests (the project's own are in the root conftest.py)."""

from __future__ import annotations

import pytest

from contacts.tests.factories import ContactFactory
from messaging.tests.factories import ConversationFactory


@pytest.fixture
def conversation(workspace_a):
    """Dana, a client of workspace A reachable by email and SMS, and her conversation."""
    contact = ContactFactory(
        workspace=workspace_a,
        name="Dana Client",
        email="dana@example.org",
        phone="+447700900123",
        sms_consent=True,
    )
    return ConversationFactory(contact=contact)

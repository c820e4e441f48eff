"""Staff work the inbox on a phone: read an unread conversation, reply, retry a failed message."""

from __future__ import annotations

import re

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from contacts.tests.factories import ContactFactory
from messaging.models import Message
from messaging.services import message_receive
from messaging.tests.factories import MessageFactory
from tests.browser.conftest import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def receive(workspace, contact, body: str) -> Message:
    message, _ = message_receive(workspace=workspace, contact=contact, channel="email", body=body)
    return message


def test_staff_read_an_unread_conversation_and_reply(page, live_server, staff, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace", email="ada@example.org")
    receive(workspace_a, ada, "Can I move my appointment to Friday?")
    sign_in(page, live_server, staff)

    page.goto(f"{live_server.url}/inbox/")
    item = page.get_by_test_id("conversation-list").get_by_role("link", name=re.compile("Ada"))
    expect(item).to_contain_text("Can I move my appointment to Friday?")
    expect(item.get_by_test_id("unread-badge")).to_have_text("Unread: 1")

    item.click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    thread = page.get_by_test_id("thread")
    expect(thread).to_contain_text("Can I move my appointment to Friday?")
    expect(page.get_by_role("radio", name="Email")).to_be_checked()

    page.get_by_label("Reply", exact=True).fill("Friday at 10 works. See you then!")
    page.get_by_role("button", name="Send").click()

    reply = thread.get_by_test_id("message").filter(has_text="Friday at 10 works.")
    expect(reply).to_have_class(re.compile("msg-outbound"))
    expect(reply).to_contain_text("Sent")
    expect(page.get_by_label("Reply", exact=True)).to_have_value("")
    expect(page.get_by_test_id("automation-state")).to_have_text("Automation paused")
    assert ada.conversations.get().messages.filter(direction="outbound").count() == 1

    # A new message from the client appears in the open thread without a reload.
    receive(workspace_a, ada, "Perfect, thank you!")
    expect(thread.get_by_test_id("message").last).to_contain_text(
        "Perfect, thank you!", timeout=12_000
    )
    expect(thread.get_by_test_id("message")).to_have_count(3)


def test_a_failed_message_shows_its_error_and_retry_sends_it(page, live_server, staff, workspace_a):
    grace = ContactFactory(workspace=workspace_a, name="Grace Hopper", email="grace@example.org")
    receive(workspace_a, grace, "Please send my receipt.")
    conversation = grace.conversations.get()
    failed = MessageFactory(
        conversation=conversation,
        direction="outbound",
        status="failed",
        sender_kind="staff",
        sender_user=staff,
        body="Here is your receipt.",
        to_address=grace.email,
        error="smtp: 550 mailbox unavailable",
        attempts=1,
        failed_at=timezone.now(),
    )
    sign_in(page, live_server, staff)

    page.goto(f"{live_server.url}/inbox/")
    item = page.get_by_test_id("conversation-list").get_by_role("link", name=re.compile("Grace"))
    expect(item).to_contain_text("Failed")
    item.click()

    message = page.locator(f"#message-{failed.pk}")
    expect(message).to_contain_text("smtp: 550 mailbox unavailable")
    expect(message).to_have_attribute("data-status", "failed")
    message.get_by_role("button", name="Retry").click()

    expect(message).not_to_have_attribute("data-status", "failed")
    expect(message.get_by_role("button", name="Retry")).to_have_count(0)
    expect(message).not_to_contain_text("smtp: 550")
    failed.refresh_from_db()
    assert failed.status == "sent"


def test_on_a_wide_screen_the_thread_shows_beside_the_list(page, live_server, staff, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    receive(workspace_a, ada, "Hello")
    page.set_viewport_size({"width": 1280, "height": 800})
    sign_in(page, live_server, staff)

    page.goto(f"{live_server.url}/inbox/")
    page.get_by_test_id("conversation-list").get_by_role("link", name=re.compile("Ada")).click()

    expect(page.get_by_role("heading", level=1)).to_have_text("Ada Lovelace")
    expect(page.get_by_test_id("conversation-list")).to_be_visible()
    expect(page.get_by_test_id("thread")).to_be_visible()

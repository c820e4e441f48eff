from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from messaging.models import Conversation
from messaging.services import message_receive
from messaging.tests.factories import (
    ConversationFactory,
    MessageFactory,
    MessageTemplateFactory,
    conversation_with_inbound,
    failed_outbound,
)

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}


def thread_url(conversation) -> str:
    return reverse("inbox-conversation", args=[conversation.pk])


# --- The list -----------------------------------------------------------------------------------


def test_the_inbox_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("inbox"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_inbox_shows_unread_conversations_in_bold_with_their_count(staff_client, workspace_a):
    conversation = conversation_with_inbound(
        workspace_a, name="Ada Lovelace", body="Can I come at 3?"
    )
    message_receive(workspace=workspace_a, contact=conversation.contact, channel="email", body="?")

    response = staff_client.get(reverse("inbox"))

    page = response.content.decode()
    assert response.status_code == 200
    assert 'class="conv conv-unread' in page
    assert "Ada Lovelace" in page
    assert '<span class="visually-hidden">Unread: </span>2</span>' in page
    assert "?" in page  # the last message's preview


def test_the_inbox_marks_conversations_with_a_failed_message(staff_client, workspace_a):
    failed_outbound(conversation_with_inbound(workspace_a))

    response = staff_client.get(reverse("inbox"))

    assert 'class="conv-failed"' in response.content.decode()


def test_the_inbox_shows_times_in_the_workspaces_time_zone(staff_client, workspace_a):
    workspace_a.timezone = "America/New_York"
    workspace_a.save()
    with time_machine.travel(datetime(2025, 3, 10, 15, 30, tzinfo=UTC), tick=False):
        conversation_with_inbound(workspace_a)

        response = staff_client.get(reverse("inbox"))

    assert "11:30</time>" in response.content.decode()  # 15:30 UTC is 11:30 in New York


@pytest.mark.parametrize(
    ("tab", "expected"),
    [("all", {"a", "b", "c"}), ("unread", {"a"}), ("mine", {"b"}), ("closed", {"c"})],
)
def test_the_inbox_tabs_filter_the_list(staff_client, workspace_a, staff, tab, expected):
    names = {}
    for name in "abc":
        names[name] = conversation_with_inbound(workspace_a, name=f"Client-{name}")
    Conversation.objects.filter(pk__in=[names["b"].pk, names["c"].pk]).update(unread_count=0)
    Conversation.objects.filter(pk=names["b"].pk).update(assigned_to=staff)
    Conversation.objects.filter(pk=names["c"].pk).update(status="closed")

    page = staff_client.get(reverse("inbox"), {"filter": tab}).content.decode()

    assert {n for n in "abc" if f"Client-{n}" in page} == expected


@pytest.mark.parametrize("size", [3, 30])
def test_the_inbox_renders_in_a_constant_number_of_queries(
    staff_client, workspace_a, size, django_assert_max_num_queries
):
    for index in range(size):
        conversation = conversation_with_inbound(workspace_a)
        if index % 3 == 0:
            failed_outbound(conversation)

    # 5 queries: session, user, membership + workspace, conversations (contact and assignee
    # joined, has_failed an EXISTS), the workspace switcher
    with django_assert_max_num_queries(5):
        response = staff_client.get(reverse("inbox"))

    assert response.status_code == 200
    assert response.content.decode().count('class="conv ') == size


def test_the_list_partial_refreshes_unread_badges_in_a_constant_number_of_queries(
    staff_client, workspace_a, django_assert_max_num_queries
):
    for _ in range(10):
        conversation_with_inbound(workspace_a)

    # 4 queries: session, user, membership + workspace, conversations
    with django_assert_max_num_queries(4):
        response = staff_client.get(reverse("inbox-list"), {"filter": "unread"}, **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert page.startswith('<div id="conversation-list"')
    assert 'hx-trigger="every 10s"' in page
    assert page.count('data-testid="unread-badge"') == 10


def test_other_workspaces_conversations_are_not_listed(outsider_client, workspace_a):
    conversation_with_inbound(workspace_a, name="Ada Lovelace")

    response = outsider_client.get(reverse("inbox"))

    assert "Ada Lovelace" not in response.content.decode()


# --- The thread ---------------------------------------------------------------------------------


def test_opening_a_thread_shows_it_oldest_first_and_marks_it_read(staff_client, workspace_a, staff):
    conversation = conversation_with_inbound(workspace_a, body="First question")
    MessageFactory(
        conversation=conversation,
        direction="outbound",
        status="delivered",
        sender_kind="staff",
        sender_user=staff,
        body="Our answer",
    )

    response = staff_client.get(thread_url(conversation))

    page = response.content.decode()
    assert response.status_code == 200
    assert page.index("First question") < page.index("Our answer")
    assert 'class="msg msg-inbound"' in page
    assert 'class="msg msg-outbound"' in page
    assert "Delivered" in page
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


def test_a_failed_message_shows_its_error_and_a_retry_button(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    message = failed_outbound(conversation, error="smtp: 550 no such mailbox")

    page = staff_client.get(thread_url(conversation)).content.decode()

    assert "msg-failed" in page
    assert "smtp: 550 no such mailbox" in page
    assert reverse("inbox-retry", args=[conversation.pk, message.pk]) in page
    assert ">Retry</button>" in page


def test_the_reply_box_offers_only_reachable_channels_defaulting_to_the_last_one_used(
    staff_client, workspace_a
):
    conversation = conversation_with_inbound(workspace_a, channel="sms", sms_consent=False)

    page = staff_client.get(thread_url(conversation)).content.decode()

    assert re.search(r'name="channel" value="sms"[^>]*checked', page)
    assert re.search(r'name="channel" value="email"[^>]*>', page)


def test_the_reply_box_leaves_out_sms_without_consent(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a, channel="email", sms_consent=False)

    page = staff_client.get(thread_url(conversation)).content.decode()

    assert re.search(r'name="channel" value="email"[^>]*checked', page)
    assert 'value="sms"' not in page


def test_the_reply_box_of_an_unreachable_contact_says_why(staff_client, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="", phone="+447700900999")
    conversation = ConversationFactory(contact=contact)

    page = staff_client.get(thread_url(conversation)).content.decode()

    assert "This client cannot be reached" in page
    assert 'name="channel"' not in page


@pytest.mark.parametrize("size", [3, 30])
def test_the_thread_renders_in_a_constant_number_of_queries(
    staff_client, workspace_a, staff, size, django_assert_max_num_queries
):
    conversation = conversation_with_inbound(workspace_a)
    for index in range(size):
        MessageFactory(
            conversation=conversation,
            direction="outbound",
            status="failed" if index % 5 == 0 else "sent",
            sender_kind="staff",
            sender_user=staff,
        )
    for _ in range(size):
        conversation_with_inbound(workspace_a)
    MessageTemplateFactory.create_batch(3, workspace=workspace_a)

    # 10 queries: session, user, membership + workspace, conversation (contact, assignee and
    # has_failed with it), mark read, conversation list, latest messages (senders joined),
    # members, message templates, the workspace switcher
    with django_assert_max_num_queries(10):
        response = staff_client.get(thread_url(conversation))

    assert response.status_code == 200
    assert response.content.decode().count('data-testid="message"') == size + 1


def test_the_polling_partial_returns_only_new_messages(
    staff_client, workspace_a, django_assert_max_num_queries
):
    conversation = conversation_with_inbound(workspace_a, body="Seen already")
    seen = conversation.messages.get()
    staff_client.get(thread_url(conversation))  # opened: read
    for text in ("New one", "Another"):
        message_receive(
            workspace=workspace_a, contact=conversation.contact, channel="email", body=text
        )
    newest = conversation.messages.latest("pk")
    url = reverse("inbox-messages", args=[conversation.pk])

    # 6 queries: session, user, membership + workspace, conversation, new messages, mark read
    with django_assert_max_num_queries(6):
        response = staff_client.get(url, {"after": seen.pk}, **HTMX)

    page = response.content.decode()
    assert response.status_code == 200
    assert "Seen already" not in page
    assert page.index("New one") < page.index("Another")
    assert f"?after={newest.pk}" in page  # the poller asks from the newest one next time
    assert 'hx-swap-oob="true"' in page
    conversation.refresh_from_db()
    assert conversation.unread_count == 0  # the thread is open on screen


def test_the_polling_partial_answers_204_when_nothing_is_new(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    latest = conversation.messages.get()

    response = staff_client.get(
        reverse("inbox-messages", args=[conversation.pk]), {"after": latest.pk}, **HTMX
    )

    assert response.status_code == 204


def test_the_polling_partial_needs_a_message_id(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_client.get(
        reverse("inbox-messages", args=[conversation.pk]), {"after": "x"}, **HTMX
    )

    assert response.status_code == 400


# --- Replying -----------------------------------------------------------------------------------


def test_a_reply_is_sent_and_the_thread_re_rendered(
    staff_client, workspace_a, django_capture_on_commit_callbacks
):
    conversation = conversation_with_inbound(workspace_a, email="ada@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("inbox-reply", args=[conversation.pk]),
            {"body": "See you at 3.", "channel": "email", "subject": "Tuesday"},
            **HTMX,
        )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.startswith('<div id="thread"')
    assert "See you at 3." in page
    assert "Automation paused" in page  # the controls, swapped out of band
    assert mail.outbox[0].to == ["ada@example.org"]
    assert mail.outbox[0].subject == "Tuesday"
    reply = conversation.messages.get(direction="outbound")
    assert (reply.status, reply.sender_kind) == ("sent", "staff")


def test_a_reply_without_htmx_redirects_back_to_the_thread(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_client.post(
        reverse("inbox-reply", args=[conversation.pk]), {"body": "Noted", "channel": "email"}
    )

    assert response.status_code == 302
    assert response["Location"] == thread_url(conversation)
    assert conversation.messages.filter(direction="outbound", body="Noted").exists()


def test_staff_reply_pauses_automation(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)

    staff_client.post(reverse("inbox-reply", args=[conversation.pk]), {"body": "Mine now"})

    conversation.refresh_from_db()
    assert conversation.automation_paused is True


def test_an_empty_reply_shows_the_error_on_the_form_with_400(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_client.post(
        reverse("inbox-reply", args=[conversation.pk]), {"body": "  ", "channel": "email"}, **HTMX
    )

    page = response.content.decode()
    assert response.status_code == 400
    assert page.startswith('<form id="reply-form"')
    assert "Write a message." in page
    assert response["HX-Retarget"] == "#reply-form"
    assert not conversation.messages.filter(direction="outbound").exists()


def test_a_reply_on_a_channel_the_contact_cannot_receive_shows_the_error(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a, sms_consent=False)

    response = staff_client.post(
        reverse("inbox-reply", args=[conversation.pk]), {"body": "Hi", "channel": "sms"}, **HTMX
    )

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()


def test_a_reply_to_an_unreachable_contact_shows_the_error_without_htmx(staff_client, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="", phone="+447700900999")
    conversation = ConversationFactory(contact=contact)

    response = staff_client.post(reverse("inbox-reply", args=[conversation.pk]), {"body": "Hi"})

    assert response.status_code == 400
    assert "cannot be reached by email or SMS" in response.content.decode()
    assert not conversation.messages.exists()


def test_picking_a_canned_reply_fills_the_reply_box(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a, name="Ada Lovelace")
    template = MessageTemplateFactory(
        workspace=workspace_a, name="Running late", body="Hi {{ contact.first_name }}, 5 min late."
    )
    assert "Running late" in staff_client.get(thread_url(conversation)).content.decode()

    response = staff_client.get(
        reverse("inbox-canned", args=[conversation.pk]),
        {"template_id": template.pk, "channel": "email", "body": ""},
        **HTMX,
    )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.startswith('<form id="reply-form"')
    assert "Hi Ada, 5 min late.</textarea>" in page


def test_a_canned_reply_of_another_workspace_is_refused(staff_client, workspace_a, workspace_b):
    conversation = conversation_with_inbound(workspace_a)
    theirs = MessageTemplateFactory(workspace=workspace_b, body="Secret text")

    response = staff_client.get(
        reverse("inbox-canned", args=[conversation.pk]), {"template_id": theirs.pk}, **HTMX
    )

    assert response.status_code == 400
    assert "Secret text" not in response.content.decode()
    assert "Choose a message template of this workspace." in response.content.decode()


def test_sending_with_a_canned_reply_and_no_body_sends_the_rendered_text(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a, name="Ada Lovelace")
    template = MessageTemplateFactory(workspace=workspace_a, body="Hi {{ contact.first_name }}")

    staff_client.post(
        reverse("inbox-reply", args=[conversation.pk]),
        {"body": "", "template_id": template.pk, "channel": "email"},
    )

    assert conversation.messages.get(direction="outbound").body == "Hi Ada"


# --- Actions on a thread ------------------------------------------------------------------------


def test_retry_swaps_the_failed_message_for_its_new_state(
    staff_client, workspace_a, django_capture_on_commit_callbacks
):
    conversation = conversation_with_inbound(workspace_a)
    message = failed_outbound(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(
            reverse("inbox-retry", args=[conversation.pk, message.pk]), **HTMX
        )

    page = response.content.decode()
    assert response.status_code == 200
    assert page.startswith(f'<li id="message-{message.pk}"')
    assert 'data-status="queued"' in page
    assert ">Retry</button>" not in page
    message.refresh_from_db()
    assert message.status == "sent"


def test_retrying_a_message_that_has_not_failed_is_a_conflict(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    message = conversation.messages.get()

    response = staff_client.post(reverse("inbox-retry", args=[conversation.pk, message.pk]), **HTMX)

    assert response.status_code == 409


def test_the_automation_toggle_resumes_and_pauses(staff_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    Conversation.objects.filter(pk=conversation.pk).update(automation_paused=True)
    url = reverse("inbox-automation", args=[conversation.pk])

    resumed = staff_client.post(url, {"paused": "0"}, **HTMX)

    assert "Pause automation" in resumed.content.decode()
    conversation.refresh_from_db()
    assert conversation.automation_paused is False

    staff_client.post(url, {"paused": "1"})
    conversation.refresh_from_db()
    assert conversation.automation_paused is True


def test_staff_assign_and_close_a_conversation(staff_client, workspace_a, owner):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_client.post(
        reverse("inbox-update", args=[conversation.pk]),
        {"assigned_to": owner.pk, "status": "closed"},
        **HTMX,
    )

    assert response.status_code == 200
    conversation.refresh_from_db()
    assert (conversation.assigned_to_id, conversation.status) == (owner.pk, "closed")


def test_assigning_to_someone_outside_the_workspace_is_refused(staff_client, workspace_a, outsider):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_client.post(
        reverse("inbox-update", args=[conversation.pk]), {"assigned_to": outsider.pk}, **HTMX
    )

    assert response.status_code == 400
    assert "Choose a member of this workspace." in response.content.decode()
    conversation.refresh_from_db()
    assert conversation.assigned_to_id is None


# --- Tenancy ------------------------------------------------------------------------------------


def test_outsider_gets_404_on_every_inbox_page_and_action(outsider_client, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    message = failed_outbound(conversation)
    pk = conversation.pk
    calls = [
        ("get", reverse("inbox-conversation", args=[pk]), {}),
        ("get", reverse("inbox-messages", args=[pk]), {"after": 0}),
        ("post", reverse("inbox-reply", args=[pk]), {"body": "x"}),
        ("get", reverse("inbox-canned", args=[pk]), {}),
        ("post", reverse("inbox-retry", args=[pk, message.pk]), {}),
        ("post", reverse("inbox-automation", args=[pk]), {"paused": "1"}),
        ("post", reverse("inbox-update", args=[pk]), {"status": "closed"}),
    ]
    for method, url, data in calls:
        response = getattr(outsider_client, method)(url, data)
        assert response.status_code == 404, (method, url)
    conversation.refresh_from_db()
    message.refresh_from_db()
    assert (conversation.status, conversation.unread_count) == ("open", 1)
    assert not conversation.automation_paused
    assert message.status == "failed"

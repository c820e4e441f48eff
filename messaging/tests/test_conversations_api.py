from __future__ import annotations

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from contacts.tests.factories import ContactFactory
from messaging.models import Conversation, Message
from messaging.services import message_receive
from messaging.tests.factories import (
    ConversationFactory,
    MessageFactory,
    MessageTemplateFactory,
    conversation_with_inbound,
    failed_outbound,
)
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/messages/conversations"


def detail(conversation) -> str:
    return f"{LIST}/{conversation.pk}"


# --- The list ---------------------------------------------------------------------------------


def test_the_inbox_lists_conversations_by_last_activity(staff_api, workspace_a):
    now = timezone.now()
    silent = ConversationFactory(contact=ContactFactory(workspace=workspace_a))
    older = ConversationFactory(
        contact=ContactFactory(workspace=workspace_a), last_message_at=now - timedelta(hours=2)
    )
    newer = ConversationFactory(
        contact=ContactFactory(workspace=workspace_a), last_message_at=now - timedelta(minutes=5)
    )

    response = staff_api.get(LIST)

    assert response.status_code == 200
    assert [c["id"] for c in response.json()["results"]] == [newer.pk, older.pk, silent.pk]


def test_each_listed_conversation_shows_contact_preview_channel_and_assignee(
    staff_api, workspace_a, staff
):
    conversation = conversation_with_inbound(
        workspace_a, channel="sms", body="Can I move my appointment?", name="Ada Lovelace"
    )
    Conversation.objects.filter(pk=conversation.pk).update(assigned_to=staff)

    item = staff_api.get(LIST).json()["results"][0]

    assert item["contact"]["name"] == "Ada Lovelace"
    assert set(item["contact"]) == {"id", "name", "email", "phone"}
    assert item["unread_count"] == 1
    assert item["last_message_preview"] == "Can I move my appointment?"
    assert item["last_inbound_channel"] == "sms"
    assert item["assigned_to"] == {"id": staff.pk, "name": staff.name, "email": staff.email}
    assert item["status"] == "open"
    assert item["automation_paused"] is False
    assert item["has_failed"] is False


def test_a_conversation_with_a_failed_outbound_message_is_flagged(staff_api, workspace_a):
    failing = conversation_with_inbound(workspace_a)
    failed_outbound(failing)
    fine = conversation_with_inbound(workspace_a)

    flags = {c["id"]: c["has_failed"] for c in staff_api.get(LIST).json()["results"]}

    assert flags == {failing.pk: True, fine.pk: False}


def test_the_inbox_filters_unread_conversations(staff_api, workspace_a):
    unread = conversation_with_inbound(workspace_a)
    read = conversation_with_inbound(workspace_a)
    Conversation.objects.filter(pk=read.pk).update(unread_count=0)

    response = staff_api.get(LIST, {"unread": "true"})

    assert [c["id"] for c in response.json()["results"]] == [unread.pk]


def test_the_inbox_filters_by_assignee_me_a_user_or_none(staff_api, workspace_a, staff, owner):
    mine = conversation_with_inbound(workspace_a)
    owners = conversation_with_inbound(workspace_a)
    nobodys = conversation_with_inbound(workspace_a)
    Conversation.objects.filter(pk=mine.pk).update(assigned_to=staff)
    Conversation.objects.filter(pk=owners.pk).update(assigned_to=owner)

    def ids(assigned):
        return [c["id"] for c in staff_api.get(LIST, {"assigned": assigned}).json()["results"]]

    assert ids("me") == [mine.pk]
    assert ids(str(owner.pk)) == [owners.pk]
    assert ids("none") == [nobodys.pk]


def test_the_inbox_filters_by_status(staff_api, workspace_a):
    conversation_with_inbound(workspace_a)
    closed = conversation_with_inbound(workspace_a)
    Conversation.objects.filter(pk=closed.pk).update(status="closed")

    response = staff_api.get(LIST, {"status": "closed"})

    assert [c["id"] for c in response.json()["results"]] == [closed.pk]


def test_the_inbox_searches_contact_name_email_and_phone(staff_api, workspace_a):
    ada = conversation_with_inbound(
        workspace_a, name="Ada Lovelace", email="ada@example.org", phone="+447700900111"
    )
    conversation_with_inbound(
        workspace_a, name="Grace Hopper", email="grace@example.org", phone="+447700900222"
    )

    for q in ("lovelace", "ADA@example", "900111"):
        response = staff_api.get(LIST, {"q": q})
        assert [c["id"] for c in response.json()["results"]] == [ada.pk], q


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"unread": "maybe"}, "unread"),
        ({"assigned": "bob"}, "assigned"),
        ({"status": "x"}, "status"),
    ],
)
def test_a_bad_filter_is_a_field_error(staff_api, workspace_a, params, field):
    response = staff_api.get(LIST, params)

    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert field in response.json()["fields"]


@pytest.mark.parametrize("size", [3, 30])
def test_the_conversation_list_runs_a_constant_number_of_queries(
    staff_api, workspace_a, size, django_assert_max_num_queries
):
    for index in range(size):
        conversation = conversation_with_inbound(workspace_a)
        if index % 2:
            failed_outbound(conversation)

    # 3 queries: user (JWT), membership + workspace, page (contact and assignee joined,
    # has_failed an EXISTS subquery; keyset pages count nothing)
    with django_assert_max_num_queries(3):
        response = staff_api.get(LIST)

    assert response.status_code == 200
    assert len(response.json()["results"]) == size


def test_the_inbox_pages_through_every_conversation_once_never_active_ones_last(
    staff_api, workspace_a
):
    now = timezone.now()
    # Two pairs with the same last activity and three conversations without any message.
    times = [now, now - timedelta(hours=1), now - timedelta(hours=1), now, None, None, None]
    conversations = [
        ConversationFactory(contact=ContactFactory(workspace=workspace_a), last_message_at=at)
        for at in times
    ]
    expected = [
        c.pk
        for c in sorted(
            conversations,
            key=lambda c: (c.last_message_at is not None, c.last_message_at or now, c.pk),
            reverse=True,
        )
    ]

    seen, response = [], staff_api.get(LIST, {"page_size": 2})
    while True:
        assert response.status_code == 200
        seen.append([c["id"] for c in response.json()["results"]])
        if response.json()["next"] is None:
            break
        response = staff_api.get(response.json()["next"])

    assert [pk for page in seen for pk in page] == expected
    assert [len(page) for page in seen] == [2, 2, 2, 1]


def test_other_workspaces_conversations_are_not_listed(outsider_api, workspace_a):
    conversation_with_inbound(workspace_a)

    response = outsider_api.get(LIST)

    assert response.status_code == 200
    assert response.json()["results"] == []


# --- One conversation ---------------------------------------------------------------------------


def test_staff_read_one_conversation(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a, name="Ada Lovelace")

    response = staff_api.get(detail(conversation))

    assert response.status_code == 200
    assert response.json()["contact"]["name"] == "Ada Lovelace"


def test_staff_assign_a_conversation_to_a_member_and_close_it(staff_api, workspace_a, owner):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_api.patch(
        detail(conversation), {"assigned_to": owner.pk, "status": "closed"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["assigned_to"]["id"] == owner.pk
    assert response.json()["status"] == "closed"
    conversation.refresh_from_db()
    assert (conversation.assigned_to_id, conversation.status) == (owner.pk, "closed")


def test_a_conversation_can_be_unassigned(staff_api, workspace_a, staff):
    conversation = conversation_with_inbound(workspace_a)
    Conversation.objects.filter(pk=conversation.pk).update(assigned_to=staff)

    response = staff_api.patch(detail(conversation), {"assigned_to": None}, format="json")

    assert response.status_code == 200
    assert response.json()["assigned_to"] is None


def test_assigning_to_someone_outside_the_workspace_is_a_field_error(
    staff_api, workspace_a, outsider
):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_api.patch(detail(conversation), {"assigned_to": outsider.pk}, format="json")

    assert response.status_code == 400
    assert "assigned_to" in response.json()["fields"]
    conversation.refresh_from_db()
    assert conversation.assigned_to_id is None


def test_an_unknown_status_is_a_field_error(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_api.patch(detail(conversation), {"status": "archived"}, format="json")

    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_mark_read_sets_the_unread_count_to_zero(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    message_receive(workspace=workspace_a, contact=conversation.contact, channel="email", body="?")

    response = staff_api.post(f"{detail(conversation)}/mark-read")

    assert response.status_code == 200
    assert response.json()["unread_count"] == 0
    conversation.refresh_from_db()
    assert conversation.unread_count == 0


# --- The thread ---------------------------------------------------------------------------------


def test_the_thread_lists_messages_oldest_first_with_their_sender(staff_api, workspace_a, staff):
    conversation = conversation_with_inbound(workspace_a, body="First")
    MessageFactory(
        conversation=conversation,
        direction="outbound",
        status="sent",
        sender_kind="staff",
        sender_user=staff,
        body="Second",
    )
    MessageFactory(
        conversation=conversation,
        direction="outbound",
        status="delivered",
        sender_kind="automation",
        sender_reference="rule:7",
        body="Third",
    )

    response = staff_api.get(f"{detail(conversation)}/messages")

    assert response.status_code == 200
    results = response.json()["results"]
    assert [m["body"] for m in results] == ["First", "Second", "Third"]
    assert results[0]["sender"] == {"kind": "contact", "user": None, "reference": ""}
    assert results[1]["sender"] == {"kind": "staff", "user": staff.name, "reference": ""}
    assert results[2]["sender"] == {"kind": "automation", "user": None, "reference": "rule:7"}
    assert set(results[0]) >= {
        "id",
        "direction",
        "channel",
        "status",
        "subject",
        "provider",
        "error",
        "attempts",
        "created_at",
        "sent_at",
        "delivered_at",
        "failed_at",
    }


def test_the_thread_after_a_message_id_returns_only_newer_ones(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a, body="Old")
    seen = conversation.messages.get()
    message_receive(
        workspace=workspace_a, contact=conversation.contact, channel="email", body="New"
    )

    response = staff_api.get(f"{detail(conversation)}/messages", {"after": seen.pk})

    assert [m["body"] for m in response.json()["results"]] == ["New"]


@pytest.mark.parametrize("size", [3, 30])
def test_the_thread_runs_a_constant_number_of_queries(
    staff_api, workspace_a, staff, size, django_assert_max_num_queries
):
    conversation = conversation_with_inbound(workspace_a)
    MessageFactory.create_batch(
        size,
        conversation=conversation,
        direction="outbound",
        status="sent",
        sender_kind="staff",
        sender_user=staff,
    )

    # 4 queries: user (JWT), membership + workspace, conversation, page (sender joined; keyset
    # pages count nothing)
    with django_assert_max_num_queries(4):
        response = staff_api.get(f"{detail(conversation)}/messages")

    assert response.status_code == 200
    assert len(response.json()["results"]) == size + 1


def test_the_thread_pages_oldest_first_through_every_message_once(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a, body="m0")
    for n in range(1, 5):
        MessageFactory(conversation=conversation, body=f"m{n}")

    first = staff_api.get(f"{detail(conversation)}/messages", {"page_size": 2})
    second = staff_api.get(first.json()["next"])
    third = staff_api.get(second.json()["next"])
    back = staff_api.get(third.json()["previous"])

    assert [m["body"] for m in first.json()["results"]] == ["m0", "m1"]
    assert [m["body"] for m in second.json()["results"]] == ["m2", "m3"]
    assert [m["body"] for m in third.json()["results"]] == ["m4"]
    assert third.json()["next"] is None
    assert [m["body"] for m in back.json()["results"]] == ["m2", "m3"]


# --- Replies ------------------------------------------------------------------------------------


def test_staff_reply_by_email_is_sent(
    staff_api, workspace_a, staff, django_capture_on_commit_callbacks
):
    conversation = conversation_with_inbound(workspace_a, email="ada@example.org")

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(
            f"{detail(conversation)}/messages",
            {"body": "See you on Tuesday.", "subject": "Your visit"},
            format="json",
        )

    assert response.status_code == 201
    body = response.json()
    assert (body["direction"], body["channel"], body["status"]) == ("outbound", "email", "queued")
    assert body["sender"]["user"] == staff.name
    assert Message.objects.get(pk=body["id"]).status == "sent"
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ada@example.org"]
    assert mail.outbox[0].subject == "Your visit"
    assert "See you on Tuesday." in mail.outbox[0].body


def test_a_reply_goes_on_the_channel_the_contact_last_wrote_on(
    staff_api, workspace_a, django_capture_on_commit_callbacks
):
    # No SMS consent on file, but texting in is consent to be answered by text.
    conversation = conversation_with_inbound(workspace_a, channel="sms", sms_consent=False)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(
            f"{detail(conversation)}/messages", {"body": "Yes"}, format="json"
        )

    assert response.status_code == 201
    assert response.json()["channel"] == "sms"
    message = Message.objects.get(pk=response.json()["id"])
    assert (message.status, message.to_address) == ("sent", conversation.contact.phone)
    assert mail.outbox == []


def test_a_reply_falls_back_to_email_when_sms_is_not_consented(staff_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a, sms_consent=False)
    conversation = ConversationFactory(contact=contact, last_inbound_channel="")

    response = staff_api.post(f"{detail(conversation)}/messages", {"body": "Hi"}, format="json")

    assert response.status_code == 201
    assert response.json()["channel"] == "email"


def test_a_reply_to_a_contact_with_no_reachable_channel_is_a_field_error(staff_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="", phone="+447700900999")
    conversation = ConversationFactory(contact=contact)  # a phone number but no SMS consent

    response = staff_api.post(f"{detail(conversation)}/messages", {"body": "Hi"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "no_channel"
    assert "channel" in response.json()["fields"]
    assert not Message.objects.filter(conversation=conversation).exists()


def test_a_requested_channel_the_contact_cannot_receive_is_a_field_error(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a, sms_consent=False)

    response = staff_api.post(
        f"{detail(conversation)}/messages", {"body": "Hi", "channel": "sms"}, format="json"
    )

    assert response.status_code == 400
    assert "channel" in response.json()["fields"]


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"body": "   "}, "body"), ({}, "body"), ({"body": "Hi", "channel": "fax"}, "channel")],
)
def test_a_bad_reply_is_a_field_error(staff_api, workspace_a, payload, field):
    conversation = conversation_with_inbound(workspace_a)

    response = staff_api.post(f"{detail(conversation)}/messages", payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["fields"]


def test_a_canned_reply_is_rendered_for_the_contact_and_sent(staff_api, workspace_a, staff):
    conversation = conversation_with_inbound(workspace_a, name="Ada Lovelace")
    template = MessageTemplateFactory(
        workspace=workspace_a,
        subject="From {{ workspace.name }}",
        body="Hello {{ contact.first_name }}, {{ staff.first_name }} here.",
    )

    response = staff_api.post(
        f"{detail(conversation)}/messages", {"template_id": template.pk}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["subject"] == "From Alpha Clinic"
    first_name = staff.name.split()[0]
    assert response.json()["body"] == f"Hello Ada, {first_name} here."


def test_a_canned_reply_of_another_workspace_is_a_field_error(staff_api, workspace_a, workspace_b):
    conversation = conversation_with_inbound(workspace_a)
    theirs = MessageTemplateFactory(workspace=workspace_b)

    response = staff_api.post(
        f"{detail(conversation)}/messages", {"template_id": theirs.pk}, format="json"
    )

    assert response.status_code == 400
    assert "template_id" in response.json()["fields"]
    assert not conversation.messages.filter(direction="outbound").exists()


def test_staff_reply_pauses_automation(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a)

    staff_api.post(f"{detail(conversation)}/messages", {"body": "I'll take it"}, format="json")

    conversation.refresh_from_db()
    assert conversation.automation_paused is True
    assert conversation.automation_paused_at is not None
    assert staff_api.get(detail(conversation)).json()["automation_paused"] is True


def test_automation_can_be_resumed_and_paused_again(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    staff_api.post(f"{detail(conversation)}/messages", {"body": "Taken"}, format="json")

    resumed = staff_api.post(f"{detail(conversation)}/resume-automation")
    assert resumed.status_code == 200
    assert resumed.json()["automation_paused"] is False
    conversation.refresh_from_db()
    assert conversation.automation_paused is False

    paused = staff_api.post(f"{detail(conversation)}/pause-automation")
    assert paused.status_code == 200
    assert paused.json()["automation_paused"] is True


# --- Retry --------------------------------------------------------------------------------------


def test_retrying_a_failed_message_sends_it_again(
    staff_api, workspace_a, django_capture_on_commit_callbacks
):
    conversation = conversation_with_inbound(workspace_a, email="ada@example.org")
    message = failed_outbound(conversation)

    with django_capture_on_commit_callbacks(execute=True):
        response = staff_api.post(f"{detail(conversation)}/messages/{message.pk}/retry")

    assert response.status_code == 200
    assert response.json()["status"] == "queued"
    assert response.json()["error"] == ""
    message.refresh_from_db()
    assert message.status == "sent"
    assert mail.outbox[0].to == ["ada@example.org"]


@pytest.mark.parametrize("direction_status", [("outbound", "sent"), ("inbound", "received")])
def test_retrying_a_message_that_has_not_failed_is_a_conflict(
    staff_api, workspace_a, direction_status
):
    direction, status = direction_status
    conversation = conversation_with_inbound(workspace_a)
    message = MessageFactory(
        conversation=conversation,
        direction=direction,
        status=status,
        sender_kind="staff" if direction == "outbound" else "contact",
    )

    response = staff_api.post(f"{detail(conversation)}/messages/{message.pk}/retry")

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"


def test_retrying_a_message_of_another_conversation_is_not_found(staff_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    other = failed_outbound(conversation_with_inbound(workspace_a))

    response = staff_api.post(f"{detail(conversation)}/messages/{other.pk}/retry")

    assert response.status_code == 404


# --- Tenancy ------------------------------------------------------------------------------------


def test_outsider_gets_404_on_every_conversation_endpoint(outsider_api, workspace_a):
    conversation = conversation_with_inbound(workspace_a)
    message = failed_outbound(conversation)
    url = detail(conversation)
    calls = [
        ("get", url),
        ("patch", url),
        ("get", f"{url}/messages"),
        ("post", f"{url}/messages"),
        ("post", f"{url}/mark-read"),
        ("post", f"{url}/pause-automation"),
        ("post", f"{url}/resume-automation"),
        ("post", f"{url}/messages/{message.pk}/retry"),
    ]
    for method, path in calls:
        response = getattr(outsider_api, method)(path, {"body": "x"}, format="json")
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "not_found"
    message.refresh_from_db()
    conversation.refresh_from_db()
    assert message.status == "failed"
    assert conversation.unread_count == 1
    assert not conversation.messages.filter(body="x").exists()


def test_a_member_of_both_workspaces_names_the_workspace_in_the_header(
    workspace_a, workspace_b, outsider
):
    from conftest import api_client_for

    conversation = conversation_with_inbound(workspace_a)
    MembershipFactory(user=outsider, workspace=workspace_a)
    client = api_client_for(outsider)

    in_b = client.get(detail(conversation), headers={"X-Workspace-ID": str(workspace_b.pk)})
    in_a = client.get(detail(conversation), headers={"X-Workspace-ID": str(workspace_a.pk)})

    assert in_b.status_code == 404
    assert in_a.status_code == 200

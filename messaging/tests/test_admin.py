from __future__ import annotations

import pytest
from django.urls import reverse

from contacts.tests.factories import ContactFactory
from messaging.models import Message
from messaging.tests.factories import (
    ConversationFactory,
    IntegrationFactory,
    MessageFactory,
    MessageTemplateFactory,
)
from workspaces.models import User
from workspaces.tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = ["conversation", "message", "integration", "messagetemplate"]
SECRET = "sk_live_very-secret-api-key-1234"


@pytest.fixture
def support(client):
    admin = User.objects.create_superuser("support@careops.test", "support-passphrase-1")
    client.force_login(admin)
    return client


def failed_message(**kwargs) -> Message:
    return MessageFactory(
        direction="outbound",
        status="failed",
        sender_kind="staff",
        to_address="client@example.org",
        error="smtp: 421 try later",
        attempts=1,
        **kwargs,
    )


@pytest.mark.parametrize("model", CHANGELISTS)
def test_each_changelist_loads_in_a_constant_number_of_queries(
    support, model, django_assert_max_num_queries
):
    for _ in range(15):
        workspace = WorkspaceFactory()
        conversation = ConversationFactory(contact=ContactFactory(workspace=workspace))
        MessageFactory(conversation=conversation)
        failed_message(conversation=conversation)
        IntegrationFactory(workspace=workspace, credentials={"api_key": SECRET})
        MessageTemplateFactory(workspace=workspace)

    # session, user, count, filtered count, page (related rows joined), the date hierarchy,
    # and the choices of the filters on free-text columns (provider)
    with django_assert_max_num_queries(9):
        response = support.get(reverse(f"admin:messaging_{model}_changelist"))

    assert response.status_code == 200


def test_support_finds_a_conversation_by_the_contacts_email(support, workspace_a):
    conversation = ConversationFactory(
        contact=ContactFactory(workspace=workspace_a, email="findme@example.org")
    )
    ConversationFactory(contact=ContactFactory(workspace=workspace_a, email="other@example.org"))

    response = support.get(
        reverse("admin:messaging_conversation_changelist"), {"q": "findme@example"}
    )

    assert [c.pk for c in response.context["cl"].result_list] == [conversation.pk]
    page = response.content.decode()
    assert reverse("admin:messaging_conversation_change", args=[conversation.pk]) in page


def test_the_conversation_page_shows_its_messages_read_only(support, workspace_a):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))
    MessageFactory(conversation=conversation, body="Is parking available?")

    response = support.get(reverse("admin:messaging_conversation_change", args=[conversation.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert "Is parking available?" in page
    assert 'name="messages-0-body"' not in page  # shown, not editable


def test_support_finds_a_message_by_the_providers_message_id(support, workspace_a):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))
    MessageFactory(conversation=conversation, provider="postmark", provider_message_id="pm-42")
    other = MessageFactory(conversation=conversation, provider="postmark", provider_message_id="x")

    response = support.get(reverse("admin:messaging_message_changelist"), {"q": "pm-42"})

    assert response.context["cl"].result_count == 1
    assert other.pk not in [m.pk for m in response.context["cl"].result_list]


def test_the_retry_action_queues_failed_messages_again(
    support, workspace_a, django_capture_on_commit_callbacks
):
    conversation = ConversationFactory(contact=ContactFactory(workspace=workspace_a))
    failed = failed_message(conversation=conversation)
    sent = MessageFactory(
        conversation=conversation, direction="outbound", status="sent", sender_kind="staff"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = support.post(
            reverse("admin:messaging_message_changelist"),
            {"action": "retry_failed", "_selected_action": [failed.pk, sent.pk]},
            follow=True,
        )

    page = response.content.decode()
    assert "1 message(s) queued again." in page
    assert "1 message(s) skipped" in page
    failed.refresh_from_db()
    sent.refresh_from_db()
    assert failed.status == "sent"  # delivered through the platform default
    assert failed.error == ""
    assert sent.status == "sent"


def test_the_integration_page_never_shows_the_credentials(support, workspace_a):
    integration = IntegrationFactory(
        workspace=workspace_a,
        provider="postmark",
        credentials={"server_token": SECRET},
        last_error="401 from Postmark",
    )

    response = support.get(reverse("admin:messaging_integration_change", args=[integration.pk]))

    page = response.content.decode()
    assert response.status_code == 200
    assert SECRET not in page
    assert "very-secret" not in page
    assert "server_token: ••••••••1234" in page
    assert integration.webhook_key not in page
    assert 'name="credentials"' not in page
    assert "401 from Postmark" in page


def test_saving_an_integration_in_the_admin_keeps_its_credentials(support, workspace_a):
    integration = IntegrationFactory(workspace=workspace_a, credentials={"server_token": SECRET})
    url = reverse("admin:messaging_integration_change", args=[integration.pk])

    response = support.post(
        url,
        {
            "channel": "email",
            "provider": integration.provider,
            "priority": integration.priority,
            "is_active": "",
            "from_address": "new@example.com",
        },
    )

    assert response.status_code == 302
    integration.refresh_from_db()
    assert integration.credentials == {"server_token": SECRET}
    assert (integration.is_active, integration.from_address) == (False, "new@example.com")


def test_the_integration_list_never_shows_the_credentials(support, workspace_a):
    IntegrationFactory(workspace=workspace_a, credentials={"server_token": SECRET})

    response = support.get(reverse("admin:messaging_integration_changelist"))

    assert SECRET not in response.content.decode()


def test_support_cannot_add_workspace_rows_from_the_back_office(support):
    for model in CHANGELISTS:
        response = support.get(reverse(f"admin:messaging_{model}_add"))
        assert response.status_code == 403, model

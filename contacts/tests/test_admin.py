from __future__ import annotations

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from contacts.models import Contact, ContactMerge
from contacts.services import contact_merge
from contacts.tests.factories import ContactFactory, TagFactory
from messaging.tests.factories import MessageFactory
from workspaces.models import User
from workspaces.tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

CHANGELISTS = ["contact", "tag", "contactmerge"]


@pytest.fixture
def support_user():
    return User.objects.create_superuser("support@careops.test", "support-passphrase-1")


@pytest.fixture
def support(client, support_user):
    client.force_login(support_user)
    return client


def merge_action(support, *contacts):
    return support.post(
        reverse("admin:contacts_contact_changelist"),
        {"action": "merge_selected", "_selected_action": [c.pk for c in contacts]},
        follow=True,
    )


def said(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("model", CHANGELISTS)
def test_each_changelist_loads_in_a_constant_number_of_queries(
    support, support_user, model, django_assert_max_num_queries
):
    for _ in range(3):
        workspace = WorkspaceFactory()
        tags = TagFactory.create_batch(2, workspace=workspace)
        for _ in range(5):
            ContactFactory(workspace=workspace).tags.add(*tags)
        survivor, merged = ContactFactory.create_batch(2, workspace=workspace)
        contact_merge(survivor=survivor, merged=merged, actor=support_user)

    # session, user, workspace filter choices, count, filtered count, page (workspace,
    # survivor, actor joined), and for contacts the date hierarchy's bounds and days
    with django_assert_max_num_queries(8):
        response = support.get(reverse(f"admin:contacts_{model}_changelist"))

    assert response.status_code == 200


def test_support_finds_a_contact_by_phone(support, workspace_a):
    contact = ContactFactory(workspace=workspace_a, name="Ann Lee", phone="+447700900555")
    ContactFactory(workspace=workspace_a, name="Bo Other")

    response = support.get(reverse("admin:contacts_contact_changelist"), {"q": "900555"})

    assert contact.name in response.content.decode()
    assert "Bo Other" not in response.content.decode()


def test_the_contact_page_offers_only_its_workspaces_tags(support, workspace_a, workspace_b):
    contact = ContactFactory(workspace=workspace_a)
    TagFactory(workspace=workspace_a, name="alpha-tag")
    TagFactory(workspace=workspace_b, name="bravo-tag")

    response = support.get(reverse("admin:contacts_contact_change", args=[contact.pk]))

    assert response.status_code == 200
    assert "alpha-tag" in response.content.decode()
    assert "bravo-tag" not in response.content.decode()


def test_support_cannot_give_a_contact_another_contacts_email(support, workspace_a):
    ContactFactory(workspace=workspace_a, email="taken@example.org")
    contact = ContactFactory(workspace=workspace_a, email="ann@example.org", phone="")

    response = support.post(
        reverse("admin:contacts_contact_change", args=[contact.pk]),
        {
            "name": contact.name,
            "email": "TAKEN@example.org",
            "phone": "",
            "notes": "",
            "custom_fields": "{}",
        },
    )

    assert response.status_code == 200  # the form again, with the error
    assert "already has this" in response.content.decode()
    contact.refresh_from_db()
    assert contact.email == "ann@example.org"


def test_support_corrects_an_email_and_it_is_stored_normalized(support, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="ann@example.org", phone="")

    response = support.post(
        reverse("admin:contacts_contact_change", args=[contact.pk]),
        {
            "name": "Ann",
            "email": " Ann.Lee@Example.org ",
            "phone": "07700 900123",
            "notes": "",
            "custom_fields": "{}",
        },
    )

    assert response.status_code == 302
    contact.refresh_from_db()
    assert (contact.email, contact.phone) == ("ann.lee@example.org", "+447700900123")


def test_the_merge_action_folds_the_newer_contact_into_the_older(
    support, support_user, workspace_a
):
    older = ContactFactory(workspace=workspace_a, phone="")
    newer = ContactFactory(workspace=workspace_a, phone="+447700900321")
    message = MessageFactory(conversation__contact=newer)

    response = merge_action(support, newer, older)

    assert response.status_code == 200
    assert said(response) == [f"Merged #{newer.pk} into {older} (#{older.pk})."]
    assert not Contact.objects.filter(pk=newer.pk).exists()
    message.refresh_from_db()
    assert message.conversation.contact_id == older.pk
    record = ContactMerge.objects.get()
    assert (record.survivor_id, record.actor) == (older.pk, support_user)
    older.refresh_from_db()
    assert older.phone == "+447700900321"


def test_the_merge_action_needs_exactly_two_contacts(support, workspace_a):
    contacts = ContactFactory.create_batch(3, workspace=workspace_a)

    response = merge_action(support, *contacts)

    assert said(response) == ["Select exactly two contacts to merge."]
    assert Contact.objects.count() == 3


def test_the_merge_action_refuses_contacts_of_two_workspaces(support, workspace_a, workspace_b):
    ours, theirs = ContactFactory(workspace=workspace_a), ContactFactory(workspace=workspace_b)

    response = merge_action(support, ours, theirs)

    assert said(response) == ["These contacts belong to different workspaces and cannot be merged."]
    assert Contact.objects.count() == 2
    assert not ContactMerge.objects.exists()


def test_merge_records_are_read_only(support, support_user, workspace_a):
    survivor, merged = ContactFactory.create_batch(2, workspace=workspace_a)
    record = contact_merge(survivor=survivor, merged=merged, actor=support_user)

    page = support.get(reverse("admin:contacts_contactmerge_change", args=[record.pk]))
    post = support.post(reverse("admin:contacts_contactmerge_change", args=[record.pk]), {})

    assert page.status_code == 200
    assert post.status_code == 403
    assert support.get(reverse("admin:contacts_contactmerge_add")).status_code == 403

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from careops.errors import InvalidInput, NotFound
from contacts.models import Contact, ContactMerge
from contacts.services import contact_merge
from contacts.tests.factories import ContactFactory, TagFactory
from messaging.models import Conversation, Message
from messaging.services import message_receive
from messaging.tests.factories import MessageFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(workspace_a):
    survivor = ContactFactory(
        workspace=workspace_a,
        name="Ann Lee",
        email="ann@example.org",
        phone="",
        notes="Prefers mornings.",
        custom_fields={"allergy": "latex", "colour": "red"},
    )
    merged = ContactFactory(
        workspace=workspace_a,
        name="Annie",
        email="annie@work.example",
        phone="+447700900123",
        notes="Called about prices.",
        custom_fields={"colour": "blue", "referral": "Bo"},
    )
    return survivor, merged


def test_merge_moves_the_conversation_and_its_messages_to_the_survivor(pair, workspace_a, owner):
    survivor, merged = pair
    mine, _ = message_receive(workspace=workspace_a, contact=survivor, channel="email", body="a")
    theirs, _ = message_receive(workspace=workspace_a, contact=merged, channel="sms", body="b")
    message_receive(workspace=workspace_a, contact=merged, channel="sms", body="c")

    record = contact_merge(survivor=survivor, merged=merged, actor=owner)

    conversation = Conversation.objects.get(contact=survivor)
    assert Conversation.objects.for_workspace(workspace_a).count() == 1
    assert set(conversation.messages.values_list("body", flat=True)) == {"a", "b", "c"}
    assert conversation.unread_count == 3
    assert record.moved["messages"] == 2
    assert not Contact.objects.filter(pk=merged.pk).exists()
    assert Message.objects.filter(pk__in=[mine.pk, theirs.pk]).count() == 2


def test_merge_hands_over_the_merged_contacts_conversation_when_the_survivor_has_none(pair, owner):
    survivor, merged = pair
    message = MessageFactory(conversation__contact=merged)

    contact_merge(survivor=survivor, merged=merged, actor=owner)

    message.refresh_from_db()
    assert message.conversation.contact_id == survivor.pk


def test_merge_unions_tags_and_records_a_snapshot_of_the_merged_contact(pair, workspace_a, owner):
    survivor, merged = pair
    vip, new = TagFactory(workspace=workspace_a, name="VIP"), TagFactory(workspace=workspace_a)
    survivor.tags.add(vip)
    merged.tags.add(vip, new)
    merged_pk = merged.pk

    record = contact_merge(survivor=survivor, merged=merged, actor=owner)

    assert set(survivor.tags.all()) == {vip, new}
    stored = ContactMerge.objects.get(survivor=survivor)
    assert stored == record
    assert (stored.merged_contact_id, stored.actor, stored.workspace_id) == (
        merged_pk,
        owner,
        workspace_a.pk,
    )
    assert stored.merged_snapshot["email"] == "annie@work.example"
    assert stored.merged_snapshot["name"] == "Annie"
    assert stored.merged_snapshot["tags"] == sorted([vip.name, new.name])
    assert stored.moved["tags"] == 2


def test_the_survivor_keeps_its_values_and_fills_its_blanks_from_the_merged_contact(pair, owner):
    survivor, merged = pair

    contact_merge(survivor=survivor, merged=merged, actor=owner)

    survivor.refresh_from_db()
    assert survivor.name == "Ann Lee"
    assert survivor.email == "ann@example.org"
    assert survivor.phone == "+447700900123"  # was blank: the merged contact's phone moved
    assert survivor.notes == "Prefers mornings.\n\nCalled about prices."
    assert survivor.custom_fields == {
        "allergy": "latex",
        "colour": "red",
        "referral": "Bo",
        "merged_emails": ["annie@work.example"],
    }


def test_a_differing_email_and_phone_are_kept_in_merged_lists(workspace_a, owner):
    survivor = ContactFactory(
        workspace=workspace_a,
        email="a@example.org",
        phone="+447700900001",
        custom_fields={"merged_emails": ["old@example.org"]},
    )
    merged = ContactFactory(workspace=workspace_a, email="b@example.org", phone="+447700900002")

    contact_merge(survivor=survivor, merged=merged, actor=owner)

    survivor.refresh_from_db()
    assert (survivor.email, survivor.phone) == ("a@example.org", "+447700900001")
    assert survivor.custom_fields["merged_emails"] == ["old@example.org", "b@example.org"]
    assert survivor.custom_fields["merged_phones"] == ["+447700900002"]


def test_consent_given_on_either_side_stays_given(pair, owner):
    survivor, merged = pair
    given = timezone.now() - timedelta(days=3)
    Contact.objects.filter(pk=merged.pk).update(
        sms_consent=True, sms_consent_at=given, sms_consent_source="contact_form"
    )
    Contact.objects.filter(pk=survivor.pk).update(email_consent=True)

    contact_merge(survivor=survivor, merged=merged, actor=owner)

    survivor.refresh_from_db()
    assert survivor.email_consent is True
    assert (survivor.sms_consent, survivor.sms_consent_at, survivor.sms_consent_source) == (
        True,
        given,
        "contact_form",
    )


def test_earlier_merges_into_the_merged_contact_stay_in_the_history(pair, workspace_a, owner):
    survivor, merged = pair
    first = ContactFactory(workspace=workspace_a)
    contact_merge(survivor=merged, merged=first, actor=owner)

    contact_merge(survivor=survivor, merged=merged, actor=owner)

    assert ContactMerge.objects.filter(survivor=survivor).count() == 2


def test_a_contact_cannot_be_merged_with_itself(pair, owner):
    survivor, _ = pair

    with pytest.raises(InvalidInput):
        contact_merge(survivor=survivor, merged=survivor, actor=owner)

    assert Contact.objects.filter(pk=survivor.pk).exists()


def test_contacts_of_two_workspaces_cannot_be_merged(pair, workspace_b, owner):
    survivor, _ = pair
    foreign = ContactFactory(workspace=workspace_b)

    with pytest.raises(NotFound):
        contact_merge(survivor=survivor, merged=foreign, actor=owner)

    assert Contact.objects.filter(pk=foreign.pk).exists()
    assert not ContactMerge.objects.exists()


def test_merging_a_contact_already_merged_away_is_not_found(pair, workspace_a, owner):
    survivor, merged = pair
    third = ContactFactory(workspace=workspace_a)
    contact_merge(survivor=survivor, merged=merged, actor=owner)

    with pytest.raises(NotFound):
        contact_merge(survivor=third, merged=merged, actor=owner)

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from careops.errors import InvalidInput
from contacts.models import Contact, Tag
from contacts.services import (
    contact_create,
    contact_form_submit,
    contact_update,
    contact_upsert,
)
from contacts.tests.factories import ContactFactory, TagFactory

# Clients reach a workspace through its public pages only once it is live.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_workspace_a")]


# --- Deduplication of public submissions ------------------------------------------------------


def test_a_submission_with_a_known_email_updates_that_contact_instead_of_adding_one(
    workspace_a,
):
    known = ContactFactory(workspace=workspace_a, name="", email="ann@example.org", phone="")

    contact, created = contact_upsert(
        workspace=workspace_a,
        email=" Ann@Example.ORG ",
        phone="+44 7700 900123",
        name="Ann Lee",
        source=Contact.Source.CONTACT_FORM,
    )

    assert (contact.pk, created) == (known.pk, False)
    known.refresh_from_db()
    assert (known.name, known.phone) == ("Ann Lee", "+447700900123")
    assert Contact.objects.for_workspace(workspace_a).count() == 1


def test_a_submission_with_a_known_phone_updates_that_contact(workspace_a):
    known = ContactFactory(workspace=workspace_a, email="", phone="+447700900123")

    contact, created = contact_upsert(
        workspace=workspace_a, email="new@example.org", phone="07700 900123"
    )

    assert (contact.pk, created) == (known.pk, False)
    known.refresh_from_db()
    assert known.email == "new@example.org"


def test_a_submission_never_overwrites_what_staff_entered(workspace_a):
    known = ContactFactory(workspace=workspace_a, name="Dr. Ann Lee", email="ann@example.org")

    contact_upsert(workspace=workspace_a, email="ann@example.org", name="annie")

    known.refresh_from_db()
    assert known.name == "Dr. Ann Lee"


def test_an_email_of_one_contact_and_a_phone_of_another_updates_the_first_and_merges_nothing(
    workspace_a,
):
    by_email = ContactFactory(workspace=workspace_a, email="ann@example.org", phone="")
    by_phone = ContactFactory(workspace=workspace_a, email="", phone="+447700900123")

    contact, created = contact_upsert(
        workspace=workspace_a, email="ann@example.org", phone="+447700900123", name="Ann"
    )

    assert (contact.pk, created) == (by_email.pk, False)
    by_email.refresh_from_db()
    by_phone.refresh_from_db()
    assert by_email.phone == ""  # the phone is someone else's: left where it is
    assert by_phone.email == ""
    assert Contact.objects.for_workspace(workspace_a).count() == 2


def test_the_same_email_in_another_workspace_is_another_contact(workspace_a, workspace_b):
    ContactFactory(workspace=workspace_b, email="ann@example.org")

    _, created = contact_upsert(workspace=workspace_a, email="ann@example.org")

    assert created


def test_the_contact_form_records_consent_given_on_it(workspace_a):
    moment = timezone.now()
    with time_machine.travel(moment, tick=False):
        contact = contact_form_submit(
            workspace=workspace_a,
            message="Do you open on Sundays?",
            email="ann@example.org",
            sms_consent=True,
        )

    assert (contact.source, contact.sms_consent, contact.email_consent) == (
        "contact_form",
        True,
        False,
    )
    assert (contact.sms_consent_at, contact.sms_consent_source) == (moment, "contact_form")


def test_the_contact_form_needs_a_message_and_a_way_to_answer(workspace_a):
    with pytest.raises(InvalidInput) as no_message:
        contact_form_submit(workspace=workspace_a, message=" ", email="ann@example.org")
    with pytest.raises(InvalidInput) as no_address:
        contact_form_submit(workspace=workspace_a, message="Hello", name="Ann")

    assert set(no_message.value.fields) == {"message"}
    assert set(no_address.value.fields) == {"email"}
    assert not Contact.objects.exists()


# --- Manual create ----------------------------------------------------------------------------


def test_staff_add_a_contact_with_normalized_email_and_phone_tags_and_consent(workspace_a, staff):
    contact = contact_create(
        workspace=workspace_a,
        actor=staff,
        name=" Ann Lee ",
        email="ANN@example.org",
        phone="07700 900123",
        tags=["VIP", "new client"],
        custom_fields={"allergy": "latex"},
        email_consent=True,
    )

    contact.refresh_from_db()
    assert (contact.name, contact.email, contact.phone, contact.source) == (
        "Ann Lee",
        "ann@example.org",
        "+447700900123",
        "manual",
    )
    assert sorted(t.name for t in contact.tags.all()) == ["VIP", "new client"]
    assert contact.custom_fields == {"allergy": "latex"}
    assert (contact.email_consent, contact.email_consent_source) == (True, "staff")
    assert contact.email_consent_at is not None
    assert (contact.sms_consent, contact.sms_consent_at) == (False, None)


def test_adding_a_contact_whose_email_exists_is_refused_naming_the_existing_contact(
    workspace_a, staff
):
    existing = ContactFactory(workspace=workspace_a, email="ann@example.org")

    with pytest.raises(InvalidInput) as refused:
        contact_create(workspace=workspace_a, actor=staff, email="Ann@example.org")

    assert set(refused.value.fields) == {"email"}
    assert f"#{existing.pk}" in refused.value.fields["email"][0]
    assert refused.value.extra == {"existing_id": existing.pk}
    assert Contact.objects.count() == 1


def test_adding_a_contact_whose_phone_exists_is_refused(workspace_a, staff):
    existing = ContactFactory(workspace=workspace_a, phone="+447700900123")

    with pytest.raises(InvalidInput) as refused:
        contact_create(workspace=workspace_a, actor=staff, name="Bo", phone="07700900123")

    assert set(refused.value.fields) == {"phone"}
    assert refused.value.extra == {"existing_id": existing.pk}


def test_a_contact_needs_a_name_an_email_or_a_phone(workspace_a, staff):
    with pytest.raises(InvalidInput) as refused:
        contact_create(workspace=workspace_a, actor=staff, notes="who?")

    assert set(refused.value.fields) == {"name"}


def test_bad_email_and_phone_are_both_named(workspace_a, staff):
    with pytest.raises(InvalidInput) as refused:
        contact_create(workspace=workspace_a, actor=staff, email="ann@", phone="12")

    assert set(refused.value.fields) == {"email", "phone"}


@pytest.mark.parametrize(
    "custom_fields",
    [
        {"nested": {"a": 1}},
        {"": "blank name"},
        {f"k{i}": i for i in range(51)},
        {"list": [{"a": 1}]},
    ],
)
def test_custom_fields_must_be_a_flat_object_of_scalars(workspace_a, staff, custom_fields):
    with pytest.raises(InvalidInput) as refused:
        contact_create(workspace=workspace_a, actor=staff, name="Ann", custom_fields=custom_fields)

    assert set(refused.value.fields) == {"custom_fields"}


# --- Update -----------------------------------------------------------------------------------


def test_update_normalizes_email_and_phone(workspace_a, staff):
    contact = ContactFactory(workspace=workspace_a)

    contact_update(contact=contact, actor=staff, email=" NEW@Example.org", phone="07700 900999")

    contact.refresh_from_db()
    assert (contact.email, contact.phone) == ("new@example.org", "+447700900999")


def test_update_refuses_an_email_another_contact_has_and_changes_nothing(workspace_a, staff):
    other = ContactFactory(workspace=workspace_a, email="taken@example.org")
    contact = ContactFactory(workspace=workspace_a, name="Ann", email="ann@example.org")

    with pytest.raises(InvalidInput) as refused:
        contact_update(contact=contact, actor=staff, name="Annie", email="TAKEN@example.org")

    assert set(refused.value.fields) == {"email"}
    assert refused.value.extra == {"existing_id": other.pk}
    assert (contact.name, contact.email) == ("Ann", "ann@example.org")
    contact.refresh_from_db()
    assert (contact.name, contact.email) == ("Ann", "ann@example.org")


def test_update_replaces_tags_and_custom_fields(workspace_a, staff):
    contact = ContactFactory(workspace=workspace_a, custom_fields={"old": 1})
    contact.tags.add(TagFactory(workspace=workspace_a, name="old"))
    TagFactory(workspace=workspace_a, name="VIP")

    contact_update(contact=contact, actor=staff, tags=["vip", "New"], custom_fields={"a": "b"})

    contact.refresh_from_db()
    assert sorted(t.name for t in contact.tags.all()) == ["New", "VIP"]
    assert contact.custom_fields == {"a": "b"}
    assert Tag.objects.for_workspace(workspace_a).count() == 3  # "vip" reused "VIP"


def test_turning_consent_on_records_staff_and_now_and_off_clears_it(workspace_a, staff):
    contact = ContactFactory(workspace=workspace_a)
    moment = timezone.now()

    with time_machine.travel(moment, tick=False):
        contact_update(contact=contact, actor=staff, sms_consent=True)
    contact.refresh_from_db()
    assert (contact.sms_consent, contact.sms_consent_at, contact.sms_consent_source) == (
        True,
        moment,
        "staff",
    )

    contact_update(contact=contact, actor=staff, sms_consent=False)
    contact.refresh_from_db()
    assert (contact.sms_consent, contact.sms_consent_at, contact.sms_consent_source) == (
        False,
        None,
        "",
    )


def test_consent_already_given_keeps_its_original_record(workspace_a, staff):
    given = timezone.now() - timedelta(days=30)
    contact = ContactFactory(
        workspace=workspace_a,
        email_consent=True,
        email_consent_at=given,
        email_consent_source="contact_form",
    )

    contact_update(contact=contact, actor=staff, email_consent=True)

    contact.refresh_from_db()
    assert (contact.email_consent_at, contact.email_consent_source) == (given, "contact_form")


def test_a_contact_must_keep_a_name_email_or_phone(workspace_a, staff):
    contact = ContactFactory(workspace=workspace_a, name="Ann", email="ann@example.org", phone="")

    with pytest.raises(InvalidInput) as refused:
        contact_update(contact=contact, actor=staff, name="", email="")

    assert set(refused.value.fields) == {"name", "email"}
    contact.refresh_from_db()
    assert contact.name == "Ann"


def test_update_refuses_unknown_fields(workspace_a, staff):
    contact = ContactFactory(workspace=workspace_a)

    with pytest.raises(InvalidInput) as refused:
        contact_update(contact=contact, actor=staff, source="import", workspace=None)

    assert set(refused.value.fields) == {"source", "workspace"}

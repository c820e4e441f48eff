"""Deduplication holds when submissions race: real threads, real PostgreSQL connections."""

from __future__ import annotations

import pytest

from contacts.models import Contact
from contacts.services import contact_form_submit, contact_upsert
from tests.concurrency import race as race_threads

# Clients reach a workspace through its public pages only once it is live.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("live_workspace_a")]

RACERS = 2


def race(target, count: int = RACERS) -> tuple[list, list[BaseException]]:
    return race_threads(target, count)


def test_two_simultaneous_submissions_with_the_same_email_make_one_contact(workspace_a):
    results, errors = race(
        lambda i: contact_upsert(
            workspace=workspace_a,
            email="Ann@Example.org" if i else "ann@example.org",
            name=f"Ann {i}",
            source=Contact.Source.CONTACT_FORM,
        )
    )

    assert errors == []
    assert Contact.objects.filter(workspace=workspace_a).count() == 1
    assert len({contact.pk for contact, _ in results}) == 1
    assert sorted(created for _, created in results) == [False, True]


def test_two_simultaneous_contact_forms_with_the_same_phone_make_one_contact(workspace_a):
    results, errors = race(
        lambda i: contact_form_submit(
            workspace=workspace_a,
            message=f"Message {i}",
            phone="+44 7700 900123" if i else "07700900123",
        ),
        count=4,
    )

    assert errors == []
    assert Contact.objects.filter(workspace=workspace_a).count() == 1
    assert len({contact.pk for contact in results}) == 1

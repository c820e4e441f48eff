"""Deduplication holds when submissions race: real threads, real PostgreSQL connections."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from contacts.models import Contact
from contacts.services import contact_form_submit, contact_upsert

pytestmark = pytest.mark.django_db(transaction=True)

RACERS = 2


def race(target, count: int = RACERS) -> tuple[list, list[BaseException]]:
    """Run target(i) in `count` threads released together; (results, errors)."""
    barrier = threading.Barrier(count, timeout=10)
    results: list = []
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            barrier.wait()
            results.append(target(i))
        except BaseException as exc:
            errors.append(exc)
        finally:
            connection.close()  # each thread opened its own connection

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results, errors


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

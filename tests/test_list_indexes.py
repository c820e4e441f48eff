"""The big API lists page by keyset over an index: a deep page of each list (as a typical call
asks for it, through the view and so the selectors it uses) counts nothing, skips nothing with
OFFSET, and PostgreSQL's plan for it reads the big table through an index. The plans are
printed (pytest -s) for a look at what the planner chose."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import Conversation, Message
from messaging.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

ROWS = 300  # enough that sorting the workspace's rows costs more than reading an index in order


@pytest.fixture
def busy_workspace(workspace_a):
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    contacts = Contact.objects.bulk_create(
        ContactFactory.build(workspace=workspace_a, name=f"Client {n % 40:02d}")
        for n in range(ROWS)
    )
    kind = BookingTypeFactory(workspace=workspace_a, duration_minutes=30)
    Booking.objects.bulk_create(
        BookingFactory.build(
            workspace=workspace_a,
            booking_type=kind,
            contact=contacts[n],
            start=now + timedelta(hours=n - ROWS // 2),
            status="completed" if n < ROWS // 2 else "confirmed",
        )
        for n in range(ROWS)
    )
    conversations = Conversation.objects.bulk_create(
        ConversationFactory.build(
            workspace=workspace_a,
            contact=contact,
            last_message_at=now - timedelta(minutes=n // 2) if n % 10 else None,
            unread_count=n % 2,
        )
        for n, contact in enumerate(contacts)
    )
    Message.objects.bulk_create(
        MessageFactory.build(conversation=conversations[0], workspace=workspace_a)
        for _ in range(60)
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "ANALYZE bookings_booking, contacts_contact, messaging_conversation, messaging_message"
        )
    return workspace_a


def _deep_page_queries(api, url: str, params: dict) -> list[str]:
    """The SQL of the third page of the list (page size 5), following `next` links."""
    response = api.get(url, {**params, "page_size": 5})
    for _ in range(2):
        assert response.status_code == 200, response.json()
        response = api.get(response.json()["next"])
    assert len(response.json()["results"]) == 5
    with CaptureQueriesContext(connection) as queries:
        response = api.get(response.json()["next"])
    assert response.status_code == 200
    assert response.json()["results"]
    return [query["sql"] for query in queries.captured_queries]


def _page_query(queries: list[str], table: str) -> str:
    """The request's query of the table's rows in order, with a LIMIT: the page (the thread's
    request also reads its conversation, unordered)."""
    pages = [sql for sql in queries if all(part in sql for part in (table, "ORDER BY", "LIMIT"))]
    assert len(pages) == 1, pages
    return pages[0]


def _plan_without_seqscans(sql: str) -> str:
    with transaction.atomic(), connection.cursor() as cursor:
        # Only a query that no index can serve is then read sequentially.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"EXPLAIN {sql}")
        return "\n".join(row[0] for row in cursor.fetchall())


def _indexes_read(plan: str) -> set[str]:
    pattern = r"(?:Index (?:Only )?Scan(?: Backward)? using|Bitmap Index Scan on) (\w+)"
    return set(re.findall(pattern, plan))


def _indexes_of(table: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = %s", [table])
        return {row[0] for row in cursor.fetchall()}


CASES = [
    # (url, typical params, big table, the indexes the plan may read it through)
    ("/api/v1/bookings", {}, "bookings_booking", {"bookings_booking_ws_start"}),
    (
        "/api/v1/bookings",
        {"status": "confirmed"},
        "bookings_booking",
        {"bookings_booking_ws_start", "bookings_booking_active_start"},
    ),
    (
        "/api/v1/bookings",
        {"from": "2020-01-01", "to": "2040-01-01"},
        "bookings_booking",
        {"bookings_booking_ws_start"},
    ),
    ("/api/v1/bookings/today", {}, "bookings_booking", {"bookings_booking_ws_start"}),
    (
        "/api/v1/bookings/upcoming",
        {"days": 14},
        "bookings_booking",
        {"bookings_booking_active_start", "bookings_booking_ws_start"},
    ),
    ("/api/v1/contacts", {}, "contacts_contact", {"contacts_contact_ws_created"}),
    ("/api/v1/contacts", {"ordering": "name"}, "contacts_contact", {"contacts_contact_ws_name"}),
    ("/api/v1/contacts", {"ordering": "-name"}, "contacts_contact", {"contacts_contact_ws_name"}),
    # A search is filtered row by row (no trigram index): the planner, expecting few matches,
    # may take the workspace's rows by its foreign key index and sort them. Any index will do.
    ("/api/v1/contacts", {"q": "client", "ordering": "created_at"}, "contacts_contact", None),
    (
        "/api/v1/messages/conversations",
        {},
        "messaging_conversation",
        {"messaging_conversation_inbox"},
    ),
    (
        "/api/v1/messages/conversations",
        {"unread": "true"},
        "messaging_conversation",
        {"messaging_conversation_unread", "messaging_conversation_inbox"},
    ),
]


@pytest.mark.parametrize(("url", "params", "table", "expected"), CASES, ids=str)
def test_a_deep_page_of_a_big_list_reads_an_index_and_counts_nothing(
    staff_api, busy_workspace, url, params, table, expected
):
    queries = _deep_page_queries(staff_api, url, params)

    assert not [sql for sql in queries if "COUNT(" in sql.upper()]
    assert not [sql for sql in queries if re.search(r"\bOFFSET\b", sql, re.IGNORECASE)]
    page = _page_query(queries, table)
    plan = _plan_without_seqscans(page)
    print(f"\n{url} {params}\n{plan}")
    used = _indexes_read(plan)
    assert f"Seq Scan on {table}" not in plan
    assert used & (expected or _indexes_of(table)), f"{table} read through {used}, not {expected}"


def test_a_deep_page_of_a_thread_reads_an_index_and_counts_nothing(staff_api, busy_workspace):
    conversation = Conversation.objects.filter(messages__isnull=False).distinct().get()
    url = f"/api/v1/messages/conversations/{conversation.pk}/messages"

    queries = _deep_page_queries(staff_api, url, {})

    assert not [sql for sql in queries if "COUNT(" in sql.upper()]
    assert not [sql for sql in queries if re.search(r"\bOFFSET\b", sql, re.IGNORECASE)]
    page = _page_query(queries, "messaging_message")
    plan = _plan_without_seqscans(page)
    print(f"\n{url}\n{plan}")
    assert "Seq Scan on messaging_message" not in plan
    assert _indexes_read(plan) & _indexes_of("messaging_message")


def test_the_contacts_search_has_its_trigram_indexes_on_postgresql():
    """contacts 0002: GIN trigram indexes (workspace first) for name, email and phone. Whether
    the planner takes them depends on the workspace's size and the term: at 14,000 contacts a
    rare term is found through them in 0.3 ms instead of 31 ms (measured on the bench data);
    a common one walks the workspace's ordered index and stops at a page's worth."""
    search = {f"contacts_contact_search_{column}" for column in ("name", "email", "phone")}

    assert search <= _indexes_of("contacts_contact")

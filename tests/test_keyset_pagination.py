"""Keyset pages (careops.pagination.KeysetPagination): every row once, in order, both ways,
whatever the ties, NULLs and directions of the order; rows that come and go between requests;
cursors that do not parse; and a cursor that never reaches past the workspace."""

from __future__ import annotations

import json
from base64 import urlsafe_b64decode, urlsafe_b64encode
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db.models import F
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from careops.pagination import KeysetPagination, _Ordering
from contacts.models import Contact
from contacts.tests.factories import ContactFactory

pytestmark = pytest.mark.django_db

LIST = "/api/v1/contacts"
MONDAY = datetime(2026, 3, 2, 9, tzinfo=UTC)


def _request(url: str, params: dict | None = None) -> Request:
    parts = urlsplit(url)
    query = {key: values[0] for key, values in parse_qs(parts.query).items()}
    return Request(APIRequestFactory().get(parts.path, {**query, **(params or {})}))


def _page(queryset, url: str, params: dict | None = None) -> tuple[list[int], KeysetPagination]:
    paginator = KeysetPagination()
    rows = paginator.paginate_queryset(queryset, _request(url, params))
    return [row.pk for row in rows], paginator


def _walk(queryset, page_size: int) -> tuple[list[list[int]], list[list[int]]]:
    """The pages following `next` from the first, then `previous` back from the last."""
    forward, (ids, paginator) = [], _page(queryset, "/things", {"page_size": page_size})
    assert paginator.previous_link is None
    forward.append(ids)
    while paginator.next_link:
        ids, paginator = _page(queryset, paginator.next_link)
        forward.append(ids)
    backward = [forward[-1]]
    while paginator.previous_link:
        ids, paginator = _page(queryset, paginator.previous_link)
        backward.append(ids)
    return forward, backward


@pytest.fixture
def crowd(workspace_a):
    """23 contacts in few groups of equal names and equal consent times, a third without."""
    contacts = ContactFactory.create_batch(23, workspace=workspace_a)
    for n, contact in enumerate(contacts):
        contact.name = ["Bo", "Ann", "Cy"][n % 3]
        contact.email_consent_at = None if n % 3 == 1 else MONDAY + timedelta(days=n % 2)
        contact.created_at = MONDAY + timedelta(hours=n % 4)
    Contact.objects.bulk_update(contacts, ["name", "email_consent_at", "created_at"])
    return Contact.objects.for_workspace(workspace_a)


@pytest.mark.parametrize(
    "ordering",
    [
        ("name", "pk"),
        ("-name", "-pk"),
        ("name", "-created_at", "pk"),  # mixed directions
        ("email_consent_at", "pk"),  # NULLs last (ascending's default)
        ("-email_consent_at", "name", "-pk"),  # NULLs first (descending's default)
        (F("email_consent_at").asc(nulls_first=True), "-pk"),
        (F("email_consent_at").desc(nulls_last=True), "-name", "pk"),
    ],
    ids=str,
)
def test_pages_hold_every_row_once_in_order_both_ways_through_ties_and_nulls(crowd, ordering):
    queryset = crowd.order_by(*ordering)
    expected = list(queryset.values_list("pk", flat=True))

    forward, backward = _walk(queryset, page_size=4)

    assert [pk for page in forward for pk in page] == expected
    assert [len(page) for page in forward] == [4, 4, 4, 4, 4, 3]
    assert backward == forward[::-1]


def test_an_order_without_the_primary_key_gets_it_as_the_last_key(crowd):
    queryset = crowd.order_by("name")  # 8, 8 and 7 contacts of one name each

    forward, _ = _walk(queryset, page_size=5)

    seen = [pk for page in forward for pk in page]
    assert seen == list(crowd.order_by("name", "pk").values_list("pk", flat=True))


def test_an_order_is_read_once_per_model_unless_it_names_the_querysets_own_annotation(crowd):
    by_name = _Ordering.of(crowd.order_by("name", "pk"))
    again = _Ordering.of(Contact.objects.filter(name="Bo").order_by("name", "pk"))
    # The same name for another expression in each queryset: each is read from its own.
    as_text = _Ordering.of(crowd.annotate(key=F("name")).order_by("key", "pk"))
    as_time = _Ordering.of(crowd.annotate(key=F("created_at")).order_by("key", "pk"))

    assert again is by_name
    assert as_text.terms[0].field.get_internal_type() == "CharField"
    assert as_time.terms[0].field.get_internal_type() == "DateTimeField"
    assert as_text.fingerprint != by_name.fingerprint


def test_rows_added_or_removed_between_pages_neither_repeat_nor_vanish(workspace_a):
    contacts = ContactFactory.create_batch(12, workspace=workspace_a)
    queryset = Contact.objects.for_workspace(workspace_a).order_by("-created_at", "-pk")
    first, paginator = _page(queryset, "/things", {"page_size": 5})

    newest = ContactFactory(workspace=workspace_a)  # sorts before the cursor: not shown later
    oldest = ContactFactory(workspace=workspace_a)
    Contact.objects.filter(pk=oldest.pk).update(created_at=MONDAY - timedelta(days=365))
    Contact.objects.filter(pk=first[-1]).delete()  # the cursor's own row
    rest = []
    while paginator.next_link:
        ids, paginator = _page(queryset, paginator.next_link)
        rest += ids

    newest_first = [c.pk for c in reversed(contacts)]
    assert first == newest_first[:5]
    assert rest == [*newest_first[5:], oldest.pk]
    assert newest.pk not in first + rest


def _cursor_of(link: str) -> dict:
    encoded = parse_qs(urlsplit(link).query)["cursor"][0]
    return json.loads(urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


def _encode(payload) -> str:
    text = payload if isinstance(payload, str) else json.dumps(payload)
    return urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _tampered(valid: dict) -> list[str]:
    def with_values(*values):
        return _encode({**valid, "v": list(values)})

    when, pk = valid["v"]
    return [
        "not a cursor!",
        "%%%",
        "YQ",  # base64 of "a": not JSON
        _encode("[1, 2]"),
        _encode({**valid, "d": "sideways"}),
        _encode({**valid, "o": "00000000"}),  # another ordering's
        with_values(when),
        with_values(when, pk, 3),
        with_values("yesterday", pk),
        with_values("2026-02-30T00:00:00+00:00", pk),
        with_values("2026-03-02T09:00:00", pk),  # no offset
        with_values(when, "seven"),
        with_values(when, 10**30),  # past bigint
        with_values(when, None),
        with_values(None, pk),
        with_values(when, 1.5),
        with_values(when, True),
        with_values(when, [pk]),
        with_values(when, {"pk": pk}),
        with_values("2026\x00", pk),
        _encode(f'{{"d": "n", "o": "{valid["o"]}", "v": [1e999, {pk}]}}'),
        _encode("[" * 100_000 + "]" * 100_000),
        "é",
    ]


def test_a_tampered_or_garbage_cursor_is_a_field_error_never_a_500(staff_api, workspace_a):
    ContactFactory.create_batch(3, workspace=workspace_a)
    link = staff_api.get(LIST, {"page_size": 1}).json()["next"]

    for cursor in _tampered(_cursor_of(link)):
        response = staff_api.get(LIST, {"cursor": cursor})

        assert response.status_code == 400, cursor
        body = response.json()
        assert body["code"] == "validation_error"
        assert set(body["fields"]) == {"cursor"}
        assert body["fields"]["cursor"][0]["code"] == "invalid"


@pytest.mark.parametrize("size", ["abc", "0", "-3", "1.5", "2e2", "٣"])
def test_a_bad_page_size_is_a_field_error(staff_api, size):
    response = staff_api.get(LIST, {"page_size": size})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"page_size"}


def test_a_huge_page_size_is_capped_and_no_page_size_is_the_default():
    paginator = KeysetPagination()

    assert paginator.get_page_size(_request("/things", {"page_size": "100000"})) == 200
    assert paginator.get_page_size(_request("/things", {"page_size": ""})) == 50
    assert paginator.get_page_size(_request("/things")) == 50


def test_the_first_and_last_pages_have_no_link_beyond_them(staff_api, workspace_a):
    ContactFactory.create_batch(2, workspace=workspace_a)

    only = staff_api.get(LIST).json()
    first = staff_api.get(LIST, {"page_size": 1}).json()
    last = staff_api.get(first["next"]).json()

    assert (only["next"], only["previous"], len(only["results"])) == (None, None, 2)
    assert first["previous"] is None
    assert last["next"] is None
    assert staff_api.get(last["previous"]).json()["results"] == first["results"]


def test_another_workspaces_cursor_shows_only_this_workspaces_rows(
    staff_api, outsider_api, workspace_a, workspace_b
):
    ours = [ContactFactory(workspace=workspace_a, name=f"A{n}") for n in range(5)]
    theirs = [ContactFactory(workspace=workspace_b, name=f"B{n}") for n in range(5)]
    link = staff_api.get(LIST, {"ordering": "name", "page_size": 2}).json()["next"]

    # The outsider replays workspace A's cursor (it names A's second contact's sort values).
    response = outsider_api.get(link)

    assert response.status_code == 200
    shown = [c["id"] for c in response.json()["results"]]
    assert shown == [c.pk for c in theirs[:2]]
    assert not set(shown) & {c.pk for c in ours}

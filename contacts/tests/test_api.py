from __future__ import annotations

import pytest
from rest_framework.throttling import ScopedRateThrottle

from careops.tenancy import WORKSPACE_HEADER
from contacts.models import Contact, ContactMerge
from contacts.tests.factories import ContactFactory, TagFactory
from messaging.models import Conversation
from messaging.services import message_receive

# Clients reach a workspace through its public pages only once it is live.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_workspace_a")]

LIST = "/api/v1/contacts"


def url(contact, suffix=""):
    return f"/api/v1/contacts/{contact.pk}{suffix}"


def form(ws, **overrides):
    return {
        "workspace": ws.slug,
        "name": "Ann Lee",
        "email": "ann@example.org",
        "phone": "",
        "message": "Do you open on Sundays?",
        **overrides,
    }


# --- The public contact form -------------------------------------------------------------------


def test_the_public_form_creates_a_contact_and_answers_without_ids(anon_api, workspace_a):
    response = anon_api.post(LIST, form(workspace_a, sms_consent=True), format="json")

    assert response.status_code == 201
    assert response.json() == {"status": "received"}
    contact = Contact.objects.for_workspace(workspace_a).get()
    assert (contact.name, contact.email, contact.source, contact.sms_consent) == (
        "Ann Lee",
        "ann@example.org",
        "contact_form",
        True,
    )


def test_the_public_form_updates_the_contact_with_a_known_email(anon_api, workspace_a):
    known = ContactFactory(workspace=workspace_a, email="ann@example.org", phone="")

    response = anon_api.post(
        LIST, form(workspace_a, email="ANN@example.org", phone="07700900123"), format="json"
    )

    assert response.status_code == 201
    assert Contact.objects.for_workspace(workspace_a).get().pk == known.pk
    known.refresh_from_db()
    assert known.phone == "+447700900123"


def test_a_filled_honeypot_is_accepted_in_appearance_and_stores_nothing(anon_api, workspace_a):
    response = anon_api.post(LIST, form(workspace_a, website="http://spam"), format="json")

    assert response.status_code == 202
    assert response.json() == {"status": "received"}
    assert not Contact.objects.exists()
    assert not Conversation.objects.exists()


def test_the_public_form_for_an_unknown_workspace_is_not_found(anon_api, workspace_a):
    response = anon_api.post(LIST, form(workspace_a, workspace="nowhere"), format="json")

    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Not found."}
    assert not Contact.objects.exists()


def test_the_public_form_names_each_bad_field(anon_api, workspace_a):
    response = anon_api.post(
        LIST, form(workspace_a, email="ann@", phone="12", message="Hi"), format="json"
    )

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"email", "phone"}
    assert not Contact.objects.exists()


def test_the_public_form_needs_a_message(anon_api, workspace_a):
    response = anon_api.post(LIST, form(workspace_a, message=""), format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"message"}


def test_the_public_form_is_rate_limited_per_address(anon_api, workspace_a):
    throttle = ScopedRateThrottle()
    allowed, _ = throttle.parse_rate(throttle.THROTTLE_RATES["contact_form"])  # 10/hour default
    for i in range(allowed):
        response = anon_api.post(LIST, form(workspace_a, email=f"p{i}@example.org"), format="json")
        assert response.status_code == 201

    response = anon_api.post(LIST, form(workspace_a, email="last@example.org"), format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response.headers
    assert not Contact.objects.filter(email="last@example.org").exists()


def test_anonymous_callers_cannot_list_or_read_contacts(anon_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a)

    assert anon_api.get(LIST).status_code == 401
    assert anon_api.get(url(contact)).status_code == 401
    assert anon_api.patch(url(contact), {"name": "x"}, format="json").status_code == 401


# --- Staff add contacts ------------------------------------------------------------------------


def test_staff_add_a_contact_and_get_it_back(staff_api, workspace_a):
    response = staff_api.post(
        LIST,
        {
            "name": "Ann Lee",
            "email": "Ann@Example.org",
            "phone": "07700 900123",
            "tags": ["VIP"],
            "custom_fields": {"allergy": "latex", "visits": 3},
            "sms_consent": True,
        },
        format="json",
    )

    assert response.status_code == 201
    body = response.json()
    assert {k: body[k] for k in ("name", "first_name", "email", "phone", "source", "tags")} == {
        "name": "Ann Lee",
        "first_name": "Ann",
        "email": "ann@example.org",
        "phone": "+447700900123",
        "source": "manual",
        "tags": ["VIP"],
    }
    assert body["custom_fields"] == {"allergy": "latex", "visits": 3}
    assert (body["sms_consent"], body["sms_consent_source"]) == (True, "staff")
    assert Contact.objects.for_workspace(workspace_a).get().pk == body["id"]


def test_adding_a_contact_with_a_known_email_names_the_existing_one(staff_api, workspace_a):
    existing = ContactFactory(workspace=workspace_a, email="ann@example.org")

    response = staff_api.post(LIST, {"email": "ann@example.org"}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body["fields"]) == {"email"}
    assert body["existing_id"] == existing.pk


def test_adding_a_contact_with_bad_email_and_phone_names_both_fields(staff_api):
    response = staff_api.post(LIST, {"email": "nope", "phone": "abc"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"email", "phone"}
    assert not Contact.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "A", "custom_fields": {"a": {"b": 1}}}, "custom_fields"),
        ({"name": "A", "custom_fields": ["a"]}, "custom_fields"),
        ({"name": "A", "tags": ["x" * 51]}, "tags.0"),
        ({"name": "A", "tags": "VIP"}, "tags"),
        ({"notes": "nobody"}, "name"),
    ],
)
def test_adding_a_contact_with_bad_fields_is_refused_field_by_field(staff_api, body, field):
    response = staff_api.post(LIST, body, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {field}


def test_staff_of_another_workspace_add_contacts_only_to_their_own(outsider_api, workspace_a):
    response = outsider_api.post(
        LIST, {"name": "Sneaky"}, format="json", headers={WORKSPACE_HEADER: str(workspace_a.pk)}
    )

    assert response.status_code == 404
    assert not Contact.objects.for_workspace(workspace_a).exists()


# --- List --------------------------------------------------------------------------------------


def test_the_list_searches_name_email_and_phone(staff_api, workspace_a, workspace_b):
    ann = ContactFactory(workspace=workspace_a, name="Ann Lee", email="a@x.org", phone="")
    bo = ContactFactory(workspace=workspace_a, name="Bo", email="bo@lee.org", phone="")
    cy = ContactFactory(workspace=workspace_a, name="Cy", email="", phone="+447700900555")
    ContactFactory(workspace=workspace_b, name="Lee elsewhere")

    def names(**params):
        response = staff_api.get(LIST, params)
        assert response.status_code == 200
        return {c["name"] for c in response.json()["results"]}

    assert names(q="lee") == {ann.name, bo.name}
    assert names(q="900555") == {cy.name}
    assert names() == {ann.name, bo.name, cy.name}


def test_the_list_filters_by_tag_and_source_and_orders_by_name(staff_api, workspace_a):
    vip = TagFactory(workspace=workspace_a, name="VIP")
    ContactFactory(workspace=workspace_a, name="Cy", source="import").tags.add(vip)
    ContactFactory(workspace=workspace_a, name="Ann", source="import").tags.add(vip)
    ContactFactory(workspace=workspace_a, name="Bo", source="import")
    ContactFactory(workspace=workspace_a, name="Di", source="booking").tags.add(vip)

    response = staff_api.get(LIST, {"tag": "vip", "source": "import", "ordering": "name"})

    assert [c["name"] for c in response.json()["results"]] == ["Ann", "Cy"]


def test_the_list_is_newest_first_by_default(staff_api, workspace_a):
    first = ContactFactory(workspace=workspace_a)
    second = ContactFactory(workspace=workspace_a)

    response = staff_api.get(LIST)

    assert [c["id"] for c in response.json()["results"]] == [second.pk, first.pk]


def test_an_unknown_source_or_ordering_is_a_field_error(staff_api):
    response = staff_api.get(LIST, {"source": "carrier_pigeon", "ordering": "email"})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"source", "ordering"}


@pytest.mark.parametrize("page_size", [5, 40])
def test_the_list_runs_a_constant_number_of_queries(
    staff_api, workspace_a, page_size, django_assert_max_num_queries
):
    tags = [TagFactory(workspace=workspace_a) for _ in range(3)]
    for _ in range(45):
        ContactFactory(workspace=workspace_a).tags.add(*tags)

    # 4 queries: token user, workspace membership, page, tags of the page's contacts (keyset
    # pages count nothing)
    with django_assert_max_num_queries(4):
        response = staff_api.get(LIST, {"page_size": page_size})
    next_page = response.json()["next"]
    with django_assert_max_num_queries(4):
        second = staff_api.get(next_page)

    assert response.status_code == 200
    assert len(response.json()["results"]) == page_size
    assert all(len(c["tags"]) == 3 for c in response.json()["results"])
    assert len(second.json()["results"]) == 5


def _every_page(api, params: dict) -> list[list[int]]:
    pages, response = [], api.get(LIST, params)
    while True:
        assert response.status_code == 200, response.json()
        pages.append([c["id"] for c in response.json()["results"]])
        if response.json()["next"] is None:
            return pages
        response = api.get(response.json()["next"])


@pytest.mark.parametrize("ordering", ["name", "-name", "created_at", "-created_at"])
def test_every_ordering_pages_through_each_contact_once_in_order(staff_api, workspace_a, ordering):
    # Equal names and an email-only contact (no name): ties the primary key settles.
    contacts = [
        ContactFactory(workspace=workspace_a, name=name)
        for name in ["Bo", "Ann", "Bo", "", "Cy", "Bo", "Ann"]
    ]
    key = ordering.lstrip("-")
    expected = [
        c.pk
        for c in sorted(
            contacts, key=lambda c: (getattr(c, key), c.pk), reverse=ordering.startswith("-")
        )
    ]

    pages = _every_page(staff_api, {"ordering": ordering, "page_size": 2})

    assert [pk for page in pages for pk in page] == expected
    assert [len(page) for page in pages] == [2, 2, 2, 1]


def test_a_cursor_of_one_ordering_is_refused_by_another(staff_api, workspace_a):
    ContactFactory.create_batch(3, workspace=workspace_a)
    by_name = staff_api.get(LIST, {"ordering": "name", "page_size": 1}).json()["next"]
    cursor = by_name.split("cursor=")[1].split("&")[0]

    response = staff_api.get(LIST, {"ordering": "-created_at", "cursor": cursor})

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"cursor"}


def test_the_list_never_shows_another_workspaces_contacts(outsider_api, workspace_a):
    ContactFactory(workspace=workspace_a, name="Ann of Alpha")

    response = outsider_api.get(LIST)

    assert response.status_code == 200
    assert response.json()["results"] == []


def test_tags_lists_the_workspaces_tags(staff_api, workspace_a, workspace_b):
    TagFactory(workspace=workspace_a, name="VIP")
    TagFactory(workspace=workspace_a, name="new")
    TagFactory(workspace=workspace_b, name="theirs")

    response = staff_api.get(f"{LIST}/tags")

    assert response.status_code == 200
    assert [t["name"] for t in response.json()["results"]] == ["VIP", "new"]


# --- Retrieve ----------------------------------------------------------------------------------


def test_a_contact_comes_with_its_timeline(staff_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a)
    message_receive(workspace=workspace_a, contact=contact, channel="email", body="Hello there")

    response = staff_api.get(url(contact))

    assert response.status_code == 200
    body = response.json()
    assert body["id"] == contact.pk
    assert [(e["kind"], e["detail"]) for e in body["timeline"]] == [("message", "Hello there")]
    assert set(body["timeline"][0]) == {"kind", "at", "title", "detail", "url", "meta"}


def test_a_contact_and_its_timeline_take_a_constant_number_of_queries(
    staff_api, workspace_a, django_assert_max_num_queries
):
    contact = ContactFactory(workspace=workspace_a)
    contact.tags.add(*TagFactory.create_batch(3, workspace=workspace_a))
    for i in range(20):
        message_receive(workspace=workspace_a, contact=contact, channel="sms", body=f"m{i}")

    # 8 queries: token user, workspace membership, contact, its tags, and one per domain on the
    # timeline: its newest messages, its newest bookings, its newest forms, its newest
    # automation runs (rules joined)
    with django_assert_max_num_queries(8):
        response = staff_api.get(url(contact))

    assert len(response.json()["timeline"]) == 20


def test_outsider_gets_404_for_a_contact_of_another_workspace(outsider_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a)

    response = outsider_api.get(url(contact))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- Update ------------------------------------------------------------------------------------


def test_staff_update_a_contact(staff_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a, name="Ann")

    response = staff_api.patch(
        url(contact),
        {"name": "Ann Lee", "phone": "07700 900777", "tags": ["VIP"], "email_consent": True},
        format="json",
    )

    assert response.status_code == 200
    body = response.json()
    assert (body["name"], body["phone"], body["tags"], body["email_consent"]) == (
        "Ann Lee",
        "+447700900777",
        ["VIP"],
        True,
    )
    contact.refresh_from_db()
    assert contact.phone == "+447700900777"


def test_updating_with_bad_email_or_phone_is_a_field_error(staff_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a, email="ann@example.org")

    bad_email = staff_api.patch(url(contact), {"email": "ann(at)example"}, format="json")
    bad_phone = staff_api.patch(url(contact), {"phone": "call me"}, format="json")

    assert bad_email.status_code == bad_phone.status_code == 400
    assert set(bad_email.json()["fields"]) == {"email"}
    assert set(bad_phone.json()["fields"]) == {"phone"}
    contact.refresh_from_db()
    assert contact.email == "ann@example.org"


def test_updating_to_an_email_another_contact_has_is_refused(staff_api, workspace_a):
    other = ContactFactory(workspace=workspace_a, email="taken@example.org")
    contact = ContactFactory(workspace=workspace_a)

    response = staff_api.patch(url(contact), {"email": "taken@example.org"}, format="json")

    assert response.status_code == 400
    assert response.json()["existing_id"] == other.pk


def test_read_only_fields_are_not_changed_by_patch(staff_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a, source="import")

    response = staff_api.patch(url(contact), {"source": "manual", "id": 1}, format="json")

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.source == "import"


def test_outsider_gets_404_patching_a_contact_of_another_workspace(outsider_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a, name="Ann")

    response = outsider_api.patch(url(contact), {"name": "Mine"}, format="json")

    assert response.status_code == 404
    contact.refresh_from_db()
    assert contact.name == "Ann"


# --- Merge -------------------------------------------------------------------------------------


def test_owner_merges_another_contact_into_this_one(owner_api, workspace_a):
    survivor = ContactFactory(workspace=workspace_a, phone="")
    merged = ContactFactory(workspace=workspace_a, phone="+447700900321")
    message_receive(workspace=workspace_a, contact=merged, channel="sms", body="Hi")

    response = owner_api.post(url(survivor, "/merge"), {"other_id": merged.pk}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert body["survivor"]["id"] == survivor.pk
    assert body["survivor"]["phone"] == "+447700900321"
    assert body["merged_contact_id"] == merged.pk
    assert body["moved"]["messages"] == 1
    assert not Contact.objects.filter(pk=merged.pk).exists()
    assert Conversation.objects.get().contact_id == survivor.pk


def test_staff_cannot_merge(staff_api, workspace_a):
    survivor, merged = ContactFactory.create_batch(2, workspace=workspace_a)

    response = staff_api.post(url(survivor, "/merge"), {"other_id": merged.pk}, format="json")

    assert response.status_code == 403
    assert Contact.objects.filter(pk=merged.pk).exists()


def test_merging_a_contact_of_another_workspace_is_not_found(owner_api, workspace_a, workspace_b):
    survivor = ContactFactory(workspace=workspace_a)
    foreign = ContactFactory(workspace=workspace_b)

    response = owner_api.post(url(survivor, "/merge"), {"other_id": foreign.pk}, format="json")

    assert response.status_code == 404
    assert set(response.json()["fields"]) == {"other_id"}
    assert Contact.objects.filter(pk=foreign.pk).exists()
    assert not ContactMerge.objects.exists()


def test_merging_a_contact_with_itself_is_refused(owner_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a)

    response = owner_api.post(url(contact, "/merge"), {"other_id": contact.pk}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"other_id"}


def test_merge_needs_an_other_id(owner_api, workspace_a):
    contact = ContactFactory(workspace=workspace_a)

    response = owner_api.post(url(contact, "/merge"), {"other_id": "x"}, format="json")

    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"other_id"}


def test_outsider_gets_404_merging_contacts_of_another_workspace(outsider_api, workspace_a):
    survivor, merged = ContactFactory.create_batch(2, workspace=workspace_a)

    response = outsider_api.post(url(survivor, "/merge"), {"other_id": merged.pk}, format="json")

    assert response.status_code == 404
    assert Contact.objects.filter(pk=merged.pk).exists()

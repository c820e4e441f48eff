"""The contacts pages and the public contact form."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from contacts.links import contact_links
from contacts.models import Contact
from contacts.tests.factories import ContactFactory, TagFactory
from workspaces.tests.factories import make_live

# Clients reach a workspace through its public pages only once it is live.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_workspace_a")]


# --- The list ----------------------------------------------------------------------------------


def test_the_contacts_list_asks_anonymous_visitors_to_sign_in(client):
    response = client.get(reverse("contacts"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_the_list_shows_the_workspaces_contacts_only(owner_client, workspace_a, workspace_b):
    ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    ContactFactory(workspace=workspace_b, name="Other Tenant")

    response = owner_client.get(reverse("contacts"))

    assert response.status_code == 200
    assert b"Ada Lovelace" in response.content
    assert b"Other Tenant" not in response.content
    assert b'href="/contacts/export.csv"' in response.content
    assert b'href="/contacts/import/"' in response.content


def test_searching_and_filtering_narrow_the_list(owner_client, workspace_a):
    vip = TagFactory(workspace=workspace_a, name="VIP")
    ContactFactory(workspace=workspace_a, name="Ada Lovelace", source="import").tags.add(vip)
    ContactFactory(workspace=workspace_a, name="Ada Byron", source="manual")
    ContactFactory(workspace=workspace_a, name="Grace Hopper", source="import").tags.add(vip)

    by_name = owner_client.get(reverse("contacts"), {"q": "ada"})
    by_tag = owner_client.get(reverse("contacts"), {"q": "ada", "tag": "VIP"})
    by_source = owner_client.get(reverse("contacts"), {"source": "manual"})

    assert b"Ada Byron" in by_name.content and b"Grace Hopper" not in by_name.content
    assert b"Ada Lovelace" in by_tag.content and b"Ada Byron" not in by_tag.content
    assert b"Ada Byron" in by_source.content and b"Ada Lovelace" not in by_source.content
    assert b'href="/contacts/export.csv?q=ada&amp;tag=VIP"' in by_tag.content


def test_typing_in_the_search_box_returns_only_the_results_partial(owner_client, workspace_a):
    ContactFactory(workspace=workspace_a, name="Ada Lovelace")

    response = owner_client.get(reverse("contacts"), {"q": "ada"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200
    assert b"Ada Lovelace" in response.content
    assert b"<html" not in response.content
    assert response.templates[0].name == "contacts/_contact_rows.html"


def test_the_search_box_searches_as_one_types_through_htmx(owner_client):
    response = owner_client.get(reverse("contacts"))

    assert b'hx-trigger="input changed delay:300ms, search"' in response.content
    assert b'hx-target="#contact-results"' in response.content


def test_an_unknown_source_or_tag_filters_nothing(owner_client, workspace_a):
    ContactFactory(workspace=workspace_a, name="Ada Lovelace")

    response = owner_client.get(reverse("contacts"), {"source": "pigeon", "tag": "gone"})

    assert response.status_code == 200
    assert b"Ada Lovelace" in response.content


def test_the_list_pages_through_many_contacts(owner_client, workspace_a):
    for n in range(30):
        ContactFactory(workspace=workspace_a, name=f"Client {n:02d}")

    first = owner_client.get(reverse("contacts"))
    second = owner_client.get(reverse("contacts"), {"page": 2})

    assert b"Page 1 of 2" in first.content
    assert first.content.count(b'class="contact-name"') == 25
    assert second.content.count(b'class="contact-name"') == 5


@pytest.mark.parametrize("size", [3, 30])
def test_the_list_renders_in_a_constant_number_of_queries(
    owner_client, workspace_a, django_assert_max_num_queries, size
):
    tags = [TagFactory(workspace=workspace_a) for _ in range(3)]
    for _ in range(size):
        ContactFactory(workspace=workspace_a).tags.add(*tags)

    # session, user, membership+workspace, tags for the filter, count, page of contacts,
    # their tags (prefetch), switcher list
    with django_assert_max_num_queries(8):
        response = owner_client.get(reverse("contacts"), {"q": "example", "tag": tags[0].name})

    assert response.status_code == 200


@pytest.mark.parametrize("size", [3, 30])
def test_the_search_partial_renders_in_a_constant_number_of_queries(
    owner_client, workspace_a, django_assert_max_num_queries, size
):
    tag = TagFactory(workspace=workspace_a)
    for _ in range(size):
        ContactFactory(workspace=workspace_a).tags.add(tag)

    # session, user, membership+workspace, tags for the filter, count, page of contacts,
    # their tags (prefetch); no layout, so no switcher list
    with django_assert_max_num_queries(7):
        response = owner_client.get(reverse("contacts"), {"q": "client"}, HTTP_HX_REQUEST="true")

    assert response.status_code == 200


def test_the_export_link_downloads_the_filtered_list(owner_client, workspace_a, workspace_b):
    ContactFactory(workspace=workspace_a, name="Ada", source="import")
    ContactFactory(workspace=workspace_a, name="Grace", source="manual")
    ContactFactory(workspace=workspace_b, name="Other", source="import")

    response = owner_client.get(reverse("contacts-export"), {"source": "import"})

    body = b"".join(response.streaming_content).decode()
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "Ada" in body
    assert "Grace" not in body
    assert "Other" not in body


# --- A contact ---------------------------------------------------------------------------------


def test_the_contact_page_shows_details_tags_consent_and_notes(owner_client, workspace_a):
    contact = ContactFactory(
        workspace=workspace_a,
        name="Ada Lovelace",
        email="ada@example.org",
        notes="Prefers mornings",
        email_consent=True,
        custom_fields={"Pet": "Cat"},
    )
    contact.tags.add(TagFactory(workspace=workspace_a, name="VIP"))

    response = owner_client.get(reverse("contact-detail", args=[contact.pk]))

    assert response.status_code == 200
    for text in (b"Ada Lovelace", b"ada@example.org", b"VIP", b"Prefers mornings", b"Pet", b"Cat"):
        assert text in response.content
    assert b"Timeline" in response.content


def test_the_contact_page_renders_in_a_constant_number_of_queries(
    owner_client, workspace_a, django_assert_max_num_queries
):
    contact = ContactFactory(workspace=workspace_a)
    contact.tags.add(*(TagFactory(workspace=workspace_a) for _ in range(5)))

    # session, user, membership+workspace, contact, its tags, one timeline query per domain
    # that links rows to contacts, switcher list
    with django_assert_max_num_queries(6 + len(contact_links())):
        response = owner_client.get(reverse("contact-detail", args=[contact.pk]))

    assert response.status_code == 200


def test_another_workspaces_contact_is_404(owner_client, workspace_b):
    other = ContactFactory(workspace=workspace_b)

    assert owner_client.get(reverse("contact-detail", args=[other.pk])).status_code == 404
    response = owner_client.post(reverse("contact-detail", args=[other.pk]), {"name": "Mine"})
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.name != "Mine"


def test_outsider_gets_404_for_workspace_as_contact(client, outsider, workspace_a):
    contact = ContactFactory(workspace=workspace_a)
    client.force_login(outsider)

    assert client.get(reverse("contact-detail", args=[contact.pk])).status_code == 404


def test_editing_a_contact_saves_it(client, staff, workspace_a):
    contact = ContactFactory(workspace=workspace_a, name="Ada", email="ada@example.org")
    client.force_login(staff)

    response = client.post(
        reverse("contact-detail", args=[contact.pk]),
        {
            "name": "Ada Lovelace",
            "email": "ADA@example.org",
            "phone": "07700 900123",
            "tags": "VIP, knees",
            "notes": "Call after 10",
            "sms_consent": "on",
        },
        follow=True,
    )

    assert response.status_code == 200
    assert b"Ada Lovelace is saved." in response.content
    contact.refresh_from_db()
    assert (contact.name, contact.email, contact.phone, contact.notes) == (
        "Ada Lovelace",
        "ada@example.org",
        "+447700900123",
        "Call after 10",
    )
    assert (contact.email_consent, contact.sms_consent) == (False, True)
    assert sorted(t.name for t in contact.tags.all()) == ["VIP", "knees"]


def test_editing_with_bad_details_shows_the_errors_on_the_fields(owner_client, workspace_a):
    contact = ContactFactory(workspace=workspace_a, name="Ada", email="ada@example.org", phone="")
    ContactFactory(workspace=workspace_a, email="grace@example.org")

    bad_phone = owner_client.post(
        reverse("contact-detail", args=[contact.pk]),
        {"name": "Ada", "email": "ada@example.org", "phone": "12"},
    )
    taken = owner_client.post(
        reverse("contact-detail", args=[contact.pk]),
        {"name": "Ada", "email": "grace@example.org"},
    )

    assert bad_phone.status_code == 200
    assert b'id="id_phone-error">Enter a valid phone number' in bad_phone.content
    assert b'id="id_email-error">Contact #' in taken.content
    contact.refresh_from_db()
    assert (contact.email, contact.phone) == ("ada@example.org", "")


def test_adding_a_contact_by_hand(owner_client, workspace_a):
    response = owner_client.post(
        reverse("contact-new"),
        {"name": "Grace Hopper", "email": "grace@example.org", "tags": "new"},
    )

    contact = Contact.objects.get(workspace=workspace_a)
    assert response.status_code == 302
    assert response["Location"] == reverse("contact-detail", args=[contact.pk])
    assert (contact.name, contact.source) == ("Grace Hopper", "manual")


def test_adding_a_contact_who_exists_links_to_them(owner_client, workspace_a):
    existing = ContactFactory(workspace=workspace_a, email="grace@example.org")

    response = owner_client.post(reverse("contact-new"), {"email": "grace@example.org"})

    assert response.status_code == 200
    assert reverse("contact-detail", args=[existing.pk]).encode() in response.content
    assert Contact.objects.count() == 1


def test_adding_a_contact_without_any_detail_is_a_field_error(owner_client):
    response = owner_client.post(reverse("contact-new"), {"notes": "who?"})

    assert response.status_code == 200
    assert b"A contact needs a name, an email address or a phone number." in response.content
    assert not Contact.objects.exists()


# --- Import ------------------------------------------------------------------------------------


def test_the_import_page_shows_the_report(client, staff, workspace_a):
    client.force_login(staff)
    ContactFactory(workspace=workspace_a, email="ada@example.org")
    csv_file = SimpleUploadedFile(
        "c.csv", b"email,name\nada@example.org,Ada\ngrace@example.org,Grace\nnope,Bad\n"
    )

    response = client.post(reverse("contacts-import"), {"file": csv_file})

    assert response.status_code == 200
    assert b"<strong>1</strong> created, <strong>1</strong> updated" in response.content
    assert b"<tr><td>4</td><td>&quot;nope&quot; is not a valid email address.</td></tr>" in (
        response.content
    )
    assert Contact.objects.for_workspace(workspace_a).count() == 2


def test_the_import_page_explains_a_file_it_cannot_read(owner_client):
    response = owner_client.post(
        reverse("contacts-import"), {"file": SimpleUploadedFile("c.csv", b"name\nAda\n")}
    )
    empty = owner_client.post(reverse("contacts-import"), {})

    assert b"with an email or a phone column" in response.content
    assert b'id="id_file-error">This field is required.' in empty.content
    assert not Contact.objects.exists()


# --- The public contact form -------------------------------------------------------------------


def test_a_visitor_writes_through_the_public_form(client, workspace_a):
    url = reverse("contact-form", args=[workspace_a.slug])

    page = client.get(url)
    response = client.post(
        url,
        {
            "name": "Ada Lovelace",
            "email": "ada@example.org",
            "message": "Do you open on Saturdays?",
            "email_consent": "on",
        },
        follow=True,
    )

    assert page.status_code == 200
    assert "X-Frame-Options" not in page
    assert b"Thank you" in response.content
    contact = Contact.objects.get(workspace=workspace_a)
    assert (contact.name, contact.source, contact.email_consent) == (
        "Ada Lovelace",
        "contact_form",
        True,
    )


def test_the_honeypot_is_hidden_from_people(client, workspace_a):
    response = client.get(reverse("contact-form", args=[workspace_a.slug]))

    assert b'<div class="hp" aria-hidden="true">' in response.content
    assert b'name="website"' in response.content
    assert b'tabindex="-1"' in response.content
    assert b'autocomplete="off"' in response.content


def test_a_filled_honeypot_thanks_the_bot_and_stores_nothing(client, workspace_a):
    response = client.post(
        reverse("contact-form", args=[workspace_a.slug]),
        {"email": "bot@example.org", "message": "Buy now", "website": "http://spam"},
        follow=True,
    )

    assert b"Thank you" in response.content
    assert not Contact.objects.exists()


def test_the_public_form_shows_what_is_missing(client, workspace_a):
    response = client.post(
        reverse("contact-form", args=[workspace_a.slug]), {"name": "Ada", "email": "nope"}
    )

    assert response.status_code == 200
    assert b'id="id_message-error">This field is required.' in response.content
    assert not Contact.objects.exists()

    response = client.post(
        reverse("contact-form", args=[workspace_a.slug]), {"name": "Ada", "message": "Hi"}
    )
    assert b'id="id_email-error">Give an email address or a phone number.' in response.content


def test_an_unknown_form_slug_is_404(client, db):
    assert client.get(reverse("contact-form", args=["nobody"])).status_code == 404


def test_the_public_form_is_rate_limited_per_visitor(client, workspace_a, workspace_b, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "contact_form": "2/hour",
        },
    }
    make_live(workspace_b)
    url = reverse("contact-form", args=[workspace_a.slug])
    for n in range(2):
        client.post(url, {"email": f"c{n}@example.org", "message": "Hi"})

    limited = client.post(url, {"email": "c3@example.org", "message": "Hi"})
    elsewhere = client.post(
        url, {"email": "c4@example.org", "message": "Hi"}, REMOTE_ADDR="10.9.9.9"
    )
    other_form = client.post(
        reverse("contact-form", args=[workspace_b.slug]),
        {"email": "c5@example.org", "message": "Hi"},
    )

    assert limited.status_code == 429
    assert b"Too many messages" in limited.content
    assert elsewhere.status_code == 302
    assert other_form.status_code == 302
    assert sorted(Contact.objects.values_list("email", flat=True)) == [
        "c0@example.org",
        "c1@example.org",
        "c4@example.org",
        "c5@example.org",
    ]


def test_the_public_form_accepts_a_post_from_an_embedding_site_without_a_csrf_cookie(workspace_a):
    # Inside another site's iframe the browser drops our cookies: the post carries no token.
    embedded = Client(enforce_csrf_checks=True)

    response = embedded.post(
        reverse("contact-form", args=[workspace_a.slug]),
        {"name": "Iris", "email": "iris@example.org", "message": "Hello from your website"},
        HTTP_ORIGIN="https://www.alpha-clinic.example",
    )

    assert response.status_code == 302
    assert Contact.objects.filter(workspace=workspace_a, email="iris@example.org").exists()

"""Until its owner activates it, a workspace's public pages say it is not yet accepting
bookings instead of offering a form, and its public API takes nothing (409)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingTypeFactory
from contacts.models import Contact
from messaging.models import Message
from workspaces.tests.factories import make_live

pytestmark = pytest.mark.django_db

SOON = (datetime.now(UTC) + timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)


@pytest.fixture
def massage(workspace_a):
    workspace_a.contact_email = "hello@alpha.example"
    workspace_a.save(update_fields=["contact_email"])
    return BookingTypeFactory(workspace=workspace_a, name="Massage", slug="massage")


def test_a_draft_workspaces_booking_pages_say_it_is_not_yet_accepting_bookings(
    client, workspace_a, massage
):
    for url in (
        reverse("booking-page", args=[workspace_a.slug]),
        reverse("booking-page-type", args=[workspace_a.slug, "massage"]),
    ):
        html = client.get(url).content.decode()
        assert "Not yet accepting bookings" in html, url
        assert 'href="mailto:hello@alpha.example"' in html
        assert "<form" not in html

    posted = client.post(
        reverse("booking-page-type", args=[workspace_a.slug, "massage"]),
        {"start": SOON.isoformat(), "name": "Ann Lee", "email": "ann@example.org"},
    )
    assert "Not yet accepting bookings" in posted.content.decode()
    assert not Booking.objects.exists()
    assert not Contact.objects.exists()


def test_a_draft_workspaces_contact_form_says_it_is_not_yet_accepting_messages(client, workspace_a):
    url = reverse("contact-form", args=[workspace_a.slug])

    page = client.get(url).content.decode()
    posted = client.post(url, {"name": "Ann", "email": "ann@example.org", "message": "Hi"})

    assert "Not yet accepting messages" in page and "<form" not in page
    assert "Not yet accepting messages" in posted.content.decode()
    assert not Contact.objects.exists()
    assert not Message.objects.exists()


def test_a_draft_workspaces_public_api_answers_409_and_stores_nothing(
    anon_api, workspace_a, massage
):
    booking = anon_api.post(
        "/api/v1/bookings",
        {
            "workspace": workspace_a.slug,
            "booking_type": "massage",
            "start": SOON.isoformat(),
            "name": "Ann Lee",
            "email": "ann@example.org",
        },
        format="json",
    )
    slots = anon_api.get(
        "/api/v1/bookings/slots",
        {
            "workspace": workspace_a.slug,
            "booking_type": "massage",
            "from": SOON.date(),
            "to": SOON.date(),
        },
    )
    types = anon_api.get("/api/v1/bookings/types", {"workspace": workspace_a.slug})
    message = anon_api.post(
        "/api/v1/contacts",
        {"workspace": workspace_a.slug, "name": "Ann", "email": "ann@x.org", "message": "Hi"},
        format="json",
    )

    for response in (booking, slots, types, message):
        assert response.status_code == 409, response.content
        assert response.json()["code"] == "workspace_not_live"
    assert not Booking.objects.exists()
    assert not Contact.objects.exists()


def test_once_live_the_booking_page_offers_its_services(client, workspace_a, massage):
    make_live(workspace_a)

    html = client.get(reverse("booking-page", args=[workspace_a.slug])).content.decode()

    assert "Not yet accepting" not in html
    assert "Massage" in html


def test_the_team_previews_its_contact_form_before_going_live(owner_client, workspace_a):
    url = reverse("contact-form", args=[workspace_a.slug])

    page = owner_client.get(url).content.decode()
    posted = owner_client.post(url, {"name": "Ann", "email": "ann@example.org", "message": "Hi"})

    assert 'data-testid="preview-note"' in page and "<form" in page
    assert "not yet accepting" in posted.content.decode()  # sending still waits
    assert not Contact.objects.exists()

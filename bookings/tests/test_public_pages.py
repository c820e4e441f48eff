"""The public booking pages: choosing a service and a time in the visitor's zone, booking,
the confirmation, and the signed link to cancel, reschedule or write to the business."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from bookings.models import Booking
from bookings.services import booking_manage_token
from bookings.tests.factories import BookingFactory, BookingTypeFactory, WorkingHoursFactory
from contacts.models import Contact
from contacts.tests.factories import ContactFactory
from messaging.models import Message

# Clients reach a workspace through its public pages only once it is live.
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("live_workspace_a")]

# Wednesday 7 January 2026, noon in London (GMT = UTC; New York is 5 hours behind).
NOW = datetime(2026, 1, 7, 12, tzinfo=UTC)
MONDAY_9 = datetime(2026, 1, 12, 9, tzinfo=UTC)
MONDAY_10 = MONDAY_9 + timedelta(hours=1)
DASH = "\N{EN DASH}"


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def massage(workspace_a):
    """A 60-minute service on the shared calendar, open 09:00-17:00 London time on weekdays."""
    workspace_a.timezone = "Europe/London"
    workspace_a.save(update_fields=["timezone"])
    for weekday in range(5):
        WorkingHoursFactory(workspace=workspace_a, weekday=weekday)
    return BookingTypeFactory(
        workspace=workspace_a,
        name="Massage",
        slug="massage",
        description="A relaxing massage.",
        price_display="£60",
        location="12 High Street, Bath",
    )


def _type_url(booking_type, **query) -> str:
    url = reverse("booking-page-type", args=[booking_type.workspace.slug, booking_type.slug])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def _details(**fields) -> dict[str, str]:
    data = {
        "start": "2026-01-12T09:00:00Z",
        "tz": "Europe/London",
        "name": "Ada Lovelace",
        "email": "ada@example.org",
        "phone": "",
        "notes": "Sore shoulder",
        "website": "",
    }
    return {**data, **fields}


@pytest.fixture
def booking(massage):
    contact = ContactFactory(workspace=massage.workspace, name="Ada Lovelace")
    return BookingFactory(
        workspace=massage.workspace, booking_type=massage, contact=contact, start=MONDAY_9
    )


def _manage_url(booking, **query) -> str:
    url = reverse("booking-manage", args=[booking_manage_token(booking)])
    return url + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


# --- Choosing a service and a time ---------------------------------------------------------------


def test_the_booking_page_lists_the_active_services(client, massage, workspace_a, workspace_b):
    BookingTypeFactory(workspace=workspace_a, name="Retired service", is_active=False)
    BookingTypeFactory(workspace=workspace_b, name="Bravo haircut")

    response = client.get(reverse("booking-page", args=[workspace_a.slug]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "Massage" in html
    assert "60 min · £60" in html
    assert "A relaxing massage." in html
    assert _type_url(massage) in html
    assert "Retired service" not in html
    assert "Bravo haircut" not in html


def test_an_unknown_workspace_or_another_workspaces_service_is_404(client, massage, workspace_b):
    bravo = BookingTypeFactory(workspace=workspace_b, slug="haircut")
    inactive = BookingTypeFactory(workspace=massage.workspace, slug="old", is_active=False)

    assert client.get(reverse("booking-page", args=["nobody"])).status_code == 404
    assert client.get(_type_url(bravo).replace(workspace_b.slug, "alpha-clinic")).status_code == 404
    assert client.get(_type_url(inactive)).status_code == 404


def test_slots_show_in_the_visitors_time_zone(client, massage):
    response = client.get(_type_url(massage, tz="America/New_York", week="2026-01-12"))

    assert response.status_code == 200
    html = response.content.decode()
    # London's 09:00 on Monday 12 January is 04:00 in New York, in winter.
    assert 'name="start" value="2026-01-12T09:00:00Z" class="slot">04:00</button>' in html
    assert "<option selected>America/New_York</option>" in html
    assert "Mon 12 Jan" in html


def test_slots_default_to_the_workspace_time_zone_and_the_page_asks_the_browser(client, massage):
    response = client.get(_type_url(massage, week="2026-01-12"))

    html = response.content.decode()
    assert 'value="2026-01-12T09:00:00Z" class="slot">09:00</button>' in html
    assert "<option selected>Europe/London</option>" in html
    # static/js/app.js asks the browser for its zone on a form marked data-detect-tz (a script
    # file: the Content-Security-Policy allows no inline script).
    assert "data-detect-tz" in html
    assert "/static/js/app.js" in html
    # Once the zone is in the address, the page does not ask again (no reload loop).
    asked = client.get(_type_url(massage, tz="Europe/London"))
    assert b"data-detect-tz" not in asked.content


def test_an_unknown_time_zone_falls_back_to_the_workspaces(client, massage):
    response = client.get(_type_url(massage, tz="Mars/Olympus_Mons", week="2026-01-12"))

    assert response.status_code == 200
    assert b'class="slot">09:00</button>' in response.content


def test_the_page_shows_a_week_at_a_time_with_next_and_previous(client, massage):
    this_week = client.get(_type_url(massage, tz="Europe/London")).content.decode()
    # Today is Wednesday 7th at noon: the week runs to Tuesday 13th, from noon on.
    assert "Wed 7 Jan" in this_week and "Tue 13 Jan" in this_week
    assert 'value="2026-01-07T11:00:00Z"' not in this_week
    assert 'value="2026-01-07T12:00:00Z"' in this_week
    assert "week=2026-01-14" in this_week
    assert 'rel="prev"' not in this_week

    next_week = client.get(_type_url(massage, tz="Europe/London", week="2026-01-14"))
    html = next_week.content.decode()
    assert "Wed 14 Jan" in html and "Tue 20 Jan" in html
    assert "week=2026-01-07" in html and 'rel="prev"' in html


def test_choosing_a_slot_shows_the_details_form(client, massage):
    response = client.get(_type_url(massage, tz="America/New_York", start="2026-01-12T09:00:00Z"))

    html = response.content.decode()
    assert f"Monday 12 January 2026, 04:00{DASH}05:00" in html
    assert 'name="start" value="2026-01-12T09:00:00Z"' in html
    for field in ("name", "email", "phone", "notes", "website"):
        assert f'name="{field}"' in html


def test_booking_through_the_page_creates_the_contact_and_the_booking(client, massage):
    response = client.post(_type_url(massage), _details(tz="America/New_York"))

    booking = Booking.objects.get()
    contact = Contact.objects.get()
    assert (contact.name, contact.email, contact.source) == (
        "Ada Lovelace",
        "ada@example.org",
        "booking",
    )
    assert (booking.contact, booking.start, booking.source, booking.notes) == (
        contact,
        MONDAY_9,
        "public",
        "Sore shoulder",
    )
    token = booking_manage_token(booking)
    confirmed = reverse("booking-confirmed", args=["alpha-clinic", token])
    assert response.status_code == 302
    assert response["Location"] == f"{confirmed}?tz=America%2FNew_York"

    page = client.get(response["Location"]).content.decode()
    assert "You're booked" in page
    assert f"Monday 12 January 2026, 04:00{DASH}05:00" in page
    assert reverse("booking-ics", args=[token]) in page
    assert f"http://testserver{reverse('booking-manage', args=[token])}" in page


def test_an_existing_client_is_reused_by_email(client, massage):
    known = ContactFactory(workspace=massage.workspace, email="ada@example.org", name="Ada L.")

    client.post(_type_url(massage), _details())

    assert Booking.objects.get().contact == known
    assert Contact.objects.count() == 1


def test_a_slot_taken_meanwhile_shows_the_error_and_fresh_slots_with_409(client, massage):
    BookingFactory(workspace=massage.workspace, booking_type=massage, start=MONDAY_9)
    contacts_before = Contact.objects.count()

    response = client.post(_type_url(massage), _details(email="late@example.org"))

    assert response.status_code == 409
    html = response.content.decode()
    assert "That time was just taken" in html
    assert 'value="2026-01-12T09:00:00Z"' not in html
    assert 'value="2026-01-12T10:00:00Z"' in html
    assert Booking.objects.count() == 1
    assert Contact.objects.count() == contacts_before  # nothing left behind


def test_the_details_are_checked(client, massage):
    response = client.post(_type_url(massage), _details(name="", email="not-an-email"))

    assert response.status_code == 400
    html = response.content.decode()
    assert 'id="id_name-error">This field is required.' in html
    assert 'id="id_email-error">Enter a valid email address.' in html
    assert not Booking.objects.exists()


def test_a_time_the_rules_refuse_is_explained_on_the_form(client, massage):
    response = client.post(_type_url(massage), _details(start="2026-01-10T09:00:00Z"))  # Sat

    assert response.status_code in (400, 409)
    assert not Booking.objects.exists()
    assert b'class="errors" role="alert"' in response.content


def test_the_honeypot_stores_nothing(client, massage):
    response = client.post(_type_url(massage), _details(website="http://spam.example"))

    assert response.status_code == 302
    assert response["Location"] == reverse("booking-page", args=["alpha-clinic"])
    assert not Booking.objects.exists()
    assert not Contact.objects.exists()


def test_bookings_are_rate_limited_per_visitor(client, massage, settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            **settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"],
            "contact_form": "1/hour",
        },
    }
    client.post(_type_url(massage), _details())

    limited = client.post(_type_url(massage), _details(start="2026-01-12T10:00:00Z"))
    elsewhere = client.post(
        _type_url(massage), _details(start="2026-01-12T11:00:00Z"), REMOTE_ADDR="10.9.9.9"
    )

    assert limited.status_code == 429
    assert b"Too many bookings" in limited.content
    assert elsewhere.status_code == 302
    assert Booking.objects.count() == 2


def test_the_booking_form_needs_no_csrf_cookie(massage):
    response = Client(enforce_csrf_checks=True).post(_type_url(massage), _details())

    assert response.status_code == 302
    assert Booking.objects.count() == 1


def test_the_confirmation_of_another_workspace_or_a_forged_token_is_404(client, booking):
    token = booking_manage_token(booking)

    assert client.get(reverse("booking-confirmed", args=["bravo-salon", token])).status_code == 404
    assert client.get(reverse("booking-confirmed", args=["alpha-clinic", "x:y"])).status_code == 404


# --- The signed link: cancel, reschedule, contact us ---------------------------------------------


def test_the_manage_page_shows_the_booking_in_the_visitors_zone(client, booking):
    response = client.get(_manage_url(booking, tz="America/New_York"))

    html = response.content.decode()
    assert response.status_code == 200
    assert f"Monday 12 January 2026, 04:00{DASH}05:00" in html
    assert "Massage" in html and "12 High Street, Bath" in html
    assert "Cancel booking" in html and "Reschedule" in html


def test_a_client_cancels_before_the_cutoff(client, booking):
    response = client.post(_manage_url(booking), {"action": "cancel", "tz": "Europe/London"})

    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert response.status_code == 302
    page = client.get(response["Location"]).content.decode()
    assert "Your booking is cancelled." in page
    assert "Cancelled" in page


def test_a_cancelled_booking_shows_as_cancelled_with_no_actions(client, booking):
    booking.status = Booking.Status.CANCELLED
    booking.save()

    html = client.get(_manage_url(booking)).content.decode()

    assert "Cancelled" in html
    assert "Cancel booking" not in html
    assert "Reschedule" not in html
    refused = client.post(_manage_url(booking), {"action": "cancel"})
    assert refused.status_code == 409


def test_past_the_cutoff_the_page_says_so_and_offers_to_write_instead(client, booking, frozen):
    frozen.move_to(MONDAY_9 - timedelta(hours=3))  # the cutoff is 24 hours before

    page = client.get(_manage_url(booking, tz="Europe/London"))
    refused = client.post(_manage_url(booking), {"action": "cancel", "tz": "Europe/London"})

    assert b"too late to change this booking online" in page.content
    assert b"Cancel booking" not in page.content
    assert b'name="message"' in page.content
    assert refused.status_code == 409
    assert b"too late to change this booking online" in refused.content
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CONFIRMED

    sent = client.post(
        _manage_url(booking),
        {"action": "contact", "tz": "Europe/London", "message": "I am running late, sorry"},
    )

    assert sent.status_code == 302
    assert b"Your message has reached Alpha Clinic" in client.get(sent["Location"]).content
    message = Message.objects.get()
    assert message.workspace_id == booking.workspace_id
    assert message.body == "I am running late, sorry"
    assert message.conversation.contact_id == booking.contact_id
    assert "About my booking on Monday 12 January 2026, 09:00" in message.subject


def test_a_client_reschedules_through_the_manage_page(client, booking):
    picker = client.get(
        _manage_url(booking, tz="America/New_York", reschedule=1, week="2026-01-12")
    )
    assert b"Choose a new time" in picker.content
    assert b'value="2026-01-12T10:00:00Z" class="slot">05:00</button>' in picker.content

    confirm = client.get(
        _manage_url(booking, tz="America/New_York", reschedule=1, start="2026-01-12T14:00:00Z")
    )
    assert f"Monday 12 January 2026, 09:00{DASH}10:00" in confirm.content.decode()

    response = client.post(
        _manage_url(booking),
        {"action": "reschedule", "start": "2026-01-12T14:00:00Z", "tz": "America/New_York"},
    )

    booking.refresh_from_db()
    assert (booking.start, booking.reschedule_count) == (MONDAY_9 + timedelta(hours=5), 1)
    assert response.status_code == 302
    moved = client.get(response["Location"]).content.decode()
    assert "Your booking is moved." in moved
    assert f"Monday 12 January 2026, 09:00{DASH}10:00" in moved


def test_rescheduling_to_a_taken_time_shows_the_error_with_409(client, booking):
    BookingFactory(workspace=booking.workspace, booking_type=booking.booking_type, start=MONDAY_10)

    response = client.post(
        _manage_url(booking),
        {"action": "reschedule", "start": "2026-01-12T10:00:00Z", "tz": "Europe/London"},
    )

    assert response.status_code == 409
    assert b"That time was just taken" in response.content
    assert b'value="2026-01-12T11:00:00Z"' in response.content
    booking.refresh_from_db()
    assert booking.start == MONDAY_9


def test_a_forged_or_revoked_link_is_404(client, booking):
    token = booking_manage_token(booking)
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    for url in (
        reverse("booking-manage", args=[forged]),
        reverse("booking-manage", args=["nonsense"]),
        reverse("booking-ics", args=[forged]),
    ):
        response = client.get(url)
        assert response.status_code == 404
        assert b"This link is not valid" in response.content
    assert (
        client.post(reverse("booking-manage", args=[forged]), {"action": "cancel"}).status_code
        == 404
    )

    booking.manage_nonce = "rotated"
    booking.save()
    assert client.get(reverse("booking-manage", args=[token])).status_code == 404


def test_add_to_calendar_downloads_the_booking(client, booking):
    response = client.get(reverse("booking-ics", args=[booking_manage_token(booking)]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="booking.ics"'
    body = response.content.decode()
    assert "DTSTART:20260112T090000Z\r\n" in body
    assert "SUMMARY:Massage at Alpha Clinic\r\n" in body


@pytest.mark.parametrize("weeks_booked", [0, 1])
def test_the_slot_page_takes_five_queries(client, massage, weeks_booked, django_assert_num_queries):
    for day in range(5 * weeks_booked):
        BookingFactory(
            workspace=massage.workspace,
            booking_type=massage,
            start=MONDAY_9 + timedelta(days=day % 5, hours=day),
        )

    # 5 queries: the booking type (workspace joined), then availability's staff, working
    # hours, date overrides and bookings
    with django_assert_num_queries(5):
        response = client.get(_type_url(massage, tz="Europe/London", week="2026-01-12"))

    assert response.status_code == 200

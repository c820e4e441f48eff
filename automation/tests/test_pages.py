"""The automation pages: the owner's rules (switch, edit, try without sending), the alerts page,
and automation's panels on the dashboard, the booking page and the contact's timeline. Times
are on the workspace's clock (Europe/London)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from itertools import count

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from automation.models import Alert, AutomationRun, Reminder, Rule
from automation.rules import rules_for
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from contacts.selectors import contact_timeline
from contacts.services.merge import contact_merge
from contacts.tests.factories import ContactFactory
from messaging.models import Message

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
# Wednesday 1 July 2026, 07:00 UTC = 08:00 in London (summer time).
NOW = datetime(2026, 7, 1, 7, 0, tzinfo=UTC)
KEYS = count()


@pytest.fixture(autouse=True)
def _frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def rule(workspace, kind: str) -> Rule:
    return rules_for(workspace)[kind]


def edit_url(r: Rule) -> str:
    return reverse("settings-automation-rule", args=[r.pk])


def toggle_url(r: Rule) -> str:
    return reverse("settings-automation-rule-toggle", args=[r.pk])


def try_url(r: Rule) -> str:
    return reverse("settings-automation-rule-try", args=[r.pk])


def alert(workspace, message="Consent form is overdue", **fields) -> Alert:
    defaults = {
        "kind": Alert.Kind.FORM_OVERDUE,
        "subject_type": "form_submission",
        "subject_id": next(KEYS),
        "url": "/forms/1/",
    }
    return Alert.objects.create(workspace=workspace, message=message, **{**defaults, **fields})


def run(workspace, kind=Rule.Kind.WELCOME, **fields) -> AutomationRun:
    return AutomationRun.objects.create(
        workspace=workspace,
        rule=rule(workspace, kind),
        key=f"test:{next(KEYS)}",
        **{"outcome": AutomationRun.Outcome.SENT, **fields},
    )


def queries_for(client, url: str) -> int:
    client.get(url)  # warm: the first request of a session may do more
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url)
    assert response.status_code == 200
    return len(captured)


def welcome_form(**overrides) -> dict:
    return {
        "subject": "Hello from {{ workspace.name }}",
        "body": "Hi {{ contact.first_name }}, welcome aboard.",
        "sms_body": "Hi {{ contact.first_name }}!",
        **overrides,
    }


def reminder_form(**overrides) -> dict:
    return {
        "subject": "Soon: {{ booking.service }}",
        "body": "See you at {{ booking.start_local }}.",
        "sms_body": "See you at {{ booking.start_local }}.",
        "offset_hours": "24",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        **overrides,
    }


# --- The rules --------------------------------------------------------------------------------


def test_the_owner_sees_every_rule_with_its_switch_and_a_summary(owner_client, workspace_a):
    response = owner_client.get(reverse("settings-automation"))

    assert response.status_code == 200
    html = response.content.decode()
    rules = rules_for(workspace_a)
    assert html.count('data-testid="rule"') == len(Rule.Kind.values)
    for r in rules.values():
        assert f'href="{edit_url(r)}"' in html
        assert f'action="{toggle_url(r)}"' in html
    assert "Reminds the client 1 day before the booking, never between 21:00 and 08:00." in html
    assert "Sends “Welcome to {{ workspace.name }}” by email or SMS" in html
    assert html.count('data-testid="rule-state">On<') == len(Rule.Kind.values)


def test_the_rules_page_takes_a_constant_number_of_queries(
    owner_client, workspace_a, django_assert_max_num_queries
):
    rules_for(workspace_a)

    # session, user, membership+workspace, the workspace's rules, the switcher
    with django_assert_max_num_queries(5):
        response = owner_client.get(reverse("settings-automation"))

    assert response.status_code == 200


def test_staff_may_not_open_or_change_the_automation_settings(staff_client, workspace_a):
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    assert staff_client.get(reverse("settings-automation")).status_code == 403
    assert staff_client.get(edit_url(welcome)).status_code == 403
    assert staff_client.post(edit_url(welcome), welcome_form()).status_code == 403
    assert staff_client.post(toggle_url(welcome), {"is_enabled": "0"}).status_code == 403
    assert staff_client.post(try_url(welcome), {"target": "1"}).status_code == 403
    welcome.refresh_from_db()
    assert welcome.is_enabled


def test_another_workspaces_rule_is_not_found(outsider_client, workspace_a):
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    assert outsider_client.get(edit_url(welcome)).status_code == 404
    assert outsider_client.post(edit_url(welcome), welcome_form()).status_code == 404
    assert outsider_client.post(toggle_url(welcome), {"is_enabled": "0"}).status_code == 404
    assert outsider_client.post(try_url(welcome), {"target": "1"}).status_code == 404
    welcome.refresh_from_db()
    assert welcome.is_enabled
    assert welcome.subject == "Welcome to {{ workspace.name }}"


def test_the_owner_switches_a_rule_off_and_on_again_with_htmx(owner_client, workspace_a):
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    off = owner_client.post(toggle_url(welcome), {"is_enabled": "0"}, **HTMX)

    assert off.status_code == 200
    assert b'data-testid="rule-state">Off<' in off.content
    assert b"Switch on" in off.content
    assert b"<html" not in off.content  # the partial only
    welcome.refresh_from_db()
    assert not welcome.is_enabled

    on = owner_client.post(toggle_url(welcome), {"is_enabled": "1"}, **HTMX)

    assert b'data-testid="rule-state">On<' in on.content
    welcome.refresh_from_db()
    assert welcome.is_enabled


def test_switching_a_rule_off_without_javascript_says_so_on_the_list(owner_client, workspace_a):
    reminder = rule(workspace_a, Rule.Kind.BOOKING_REMINDER)

    response = owner_client.post(toggle_url(reminder), {"is_enabled": "0"}, follow=True)

    assert response.redirect_chain[-1][0] == reverse("settings-automation")
    assert "“Remind before a booking” is off." in response.content.decode()
    reminder.refresh_from_db()
    assert not reminder.is_enabled


def test_the_edit_page_shows_only_the_settings_its_rule_uses(owner_client, workspace_a):
    welcome = owner_client.get(edit_url(rule(workspace_a, Rule.Kind.WELCOME))).content.decode()
    reminder = owner_client.get(edit_url(rule(workspace_a, Rule.Kind.BOOKING_REMINDER)))
    stock = owner_client.get(edit_url(rule(workspace_a, Rule.Kind.STOCK_LOW))).content.decode()
    pause = owner_client.get(edit_url(rule(workspace_a, Rule.Kind.PAUSE_ON_REPLY)))

    assert 'name="subject"' in welcome and 'name="sms_body"' in welcome
    assert "<textarea" in welcome
    assert 'name="offset_hours"' not in welcome
    assert 'name="offset_hours" value="24"' in reminder.content.decode()
    assert 'name="quiet_start" value="21:00"' in reminder.content.decode()
    assert 'name="email_owners"' in stock and 'name="body"' not in stock
    assert b"Nothing to set for this rule" in pause.content
    assert b'aria-current="page">Automation<' in pause.content


def test_the_owner_edits_the_welcome_message(owner_client, workspace_a):
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    response = owner_client.post(edit_url(welcome), welcome_form(), follow=True)

    assert response.redirect_chain[-1][0] == reverse("settings-automation")
    assert "“Welcome a new contact” is saved." in response.content.decode()
    welcome.refresh_from_db()
    assert welcome.subject == "Hello from {{ workspace.name }}"
    assert welcome.body == "Hi {{ contact.first_name }}, welcome aboard."
    assert welcome.sms_body == "Hi {{ contact.first_name }}!"


def test_a_template_naming_an_unknown_variable_is_refused_on_its_field(owner_client, workspace_a):
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    response = owner_client.post(edit_url(welcome), welcome_form(body="Hi {{ client.name }}"))

    assert response.status_code == 400
    html = response.content.decode()
    body_field = html.split('for="id_body"')[1].split('class="field')[0]
    assert 'class="error"' in body_field
    assert "Hi {{ client.name }}" in html  # what the owner typed stays
    welcome.refresh_from_db()
    assert welcome.body.startswith("Hi {{ contact.first_name|default:'there' }}")


def test_an_empty_text_message_is_refused_on_its_field(owner_client, workspace_a):
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    response = owner_client.post(edit_url(welcome), welcome_form(sms_body=""))

    assert response.status_code == 400
    sms_field = response.content.decode().split('for="id_sms_body"')[1].split("</div>")[0]
    assert "Write the text message." in sms_field


def test_the_reminder_is_set_in_hours_with_its_quiet_hours(owner_client, workspace_a):
    reminder = rule(workspace_a, Rule.Kind.BOOKING_REMINDER)

    form = reminder_form(offset_hours="2.5", quiet_start="22:00", quiet_end="07:30")
    response = owner_client.post(edit_url(reminder), form)

    assert response.status_code == 302
    reminder.refresh_from_db()
    assert reminder.offset_minutes == 150
    assert (reminder.quiet_start, reminder.quiet_end) == (time(22), time(7, 30))
    listing = owner_client.get(reverse("settings-automation")).content.decode()
    assert "Reminds the client 150 minutes before the booking, never between 22:00 and 07:30." in (
        listing
    )


def test_reminders_may_go_out_at_any_hour(owner_client, workspace_a):
    reminder = rule(workspace_a, Rule.Kind.BOOKING_REMINDER)

    owner_client.post(edit_url(reminder), reminder_form(quiet_start="", quiet_end=""))

    reminder.refresh_from_db()
    assert reminder.quiet_start is None and reminder.quiet_end is None


def test_an_offset_out_of_range_is_refused_on_the_hours_field(owner_client, workspace_a):
    reminder = rule(workspace_a, Rule.Kind.BOOKING_REMINDER)

    response = owner_client.post(edit_url(reminder), reminder_form(offset_hours="0"))

    assert response.status_code == 400
    hours_field = response.content.decode().split('for="id_offset_hours"')[1].split("</div>")[0]
    assert "Choose between 5 minutes and 30 days." in hours_field
    reminder.refresh_from_db()
    assert reminder.offset_minutes == 24 * 60


def test_half_set_quiet_hours_are_refused(owner_client, workspace_a):
    reminder = rule(workspace_a, Rule.Kind.BOOKING_REMINDER)

    response = owner_client.post(edit_url(reminder), reminder_form(quiet_end=""))

    assert response.status_code == 400
    end_field = response.content.decode().split('for="id_quiet_end"')[1].split("</div>")[0]
    assert "Set both ends of the quiet hours, or neither." in end_field


def test_the_owner_has_low_stock_emailed_to_the_owners(owner_client, workspace_a):
    stock = rule(workspace_a, Rule.Kind.STOCK_LOW)

    response = owner_client.post(edit_url(stock), {"email_owners": "on"})

    assert response.status_code == 302
    stock.refresh_from_db()
    assert stock.email_owners


# --- Try it -----------------------------------------------------------------------------------


def test_try_it_shows_the_welcome_a_contact_would_get_without_sending_it(owner_client, workspace_a):
    ada = ContactFactory(
        workspace=workspace_a, name="Ada Lovelace", email="ada@example.org", email_consent=True
    )
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    page = owner_client.get(edit_url(welcome)).content.decode()
    response = owner_client.post(try_url(welcome), {"target": ada.pk}, **HTMX)

    assert f'<option value="{ada.pk}">Ada Lovelace (ada@example.org)</option>' in page
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-would="send"' in html
    assert 'data-testid="dry-run-to">ada@example.org<' in html
    assert 'data-testid="dry-run-subject">Welcome to Alpha Clinic<' in html
    assert "Hi Ada," in html
    assert not Message.objects.exists()
    assert not AutomationRun.objects.exists()


def test_try_it_says_why_a_switched_off_rule_would_send_nothing(owner_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, email_consent=True)
    welcome = rule(workspace_a, Rule.Kind.WELCOME)
    owner_client.post(toggle_url(welcome), {"is_enabled": "0"})

    response = owner_client.post(try_url(welcome), {"target": ada.pk}, **HTMX)

    assert 'data-would="skip"' in response.content.decode()
    assert "It would send nothing: This rule is switched off." in response.content.decode()


def test_try_it_on_a_booking_rule_chooses_among_the_bookings(owner_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace", email_consent=True)
    massage = BookingTypeFactory(workspace=workspace_a, name="Massage")
    start = NOW + timedelta(days=2, hours=2)  # Friday 3 July, 10:00 in London
    b = BookingFactory(workspace=workspace_a, contact=ada, booking_type=massage, start=start)
    confirmation = rule(workspace_a, Rule.Kind.BOOKING_CONFIRMATION)

    page = owner_client.get(edit_url(confirmation)).content.decode()
    response = owner_client.post(try_url(confirmation), {"target": b.pk})  # without JavaScript

    assert "Fri 3 Jul 2026 10:00 · Massage · Ada Lovelace (confirmed)" in page
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html  # the whole edit page, with the result
    assert 'data-would="send"' in html
    assert 'data-testid="dry-run-subject">Booked: Massage' in html
    assert ".ics" in html
    assert not Message.objects.exists()


def test_try_it_refuses_another_workspaces_contact(owner_client, workspace_a, workspace_b):
    stranger = ContactFactory(workspace=workspace_b, email_consent=True)
    welcome = rule(workspace_a, Rule.Kind.WELCOME)

    response = owner_client.post(try_url(welcome), {"target": stranger.pk}, **HTMX)

    assert response.status_code == 400
    assert "Select a valid choice." in response.content.decode()
    assert stranger.email not in response.content.decode()


# --- Alerts -----------------------------------------------------------------------------------


def test_the_alerts_page_lists_the_open_alerts_newest_first(staff_client, workspace_a, owner):
    older = alert(workspace_a, "Intake form is overdue", created_at=NOW - timedelta(hours=2))
    newer = alert(
        workspace_a,
        "Gloves are low",
        kind=Alert.Kind.STOCK_LOW,
        severity=Alert.Severity.CRITICAL,
        url="/inventory/3/",
    )
    seen = alert(workspace_a, "Seen already", acknowledged_at=NOW, acknowledged_by=owner)
    gone = alert(workspace_a, "Gone already", resolved_at=NOW)

    html = staff_client.get(reverse("alerts")).content.decode()
    everything = staff_client.get(reverse("alerts"), {"closed": "1"}).content.decode()

    assert html.index(f'data-alert="{newer.pk}"') < html.index(f'data-alert="{older.pk}"')
    assert '<a href="/inventory/3/">Gloves are low</a>' in html
    assert "Critical" in html
    assert "Seen already" not in html and "Gone already" not in html
    assert 'href="/alerts/?closed=1"' in html
    assert f'data-alert="{seen.pk}"' in everything and f'data-alert="{gone.pk}"' in everything
    assert f"Acknowledged by {owner.get_full_name()}, 1 Jul, 08:00" in everything
    assert "Resolved, 1 Jul, 08:00" in everything


def test_the_alerts_page_is_paginated_in_constant_queries(
    staff_client, workspace_a, django_assert_max_num_queries
):
    for i in range(30):
        alert(workspace_a, f"Alert {i}", created_at=NOW - timedelta(minutes=i))

    second = staff_client.get(reverse("alerts"), {"page": "2"}).content.decode()

    assert second.count('data-testid="alert"') == 5
    assert "Alert 29" in second and "Alert 24" not in second
    # session, user, membership+workspace, the count, the page (acknowledger joined), switcher
    with django_assert_max_num_queries(6):
        staff_client.get(reverse("alerts"), {"closed": "1"})


def test_staff_acknowledge_an_alert_with_htmx(staff_client, workspace_a, staff):
    a = alert(workspace_a)

    response = staff_client.post(reverse("alert-acknowledge", args=[a.pk]), **HTMX)

    assert response.status_code == 200
    html = response.content.decode()
    assert f'id="alert-{a.pk}"' in html and "<html" not in html
    assert f"Acknowledged by {staff.get_full_name()}" in html
    assert "Acknowledge</button>" not in html
    a.refresh_from_db()
    assert (a.acknowledged_at, a.acknowledged_by) == (NOW, staff)


def test_acknowledging_without_javascript_goes_back_to_the_page(owner_client, workspace_a):
    first, second = alert(workspace_a), alert(workspace_a)

    back = owner_client.post(reverse("alert-acknowledge", args=[first.pk]), {"next": "/"})
    elsewhere = owner_client.post(
        reverse("alert-acknowledge", args=[second.pk]), {"next": "https://evil.example/"}
    )

    assert back.status_code == 302 and back["Location"] == "/"
    assert elsewhere["Location"] == reverse("alerts")
    assert Alert.objects.filter(acknowledged_at__isnull=False).count() == 2


def test_an_outsider_neither_sees_nor_acknowledges_another_workspaces_alerts(
    outsider_client, workspace_a
):
    a = alert(workspace_a, "Alpha's secret alert")

    listing = outsider_client.get(reverse("alerts"), {"closed": "1"})
    response = outsider_client.post(reverse("alert-acknowledge", args=[a.pk]), **HTMX)

    assert b"Alpha's secret alert" not in listing.content
    assert response.status_code == 404
    a.refresh_from_db()
    assert a.acknowledged_at is None


# --- The dashboard ----------------------------------------------------------------------------


def test_the_dashboard_lists_the_newest_open_alerts_to_acknowledge(staff_client, workspace_a):
    alerts = [
        alert(workspace_a, f"Alert {i}", created_at=NOW - timedelta(minutes=i)) for i in range(9)
    ]
    alert(workspace_a, "Already seen", acknowledged_at=NOW)

    html = staff_client.get(reverse("dashboard")).content.decode()

    panel = html.split('data-testid="alerts-panel"')[1].split("</section>")[0]
    assert panel.count('data-testid="alert"') == 8
    assert panel.index("Alert 0") < panel.index("Alert 7")
    assert "Alert 8" not in panel and "Already seen" not in panel
    assert f'hx-post="{reverse("alert-acknowledge", args=[alerts[0].pk])}"' in panel
    assert '<a href="/forms/1/">Alert 0</a>' in panel
    assert f'<a href="{reverse("alerts")}">All open alerts</a>' in panel


def test_the_dashboard_says_when_nothing_needs_attention(staff_client):
    html = staff_client.get(reverse("dashboard")).content.decode()

    panel = html.split('data-testid="alerts-panel"')[1].split("</section>")[0]
    assert "Nothing needs your attention." in panel


# --- The booking page -------------------------------------------------------------------------


def test_the_booking_page_shows_what_automation_did_and_the_reminders(staff_client, workspace_a):
    start = NOW + timedelta(days=2)  # Friday 3 July, 08:00 in London
    b = BookingFactory(workspace=workspace_a, start=start)
    run(workspace_a, Rule.Kind.BOOKING_CONFIRMATION, booking=b, contact=b.contact)
    run(
        workspace_a,
        Rule.Kind.BOOKING_FORMS,
        booking=b,
        outcome=AutomationRun.Outcome.SKIPPED,
        reason="No forms are linked to this service.",
    )
    Reminder.objects.create(
        workspace=workspace_a,
        booking=b,
        offset_minutes=24 * 60,
        booking_start=start,
        due_at=start - timedelta(days=1),
    )

    html = staff_client.get(reverse("booking-detail", args=[b.pk])).content.decode()

    panel = html.split('data-testid="booking-automation"')[1].split("</section>")[0]
    assert "Confirm a booking" in panel
    assert "Skipped</span>" in panel and "No forms are linked to this service." in panel
    reminders = panel.split('data-testid="booking-reminders"')[1].split("</ul>")[0]
    assert "Thu 2 Jul, 08:00" in reminders  # 07:00 UTC on the workspace's clock
    assert "Planned" in reminders


def test_the_booking_pages_automation_panel_takes_constant_queries(staff_client, workspace_a):
    start = NOW + timedelta(days=2)
    b = BookingFactory(workspace=workspace_a, start=start)
    url = reverse("booking-detail", args=[b.pk])
    few = queries_for(staff_client, url)
    for kind in (Rule.Kind.BOOKING_CONFIRMATION, Rule.Kind.BOOKING_FORMS, Rule.Kind.WELCOME):
        run(workspace_a, kind, booking=b)
    for hours in (1, 24, 48):
        Reminder.objects.create(
            workspace=workspace_a,
            booking=b,
            offset_minutes=hours * 60,
            booking_start=start,
            due_at=start - timedelta(hours=hours),
        )

    assert queries_for(staff_client, url) == few


# --- The contact's timeline -------------------------------------------------------------------


def test_a_contacts_timeline_says_what_automation_did_and_why_not(owner_client, workspace_a):
    ada = ContactFactory(workspace=workspace_a)
    b = BookingFactory(workspace=workspace_a, contact=ada, start=NOW + timedelta(days=1))
    run(workspace_a, Rule.Kind.WELCOME, contact=ada, created_at=NOW - timedelta(hours=1))
    run(
        workspace_a,
        Rule.Kind.BOOKING_REMINDER,
        contact=ada,
        booking=b,
        outcome=AutomationRun.Outcome.SKIPPED,
        reason="Automation is paused for this conversation.",
    )

    entries = [e for e in contact_timeline(contact=ada) if e.kind == "automation"]
    page = owner_client.get(reverse("contact-detail", args=[ada.pk])).content.decode()

    assert [(e.title, e.detail) for e in entries] == [
        (
            "Automation: Remind before a booking",
            "skipped: Automation is paused for this conversation.",
        ),
        ("Automation: Welcome a new contact", "sent"),
    ]
    assert entries[0].url == reverse("booking-detail", args=[b.pk])
    assert entries[1].url == ""
    assert "Automation: Remind before a booking" in page


def test_merging_contacts_moves_their_automation_runs(workspace_a, owner):
    survivor = ContactFactory(workspace=workspace_a, email="ada@example.org")
    merged = ContactFactory(workspace=workspace_a, email="ada.l@example.org")
    moved = run(workspace_a, Rule.Kind.WELCOME, contact=merged)

    contact_merge(survivor=survivor, merged=merged, actor=owner)

    moved.refresh_from_db()
    assert moved.contact == survivor

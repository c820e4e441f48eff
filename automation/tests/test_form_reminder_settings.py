"""The owner sets the form reminder's times (hours on the settings page, minutes in the API):
each from 1 hour to 30 days, or empty to switch that reminder off; its message keeps the link."""

from __future__ import annotations

import pytest
from django.db import IntegrityError
from django.urls import reverse

from automation.models import Rule
from automation.rules import rules_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def rule(workspace_a) -> Rule:
    return rules_for(workspace_a)[Rule.Kind.FORM_REMINDER]


def edit_url(rule: Rule) -> str:
    return reverse("settings-automation-rule", args=[rule.pk])


def api_url(rule: Rule) -> str:
    return f"/api/v1/automation/rules/{rule.pk}"


def page_form(rule: Rule, **overrides) -> dict:
    return {
        "subject": rule.subject,
        "body": rule.body,
        "sms_body": rule.sms_body,
        "after_sent_hours": "24",
        "before_booking_hours": "24",
        "quiet_start": "21:00",
        "quiet_end": "08:00",
        **overrides,
    }


def field_html(response, name: str) -> str:
    return response.content.decode().split(f'for="id_{name}"')[1].split("</div>")[0]


# --- Defaults ------------------------------------------------------------------------------------


def test_the_rule_is_on_by_default_24_hours_after_sending_and_before_the_booking(rule):
    assert rule.is_enabled
    assert (rule.after_sent_minutes, rule.before_booking_minutes) == (24 * 60, 24 * 60)
    assert "{{ link }}" in rule.body and "{{ link }}" in rule.sms_body
    assert "{{ form.name }}" in rule.body and "{{ form.name }}" in rule.sms_body


def test_the_database_refuses_a_point_out_of_range(rule):
    with pytest.raises(IntegrityError):
        Rule.objects.filter(pk=rule.pk).update(after_sent_minutes=59)


# --- The settings page ---------------------------------------------------------------------------


def test_the_owner_sees_the_form_reminder_with_its_times(owner_client, rule):
    listing = owner_client.get(reverse("settings-automation")).content.decode()
    page = owner_client.get(edit_url(rule)).content.decode()

    assert "Remind clients of pending forms" in listing
    assert (
        "1 day after it was sent and 1 day before its booking, never between 21:00 and 08:00."
    ) in listing
    assert 'name="after_sent_hours" value="24"' in page
    assert 'name="before_booking_hours" value="24"' in page
    assert 'name="quiet_start" value="21:00"' in page
    assert 'name="offset_hours"' not in page


def test_the_owner_sets_the_times_in_hours_and_switches_one_off(owner_client, rule):
    form = page_form(rule, after_sent_hours="6", before_booking_hours="", quiet_start="")
    form["quiet_end"] = ""

    response = owner_client.post(edit_url(rule), form)

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.after_sent_minutes, rule.before_booking_minutes) == (360, None)
    assert rule.quiet_start is None and rule.quiet_end is None
    listing = owner_client.get(reverse("settings-automation")).content.decode()
    assert "with its link: 6 hours after it was sent." in listing


@pytest.mark.parametrize("hours", ["0.5", "721", "-1"])
def test_a_time_out_of_range_is_refused_on_its_field(owner_client, rule, hours):
    response = owner_client.post(edit_url(rule), page_form(rule, before_booking_hours=hours))

    assert response.status_code == 400
    assert "Choose between 1 hour and 30 days, or leave it empty." in field_html(
        response, "before_booking_hours"
    )
    rule.refresh_from_db()
    assert rule.before_booking_minutes == 24 * 60


def test_a_message_without_the_link_is_refused_on_its_field(owner_client, rule):
    form = page_form(rule, sms_body="Please fill in {{ form.name }}.")

    response = owner_client.post(edit_url(rule), form)

    assert response.status_code == 400
    assert "Keep {{ link }} in the message" in field_html(response, "sms_body")


def test_staff_may_not_change_the_form_reminder(staff_client, rule):
    response = staff_client.post(edit_url(rule), page_form(rule, after_sent_hours="2"))

    assert response.status_code == 403
    rule.refresh_from_db()
    assert rule.after_sent_minutes == 24 * 60


# --- The API -------------------------------------------------------------------------------------


def test_the_api_shows_the_form_reminders_times(staff_api, rule):
    response = staff_api.get(api_url(rule))

    assert response.status_code == 200
    body = response.json()
    assert body["kind"] == "form_reminder"
    assert (body["after_sent_minutes"], body["before_booking_minutes"]) == (1440, 1440)


def test_an_owner_sets_the_times_and_switches_one_off_with_null(owner_api, rule):
    response = owner_api.patch(
        api_url(rule), {"after_sent_minutes": 90, "before_booking_minutes": None}, format="json"
    )

    assert response.status_code == 200
    assert (response.json()["after_sent_minutes"], response.json()["before_booking_minutes"]) == (
        90,
        None,
    )
    rule.refresh_from_db()
    assert (rule.after_sent_minutes, rule.before_booking_minutes) == (90, None)


@pytest.mark.parametrize(
    ("field", "value"),
    [("after_sent_minutes", 59), ("before_booking_minutes", 60 * 24 * 30 + 1)],
)
def test_a_time_out_of_range_is_a_400_naming_the_field(owner_api, rule, field, value):
    response = owner_api.patch(api_url(rule), {field: value}, format="json")

    assert response.status_code == 400
    [problem] = response.json()["fields"][field]
    assert problem["message"] == "Choose between 1 hour and 30 days, or leave it empty."
    rule.refresh_from_db()
    assert getattr(rule, field) == 24 * 60


def test_the_times_of_another_rule_are_refused(owner_api, workspace_a):
    reminder = rules_for(workspace_a)[Rule.Kind.BOOKING_REMINDER]

    response = owner_api.patch(api_url(reminder), {"after_sent_minutes": 120}, format="json")

    assert response.status_code == 400
    assert "after_sent_minutes" in response.json()["fields"]


def test_staff_may_not_change_the_times_through_the_api(staff_api, rule):
    response = staff_api.patch(api_url(rule), {"after_sent_minutes": 120}, format="json")

    assert response.status_code == 403


def test_an_outsider_gets_404_for_the_form_reminder(outsider_api, rule):
    response = outsider_api.patch(api_url(rule), {"after_sent_minutes": 120}, format="json")

    assert response.status_code == 404

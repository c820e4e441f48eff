"""The automation API: rules (owners edit and try them), runs (what automation did and why not)
and alerts (staff acknowledge them)."""

from __future__ import annotations

import pytest

from automation.alerts import alert_acknowledge, alert_raise
from automation.models import Alert, AutomationRun, Rule
from automation.rules import rules_for
from bookings.tests.factories import BookingFactory
from contacts.tests.factories import ContactFactory
from messaging.models import Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def rules_of_a(workspace_a):
    return rules_for(workspace_a)


def run_of(rule: Rule, n: int, **values) -> AutomationRun:
    values.setdefault("outcome", AutomationRun.Outcome.SKIPPED)
    return AutomationRun.objects.create(
        workspace_id=rule.workspace_id, rule=rule, key=f"test:{rule.pk}:{n}", **values
    )


def stock_alert(workspace, subject_id: int, message: str = "Gloves is low") -> Alert:
    alert, _ = alert_raise(
        workspace=workspace,
        kind=Alert.Kind.STOCK_LOW,
        subject_type="inventory_item",
        subject_id=subject_id,
        message=message,
        url=f"/inventory/{subject_id}/",
    )
    return alert


# --- Rules -------------------------------------------------------------------------------------


def test_staff_read_every_rule_created_with_its_defaults_on_first_read(staff_api, workspace_a):
    response = staff_api.get("/api/v1/automation/rules")

    assert response.status_code == 200
    body = response.json()
    assert sorted(rule["kind"] for rule in body) == sorted(Rule.Kind.values)
    welcome = next(rule for rule in body if rule["kind"] == "welcome")
    assert welcome["name"] == "Welcome a new contact"
    assert welcome["is_enabled"] is True
    assert "{{ workspace.name }}" in welcome["subject"]
    assert Rule.objects.for_workspace(workspace_a).count() == len(Rule.Kind.values)


def test_the_rules_list_takes_three_queries(staff_api, rules_of_a, django_assert_max_num_queries):
    # 3 queries: the token's user, the workspace membership, the workspace's rules
    with django_assert_max_num_queries(3):
        response = staff_api.get("/api/v1/automation/rules")

    assert response.status_code == 200


def test_staff_read_one_rule(staff_api, rules_of_a):
    rule = rules_of_a["booking_reminder"]

    response = staff_api.get(f"/api/v1/automation/rules/{rule.pk}")

    assert response.status_code == 200
    assert (response.json()["kind"], response.json()["offset_minutes"]) == (
        "booking_reminder",
        24 * 60,
    )


def test_an_owner_switches_a_rule_off_and_edits_its_message(owner_api, rules_of_a):
    rule = rules_of_a["welcome"]

    response = owner_api.patch(
        f"/api/v1/automation/rules/{rule.pk}",
        {"is_enabled": False, "body": "Hello {{ contact.first_name }}!", "kind": "stock_low"},
        format="json",
    )

    assert response.status_code == 200, response.json()
    rule.refresh_from_db()
    assert (rule.is_enabled, rule.body, rule.kind) == (
        False,
        "Hello {{ contact.first_name }}!",
        "welcome",
    )
    assert response.json()["is_enabled"] is False


def test_a_broken_template_is_a_400_naming_the_field(owner_api, rules_of_a):
    rule = rules_of_a["welcome"]

    response = owner_api.patch(
        f"/api/v1/automation/rules/{rule.pk}", {"body": "Hi {% if %}"}, format="json"
    )

    assert response.status_code == 400
    assert "body" in response.json()["fields"]
    rule.refresh_from_db()
    assert "{% if %}" not in rule.body


def test_an_offset_out_of_range_is_a_400(owner_api, rules_of_a):
    rule = rules_of_a["booking_reminder"]

    response = owner_api.patch(
        f"/api/v1/automation/rules/{rule.pk}", {"offset_minutes": 1}, format="json"
    )

    assert response.status_code == 400
    assert "offset_minutes" in response.json()["fields"]


def test_an_owner_turns_on_the_low_stock_email(owner_api, rules_of_a):
    rule = rules_of_a["stock_low"]

    response = owner_api.patch(
        f"/api/v1/automation/rules/{rule.pk}", {"email_owners": True}, format="json"
    )

    assert response.status_code == 200
    rule.refresh_from_db()
    assert rule.email_owners is True


def test_staff_may_not_change_a_rule(staff_api, rules_of_a):
    rule = rules_of_a["welcome"]

    response = staff_api.patch(
        f"/api/v1/automation/rules/{rule.pk}", {"is_enabled": False}, format="json"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    rule.refresh_from_db()
    assert rule.is_enabled is True


def test_an_outsider_gets_404_for_a_rule(outsider_api, rules_of_a):
    rule = rules_of_a["welcome"]

    assert outsider_api.get(f"/api/v1/automation/rules/{rule.pk}").status_code == 404
    response = outsider_api.patch(
        f"/api/v1/automation/rules/{rule.pk}", {"is_enabled": False}, format="json"
    )
    assert response.status_code == 404
    rule.refresh_from_db()
    assert rule.is_enabled is True


# --- Dry run -------------------------------------------------------------------------------------


def test_an_owner_sees_what_the_welcome_would_send_without_sending(
    owner_api, rules_of_a, workspace_a
):
    contact = ContactFactory(
        workspace=workspace_a, name="Ada Lovelace", email="ada@example.org", email_consent=True
    )
    rule = rules_of_a["welcome"]

    response = owner_api.post(
        f"/api/v1/automation/rules/{rule.pk}/dry-run", {"contact_id": contact.pk}, format="json"
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["would"], body["channel"], body["to"]) == ("send", "email", "ada@example.org")
    assert body["subject"] == "Welcome to Alpha Clinic"
    assert body["body"].startswith("Hi Ada,")
    assert not Message.objects.exists()
    assert not AutomationRun.objects.exists()


def test_a_dry_run_of_a_booking_rule_shows_the_booking_message(owner_api, rules_of_a, workspace_a):
    booking = BookingFactory(workspace=workspace_a)
    rule = rules_of_a["booking_confirmation"]

    response = owner_api.post(
        f"/api/v1/automation/rules/{rule.pk}/dry-run", {"booking_id": booking.pk}, format="json"
    )

    assert response.status_code == 200, response.json()
    assert response.json()["would"] in ("send", "skip")
    assert not Message.objects.exists()


def test_a_dry_run_of_a_booking_rule_without_a_booking_is_a_400(owner_api, rules_of_a):
    rule = rules_of_a["booking_reminder"]

    response = owner_api.post(f"/api/v1/automation/rules/{rule.pk}/dry-run", {}, format="json")

    assert response.status_code == 400
    assert "booking_id" in response.json()["fields"]


def test_a_dry_run_on_another_workspaces_contact_is_a_400(owner_api, rules_of_a, workspace_b):
    theirs = ContactFactory(workspace=workspace_b)
    rule = rules_of_a["welcome"]

    response = owner_api.post(
        f"/api/v1/automation/rules/{rule.pk}/dry-run", {"contact_id": theirs.pk}, format="json"
    )

    assert response.status_code == 400
    assert "contact_id" in response.json()["fields"]


def test_staff_may_not_dry_run_a_rule(staff_api, rules_of_a, workspace_a):
    contact = ContactFactory(workspace=workspace_a)
    rule = rules_of_a["welcome"]

    response = staff_api.post(
        f"/api/v1/automation/rules/{rule.pk}/dry-run", {"contact_id": contact.pk}, format="json"
    )

    assert response.status_code == 403


def test_an_outsider_gets_404_for_a_dry_run(outsider_api, rules_of_a):
    rule = rules_of_a["stock_low"]

    response = outsider_api.post(f"/api/v1/automation/rules/{rule.pk}/dry-run", {}, format="json")

    assert response.status_code == 404


# --- Runs ----------------------------------------------------------------------------------------


def test_staff_see_what_automation_did_for_a_contact_newest_first(
    staff_api, rules_of_a, workspace_a
):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    other = ContactFactory(workspace=workspace_a)
    welcome = rules_of_a["welcome"]
    sent = run_of(welcome, 1, contact=ada, outcome="sent", reason="Sent by email.")
    paused = run_of(welcome, 2, contact=ada, reason="Automation is paused.")
    run_of(welcome, 3, contact=other)

    response = staff_api.get("/api/v1/automation/runs", {"contact": ada.pk})

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [run["id"] for run in body["results"]] == [paused.pk, sent.pk]
    first = body["results"][0]
    assert first["rule_kind"] == "welcome"
    assert first["rule_name"] == "Welcome a new contact"
    assert first["contact"] == {"id": ada.pk, "name": "Ada Lovelace"}
    assert (first["outcome"], first["reason"]) == ("skipped", "Automation is paused.")


def test_runs_filter_by_booking_rule_and_outcome(staff_api, rules_of_a, workspace_a):
    booking = BookingFactory(workspace=workspace_a)
    confirmation = rules_of_a["booking_confirmation"]
    reminder = rules_of_a["booking_reminder"]
    confirmed = run_of(confirmation, 1, booking=booking, outcome="sent")
    failed = run_of(reminder, 2, booking=booking, outcome="failed")
    run_of(confirmation, 3)

    by_booking = staff_api.get("/api/v1/automation/runs", {"booking": booking.pk}).json()
    by_rule = staff_api.get("/api/v1/automation/runs", {"rule": reminder.pk}).json()
    by_outcome = staff_api.get("/api/v1/automation/runs", {"outcome": "sent"}).json()

    assert {run["id"] for run in by_booking["results"]} == {confirmed.pk, failed.pk}
    assert [run["id"] for run in by_rule["results"]] == [failed.pk]
    assert [run["id"] for run in by_outcome["results"]] == [confirmed.pk]


def test_an_unknown_outcome_is_a_400(staff_api):
    response = staff_api.get("/api/v1/automation/runs", {"outcome": "maybe"})

    assert response.status_code == 400
    assert "outcome" in response.json()["fields"]


@pytest.mark.parametrize("runs", [3, 30])
def test_the_runs_list_takes_a_constant_number_of_queries(
    owner_api, rules_of_a, workspace_a, runs, django_assert_max_num_queries
):
    for n in range(runs):
        run_of(rules_of_a["welcome"], n, contact=ContactFactory(workspace=workspace_a))

    # 4 queries: the token's user, the workspace membership, the count, the page of runs
    # (rule, event and contact joined)
    with django_assert_max_num_queries(4):
        response = owner_api.get("/api/v1/automation/runs")

    assert response.status_code == 200
    assert response.json()["count"] == runs


def test_staff_read_one_run_and_an_outsider_gets_404(staff_api, outsider_api, rules_of_a):
    run = run_of(rules_of_a["welcome"], 1, reason="Switched off.")

    assert staff_api.get(f"/api/v1/automation/runs/{run.pk}").json()["reason"] == "Switched off."
    response = outsider_api.get(f"/api/v1/automation/runs/{run.pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_an_outsider_lists_none_of_another_workspaces_runs(outsider_api, rules_of_a):
    run_of(rules_of_a["welcome"], 1)

    assert outsider_api.get("/api/v1/automation/runs").json()["count"] == 0


# --- Alerts --------------------------------------------------------------------------------------


def test_staff_see_the_open_alerts_newest_first(staff_api, staff, workspace_a):
    older = stock_alert(workspace_a, 1, "Gloves is low")
    newer = stock_alert(workspace_a, 2, "Masks is low")
    seen = stock_alert(workspace_a, 3)
    alert_acknowledge(alert=seen, actor=staff)

    response = staff_api.get("/api/v1/alerts")

    assert response.status_code == 200
    body = response.json()
    assert [alert["id"] for alert in body["results"]] == [newer.pk, older.pk]
    first = body["results"][0]
    assert first["message"] == "Masks is low"
    assert (first["kind"], first["severity"], first["is_open"]) == ("stock_low", "warning", True)
    assert first["url"] == "/inventory/2/"


def test_open_false_lists_the_acknowledged_and_resolved_alerts(staff_api, staff, workspace_a):
    stock_alert(workspace_a, 1)
    seen = stock_alert(workspace_a, 2)
    alert_acknowledge(alert=seen, actor=staff)

    body = staff_api.get("/api/v1/alerts", {"open": "false"}).json()

    assert [alert["id"] for alert in body["results"]] == [seen.pk]
    assert body["results"][0]["acknowledged_by"]["email"] == staff.email
    assert body["results"][0]["is_open"] is False


def test_alerts_filter_by_kind(staff_api, workspace_a):
    stock_alert(workspace_a, 1)
    overdue, _ = alert_raise(
        workspace=workspace_a,
        kind=Alert.Kind.FORM_OVERDUE,
        subject_type="form_submission",
        subject_id=1,
        message="Ada Lovelace's “Intake” is overdue",
    )

    body = staff_api.get("/api/v1/alerts", {"kind": "form_overdue"}).json()

    assert [alert["id"] for alert in body["results"]] == [overdue.pk]


@pytest.mark.parametrize("alerts", [3, 30])
def test_the_alerts_list_takes_a_constant_number_of_queries(
    staff_api, staff, workspace_a, alerts, django_assert_max_num_queries
):
    for n in range(alerts):
        alert = stock_alert(workspace_a, n)
        alert_acknowledge(alert=alert, actor=staff)

    # 4 queries: the token's user, the workspace membership, the count, the page of alerts
    # (who acknowledged each joined)
    with django_assert_max_num_queries(4):
        response = staff_api.get("/api/v1/alerts", {"open": "false"})

    assert response.json()["count"] == alerts


def test_staff_acknowledge_an_alert_and_it_leaves_the_open_list(staff_api, staff, workspace_a):
    alert = stock_alert(workspace_a, 1)

    response = staff_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")

    assert response.status_code == 200
    assert response.json()["acknowledged_by"]["id"] == staff.pk
    assert response.json()["is_open"] is False
    alert.refresh_from_db()
    assert alert.acknowledged_by == staff
    assert staff_api.get("/api/v1/alerts").json()["count"] == 0


def test_acknowledging_twice_keeps_the_first(staff_api, owner_api, staff, workspace_a):
    alert = stock_alert(workspace_a, 1)
    staff_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")

    response = owner_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")

    assert response.status_code == 200
    assert response.json()["acknowledged_by"]["id"] == staff.pk


def test_an_outsider_gets_404_for_an_alert(outsider_api, workspace_a):
    alert = stock_alert(workspace_a, 1)

    assert outsider_api.get(f"/api/v1/alerts/{alert.pk}").status_code == 404
    response = outsider_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    alert.refresh_from_db()
    assert alert.is_open
    assert outsider_api.get("/api/v1/alerts").json()["count"] == 0


def test_an_anonymous_caller_gets_401(anon_api):
    assert anon_api.get("/api/v1/alerts").status_code == 401
    assert anon_api.get("/api/v1/automation/runs").status_code == 401
    assert anon_api.get("/api/v1/automation/rules").status_code == 401

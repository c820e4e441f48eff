"""The alert catalogue (issue 11): each kind raised at the right moment and not before,
deduplicated, resolved when its cause goes, acknowledged, and linking to a page its recipient
may open."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core import mail
from django.urls import reverse

from automation.alerts import ALERT_AREAS, CATALOGUE, alert_acknowledge, alerts_check
from automation.alerts import inventory_check as stock_check
from automation.alerts.working_time import working_deadline
from automation.models import Alert, Rule
from automation.rules import rules_for
from bookings.models import Booking
from bookings.services import booking_set_status
from bookings.tests.factories import BookingFactory, BookingTypeFactory, WorkingHoursFactory
from inventory.models import BookingTypeConsumption, InventoryUsage
from inventory.services import stock_move
from inventory.tests.factories import InventoryItemFactory
from messaging.delivery import message_deliver
from messaging.integrations import integration_check
from messaging.models import Conversation, Integration
from messaging.services import conversation_reply, conversation_update, message_send
from messaging.tests.factories import conversation_with_inbound, resend_on
from messaging.tests.stand_in import RESEND

pytestmark = pytest.mark.django_db

LONDON = ZoneInfo("Europe/London")
# A week of December 2026 (London is on UTC): Tuesday the 1st to Monday the 7th.
TUESDAY_10 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
FRIDAY_18 = datetime(2026, 12, 4, 18, 0, tzinfo=UTC)
MONDAY = datetime(2026, 12, 7, tzinfo=UTC)
OFFICE = {weekday: [(time(9), time(17))] for weekday in range(5)}  # Monday to Friday, 9 to 5


def at(moment: datetime):
    return time_machine.travel(moment, tick=False)


def rule_set(workspace, kind: str, **values) -> None:
    rules_for(workspace)
    Rule.objects.for_workspace(workspace).filter(kind=kind).update(**values)


def alerts(kind: str) -> list[Alert]:
    return list(Alert.objects.filter(kind=kind).order_by("pk"))


def path_of(alert: Alert) -> str:
    return alert.url.split("#")[0]


# --- The catalogue ------------------------------------------------------------------------------


def test_every_kind_of_alert_has_its_priority_link_rule_and_area():
    assert set(CATALOGUE) == set(Alert.Kind.values)
    assert set(ALERT_AREAS) == set(Alert.Kind.values)
    assert set(ALERT_AREAS.values()) <= {"inbox", "bookings", "forms", "inventory", "owner"}
    assert ALERT_AREAS[Alert.Kind.INTEGRATION_FAILURE] == "owner"
    assert ALERT_AREAS[Alert.Kind.WEBHOOK_DISABLED] == "owner"
    assert {spec.rule for spec in CATALOGUE.values()} - {None} <= set(Rule.Kind.values)
    assert CATALOGUE[Alert.Kind.STOCK_CRITICAL].severity == Alert.Severity.CRITICAL


# --- Working time -------------------------------------------------------------------------------


def test_working_time_counts_an_hour_within_the_day():
    assert working_deadline(OFFICE, LONDON, TUESDAY_10, 60) == TUESDAY_10 + timedelta(hours=1)


def test_working_time_of_an_evening_message_starts_the_next_morning():
    evening = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
    assert working_deadline(OFFICE, LONDON, evening, 60) == datetime(2026, 12, 2, 10, tzinfo=UTC)


def test_working_time_skips_the_weekend():
    assert working_deadline(OFFICE, LONDON, FRIDAY_18, 60) == MONDAY + timedelta(hours=10)
    late_friday = datetime(2026, 12, 4, 16, 30, tzinfo=UTC)
    assert working_deadline(OFFICE, LONDON, late_friday, 60) == MONDAY + timedelta(hours=9.5)


def test_without_working_hours_time_runs_around_the_clock():
    assert working_deadline({}, LONDON, FRIDAY_18, 60) == FRIDAY_18 + timedelta(hours=1)


# --- Missed messages ----------------------------------------------------------------------------


@pytest.fixture
def office_hours(workspace_a):
    for weekday in range(5):
        WorkingHoursFactory(workspace=workspace_a, weekday=weekday)


@pytest.fixture
def waiting(workspace_a, office_hours) -> Conversation:
    """Ada wrote on Tuesday at 10:00; nobody answered."""
    with at(TUESDAY_10):
        return conversation_with_inbound(workspace_a, name="Ada Lovelace", body="Can I move it?")


def test_a_message_unanswered_for_an_hour_of_working_time_raises_an_alert_not_before(waiting):
    with at(TUESDAY_10 + timedelta(minutes=59)):
        assert alerts_check() == 0
    with at(TUESDAY_10 + timedelta(minutes=61)):
        assert alerts_check() == 1
        assert alerts_check() == 0  # deduplicated

    (alert,) = alerts(Alert.Kind.MISSED_MESSAGE)
    assert (alert.subject_type, alert.subject_id) == ("conversation", waiting.pk)
    assert alert.url == reverse("inbox-conversation", args=[waiting.pk])
    assert alert.message == "Ada Lovelace is waiting for a reply since Tue 1 Dec, 10:00"


def test_a_message_of_friday_evening_is_not_missed_over_the_weekend(workspace_a, office_hours):
    with at(FRIDAY_18):
        conversation_with_inbound(workspace_a, body="Are you open on Monday?")

    with at(MONDAY + timedelta(hours=9, minutes=30)):
        assert alerts_check() == 0
    with at(MONDAY + timedelta(hours=10, minutes=1)):
        assert alerts_check() == 1


def test_the_wait_is_the_rules_setting(waiting, workspace_a):
    rule_set(workspace_a, Rule.Kind.MISSED_MESSAGE, offset_minutes=3 * 60)

    with at(TUESDAY_10 + timedelta(hours=2)):
        assert alerts_check() == 0
    with at(TUESDAY_10 + timedelta(hours=3, minutes=1)):
        assert alerts_check() == 1


def test_with_the_rule_off_a_missed_message_raises_nothing(waiting, workspace_a):
    rule_set(workspace_a, Rule.Kind.MISSED_MESSAGE, is_enabled=False)

    with at(TUESDAY_10 + timedelta(hours=3)):
        assert alerts_check() == 0


def test_a_staff_reply_resolves_the_missed_message_alert(
    waiting, staff, django_capture_on_commit_callbacks
):
    with at(TUESDAY_10 + timedelta(hours=2)):
        alerts_check()
        with django_capture_on_commit_callbacks(execute=True):
            conversation_reply(conversation=waiting, actor=staff, body="Yes, on Thursday.")

    (alert,) = alerts(Alert.Kind.MISSED_MESSAGE)
    assert alert.resolved_at is not None
    with at(TUESDAY_10 + timedelta(hours=3)):
        assert alerts_check() == 0  # answered: nothing to raise again


def test_an_automated_message_is_no_reply(waiting):
    with at(TUESDAY_10 + timedelta(minutes=5)):
        message_send(
            conversation=waiting, body="Thanks, we'll be in touch.", sender_kind="automation"
        )
    with at(TUESDAY_10 + timedelta(hours=2)):
        assert alerts_check() == 1


def test_closing_the_conversation_resolves_the_alert_at_the_next_sweep(waiting, staff):
    with at(TUESDAY_10 + timedelta(hours=2)):
        alerts_check()
        conversation_update(conversation=waiting, actor=staff, status="closed")
        alerts_check()

    assert alerts(Alert.Kind.MISSED_MESSAGE)[0].resolved_at is not None


def test_an_acknowledged_missed_message_is_not_raised_again_until_answered(waiting, staff):
    with at(TUESDAY_10 + timedelta(hours=2)):
        alerts_check()
        alert_acknowledge(alert=alerts(Alert.Kind.MISSED_MESSAGE)[0], actor=staff)
    with at(TUESDAY_10 + timedelta(hours=4)):
        assert alerts_check() == 0

    (alert,) = alerts(Alert.Kind.MISSED_MESSAGE)
    assert (alert.acknowledged_by, alert.resolved_at) == (staff, None)


def test_a_new_message_after_a_reply_is_missed_again(waiting, workspace_a, staff):
    with at(TUESDAY_10 + timedelta(hours=2)):
        alerts_check()
        conversation_reply(conversation=waiting, actor=staff, body="Yes.")
        alerts_check()  # resolved by the sweep as well
    with at(TUESDAY_10 + timedelta(hours=3)):
        conversation_with_inbound(workspace_a, contact=waiting.contact, body="And Friday?")
    with at(TUESDAY_10 + timedelta(hours=4, minutes=1)):
        assert alerts_check() == 1

    assert [a.resolved_at is None for a in alerts(Alert.Kind.MISSED_MESSAGE)] == [False, True]


# --- Unconfirmed bookings -----------------------------------------------------------------------


@pytest.fixture
def pending(workspace_a) -> Booking:
    with at(TUESDAY_10):
        return BookingFactory(
            workspace=workspace_a,
            status=Booking.Status.PENDING,
            start=TUESDAY_10 + timedelta(days=2),
        )


def test_a_booking_still_pending_a_day_before_its_start_raises_an_alert_not_before(pending):
    start = pending.start
    with at(start - timedelta(hours=24, minutes=5)):
        assert alerts_check() == 0
    with at(start - timedelta(hours=23, minutes=55)):
        assert alerts_check() == 1
        assert alerts_check() == 0  # deduplicated

    (alert,) = alerts(Alert.Kind.BOOKING_UNCONFIRMED)
    assert (alert.subject_type, alert.subject_id) == ("booking", pending.pk)
    assert alert.url == reverse("booking-detail", args=[pending.pk])
    assert "is not confirmed yet" in alert.message


def test_confirming_the_booking_resolves_its_alert(
    pending, owner, django_capture_on_commit_callbacks
):
    with at(pending.start - timedelta(hours=2)):
        alerts_check()
        with django_capture_on_commit_callbacks(execute=True):
            booking_set_status(booking=pending, status=Booking.Status.CONFIRMED, actor=owner)

    assert alerts(Alert.Kind.BOOKING_UNCONFIRMED)[0].resolved_at is not None


def test_cancelling_the_booking_resolves_its_alert(
    pending, owner, django_capture_on_commit_callbacks
):
    with at(pending.start - timedelta(hours=2)):
        alerts_check()
        with django_capture_on_commit_callbacks(execute=True):
            booking_set_status(booking=pending, status=Booking.Status.CANCELLED, actor=owner)

    assert alerts(Alert.Kind.BOOKING_UNCONFIRMED)[0].resolved_at is not None


def test_an_unconfirmed_alert_resolves_once_the_booking_has_started(pending):
    with at(pending.start - timedelta(hours=2)):
        alerts_check()
    with at(pending.start + timedelta(minutes=1)):
        alerts_check()

    assert alerts(Alert.Kind.BOOKING_UNCONFIRMED)[0].resolved_at is not None


def test_the_unconfirmed_window_is_the_rules_setting(pending, workspace_a):
    rule_set(workspace_a, Rule.Kind.BOOKING_UNCONFIRMED, offset_minutes=2 * 60)

    with at(pending.start - timedelta(hours=3)):
        assert alerts_check() == 0
    with at(pending.start - timedelta(hours=1)):
        assert alerts_check() == 1


def test_acknowledging_an_unconfirmed_booking_alert_keeps_it_from_coming_back(pending, staff):
    with at(pending.start - timedelta(hours=2)):
        alerts_check()
        alert_acknowledge(alert=alerts(Alert.Kind.BOOKING_UNCONFIRMED)[0], actor=staff)
        assert alerts_check() == 0


# --- Critical stock -----------------------------------------------------------------------------


@pytest.fixture
def masks(workspace_a):
    return InventoryItemFactory(
        workspace=workspace_a, name="Masks", unit="", quantity_on_hand=3, low_stock_threshold=1
    )


def booked_using(workspace, item, quantity: int, start: datetime) -> Booking:
    booking_type = BookingTypeFactory(workspace=workspace)
    BookingTypeConsumption.objects.create(
        workspace=workspace, booking_type=booking_type, item=item, quantity=quantity
    )
    return BookingFactory(workspace=workspace, booking_type=booking_type, start=start)


def test_an_item_out_of_stock_raises_a_critical_alert_once(workspace_a):
    gloves = InventoryItemFactory(workspace=workspace_a, name="Gloves", quantity_on_hand=0)

    stock_check()
    stock_check()

    (alert,) = alerts(Alert.Kind.STOCK_CRITICAL)
    assert (alert.severity, alert.subject_id) == ("critical", gloves.pk)
    assert alert.message == "Gloves is out of stock"
    assert alert.url == reverse("inventory-detail", args=[gloves.pk])
    # Out of stock is low as well: both are open, each resolving on its own terms.
    assert len(alerts(Alert.Kind.STOCK_LOW)) == 1


def test_an_item_short_for_the_next_days_bookings_is_critical(workspace_a, masks):
    with at(TUESDAY_10):
        booked_using(workspace_a, masks, 4, TUESDAY_10 + timedelta(days=1))
        assert stock_check() == 1

    (alert,) = alerts(Alert.Kind.STOCK_CRITICAL)
    assert alert.message == "Masks is short for the next day's bookings: 3 left, 4 needed"
    assert not alerts(Alert.Kind.STOCK_LOW)  # above its threshold: not low


def test_bookings_after_the_next_day_do_not_make_an_item_critical(workspace_a, masks):
    with at(TUESDAY_10):
        booked_using(workspace_a, masks, 4, TUESDAY_10 + timedelta(days=2))
        assert stock_check() == 0


def test_restocking_resolves_the_critical_and_low_alerts_at_once(
    workspace_a, staff, django_capture_on_commit_callbacks
):
    gloves = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=0, low_stock_threshold=2)
    stock_check()

    with django_capture_on_commit_callbacks(execute=True):
        stock_move(item=gloves, kind=InventoryUsage.Kind.RESTOCK, quantity=10, actor=staff)

    assert [a.resolved_at is not None for a in Alert.objects.all()] == [True, True]


def test_a_restock_still_short_for_tomorrow_keeps_the_critical_alert(
    workspace_a, masks, staff, django_capture_on_commit_callbacks
):
    with at(TUESDAY_10):
        booked_using(workspace_a, masks, 10, TUESDAY_10 + timedelta(days=1))
        stock_check()
        with django_capture_on_commit_callbacks(execute=True):
            stock_move(item=masks, kind=InventoryUsage.Kind.RESTOCK, quantity=2, actor=staff)
        assert alerts(Alert.Kind.STOCK_CRITICAL)[0].resolved_at is None
        with django_capture_on_commit_callbacks(execute=True):
            stock_move(item=masks, kind=InventoryUsage.Kind.RESTOCK, quantity=5, actor=staff)

    assert alerts(Alert.Kind.STOCK_CRITICAL)[0].resolved_at is not None


def test_critical_stock_reaches_the_owners_by_email_when_the_rule_says_so(
    workspace_a, owner, django_capture_on_commit_callbacks
):
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, email_owners=True)
    InventoryItemFactory(workspace=workspace_a, name="Gloves", unit="", quantity_on_hand=0)

    with django_capture_on_commit_callbacks(execute=True):
        stock_check()
        stock_check()

    subjects = sorted(message.subject for message in mail.outbox)
    assert subjects == [
        "[Alpha Clinic] Gloves is low: 0 left (threshold 2)",
        ("[Alpha Clinic] Gloves is out of stock"),
    ]
    assert {tuple(message.to) for message in mail.outbox} == {(owner.email,)}


def test_without_email_stock_alerts_reach_the_owner_in_the_app_only(
    workspace_a, owner_client, django_capture_on_commit_callbacks
):
    InventoryItemFactory(workspace=workspace_a, name="Gloves", quantity_on_hand=0)

    with django_capture_on_commit_callbacks(execute=True):
        stock_check()

    assert mail.outbox == []
    page = owner_client.get(reverse("dashboard")).content.decode()
    assert "Gloves is out of stock" in page


def test_with_the_stock_rule_off_no_critical_alert_is_raised(workspace_a):
    rule_set(workspace_a, Rule.Kind.STOCK_LOW, is_enabled=False)
    InventoryItemFactory(workspace=workspace_a, quantity_on_hand=0)

    assert stock_check() == 0


# --- Failing providers --------------------------------------------------------------------------


@pytest.fixture
def resend(stand_in, workspace_a) -> Integration:
    return resend_on(stand_in, workspace_a)


def send_one(workspace, django_capture_on_commit_callbacks, name="Ada Lovelace"):
    conversation = conversation_with_inbound(workspace, name=name)
    with django_capture_on_commit_callbacks(execute=True):
        return message_send(conversation=conversation, body="See you on Monday.")


def test_a_provider_failing_raises_an_alert_for_the_owners_once(
    resend, stand_in, workspace_a, django_capture_on_commit_callbacks
):
    stand_in.script(RESEND, (500, {"message": "Internal error"}), (500, {"message": "Again"}))

    send_one(workspace_a, django_capture_on_commit_callbacks)
    send_one(workspace_a, django_capture_on_commit_callbacks, name="Grace Hopper")

    resend.refresh_from_db()
    assert resend.is_failing and "500" in resend.last_error
    (alert,) = alerts(Alert.Kind.INTEGRATION_FAILURE)
    assert (alert.severity, alert.subject_type, alert.subject_id) == (
        "critical",
        "integration",
        resend.pk,
    )
    assert alert.url == f"{reverse('settings-integrations')}#integration-{resend.pk}"
    assert alert.message.startswith("resend (Email) is failing: ")


def test_the_failing_provider_shows_its_last_error_on_its_page(
    resend, stand_in, workspace_a, owner_client, django_capture_on_commit_callbacks
):
    stand_in.script(RESEND, (500, {"message": "Internal error"}))
    send_one(workspace_a, django_capture_on_commit_callbacks)
    alert = alerts(Alert.Kind.INTEGRATION_FAILURE)[0]

    page = owner_client.get(path_of(alert))

    assert page.status_code == 200
    text = page.content.decode()
    assert f'id="integration-{resend.pk}"' in text
    assert "Last error" in text and "Internal error" in text


def test_the_next_success_resolves_the_provider_alert(
    resend, stand_in, workspace_a, django_capture_on_commit_callbacks
):
    stand_in.script(RESEND, (500, {"message": "Internal error"}))
    message = send_one(workspace_a, django_capture_on_commit_callbacks)
    assert alerts(Alert.Kind.INTEGRATION_FAILURE)[0].resolved_at is None

    send_one(workspace_a, django_capture_on_commit_callbacks, name="Grace Hopper")

    assert message.pk
    assert alerts(Alert.Kind.INTEGRATION_FAILURE)[0].resolved_at is not None


def test_a_passing_check_resolves_the_provider_alert(
    resend, stand_in, workspace_a, django_capture_on_commit_callbacks
):
    stand_in.script(RESEND, (500, {"message": "Internal error"}))
    send_one(workspace_a, django_capture_on_commit_callbacks)

    with django_capture_on_commit_callbacks(execute=True):
        assert integration_check(integration=Integration.objects.get(pk=resend.pk)).ok

    assert alerts(Alert.Kind.INTEGRATION_FAILURE)[0].resolved_at is not None


def test_a_provider_failing_again_after_recovering_raises_a_new_alert(
    resend, stand_in, workspace_a, django_capture_on_commit_callbacks
):
    stand_in.script(RESEND, (500, {}))
    send_one(workspace_a, django_capture_on_commit_callbacks)
    send_one(workspace_a, django_capture_on_commit_callbacks, name="Grace Hopper")
    stand_in.script(RESEND, (500, {}))
    send_one(workspace_a, django_capture_on_commit_callbacks, name="Ada Byron")

    assert [a.resolved_at is None for a in alerts(Alert.Kind.INTEGRATION_FAILURE)] == [False, True]


def test_the_retry_of_a_failed_message_through_a_still_failing_provider_alerts_once(
    resend, stand_in, workspace_a, django_capture_on_commit_callbacks
):
    stand_in.script(RESEND, (500, {}), (500, {}))
    message = send_one(workspace_a, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        message_deliver(message.pk)

    assert len(alerts(Alert.Kind.INTEGRATION_FAILURE)) == 1


# --- Pages: the link leads to the work, for whoever may see the alert ---------------------------


@pytest.fixture
def one_of_each(
    workspace_a, owner, waiting, pending, resend, stand_in, django_capture_on_commit_callbacks
):
    """An open alert of every kind in workspace A, raised the way each is."""
    from automation.webhooks.delivery import webhook_endpoint_disable
    from automation.webhooks.services import webhook_endpoint_create
    from forms.services import submissions_mark_overdue
    from forms.tests.factories import FormSubmissionFactory

    FormSubmissionFactory(
        workspace=workspace_a,
        sent_at=TUESDAY_10 - timedelta(days=3),
        due_at=TUESDAY_10 - timedelta(days=1),
    )
    InventoryItemFactory(workspace=workspace_a, name="Gloves", quantity_on_hand=0)
    stand_in.script(RESEND, (500, {"message": "Internal error"}))
    with at(pending.start - timedelta(hours=2)):
        with django_capture_on_commit_callbacks(execute=True):
            submissions_mark_overdue()
        stock_check()
        alerts_check()
    send_one(workspace_a, django_capture_on_commit_callbacks)
    endpoint = webhook_endpoint_create(
        workspace=workspace_a,
        actor=owner,
        url="https://hooks.alpha-clinic.example/careops",
        events=["contact.created"],
    )
    webhook_endpoint_disable(endpoint=endpoint, failures=10)
    assert set(Alert.objects.values_list("kind", flat=True)) == set(Alert.Kind.values)
    return {alert.kind: alert for alert in Alert.objects.all()}


def test_each_alerts_link_opens_for_the_owner(one_of_each, owner_client):
    for kind, alert in one_of_each.items():
        assert owner_client.get(path_of(alert)).status_code == 200, kind


def test_each_alert_staff_see_links_to_a_page_they_may_open(one_of_each, staff_client):
    page = staff_client.get(reverse("alerts")).content.decode()

    for kind, alert in one_of_each.items():
        if ALERT_AREAS[kind] == "owner":
            assert alert.message not in page
            assert staff_client.get(path_of(alert)).status_code == 403
        else:
            assert alert.url in page
            assert staff_client.get(path_of(alert)).status_code == 200, kind


def test_the_owner_sees_every_alert_with_its_link(one_of_each, owner_client):
    page = owner_client.get(reverse("alerts")).content.decode()
    dashboard = owner_client.get(reverse("dashboard")).content.decode()

    for alert in one_of_each.values():
        assert f'href="{alert.url}"' in page
        assert f'href="{alert.url}"' in dashboard


def test_staff_cannot_acknowledge_an_owners_alert(one_of_each, staff_client, staff_api):
    alert = one_of_each[Alert.Kind.INTEGRATION_FAILURE]

    page = staff_client.post(reverse("alert-acknowledge", args=[alert.pk]))
    api = staff_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")

    assert (page.status_code, api.status_code) == (404, 404)
    alert.refresh_from_db()
    assert alert.is_open
    # Their own kinds they may.
    theirs = one_of_each[Alert.Kind.MISSED_MESSAGE]
    assert staff_api.post(f"/api/v1/alerts/{theirs.pk}/acknowledge").status_code == 200


def test_every_kind_is_acknowledged_on_the_page(one_of_each, owner_client):
    for alert in one_of_each.values():
        response = owner_client.post(reverse("alert-acknowledge", args=[alert.pk]))
        assert response.status_code == 302

    assert not Alert.objects.filter(acknowledged_at__isnull=True).exists()


def test_every_kind_is_acknowledged_through_the_api(one_of_each, owner_api):
    for alert in one_of_each.values():
        response = owner_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
        assert response.status_code == 200
        assert response.json()["is_open"] is False


@pytest.mark.parametrize("extra", [0, 20])
def test_the_alerts_page_and_dashboard_panel_take_the_same_queries_however_many_alerts(
    workspace_a, owner_client, extra, django_assert_max_num_queries
):
    for n in range(extra):
        kind = Alert.Kind.values[n % len(Alert.Kind.values)]
        Alert.objects.create(
            workspace=workspace_a,
            kind=kind,
            severity=CATALOGUE[kind].severity,
            subject_type=CATALOGUE[kind].subject_type,
            subject_id=n + 1,
            message=f"Alert {n}",
            url=CATALOGUE[kind].url(n + 1),
        )

    # session, user, membership (workspace joined), the count, the page of alerts
    # (acknowledger joined), the workspace switcher
    with django_assert_max_num_queries(6):
        assert owner_client.get(reverse("alerts")).status_code == 200
    # The panels alone: session, user, membership, and each panel's one or two queries.
    with django_assert_max_num_queries(14):
        assert owner_client.get(reverse("dashboard-panels")).status_code == 200


# --- The rules that switch them on --------------------------------------------------------------


def test_an_owner_sets_the_missed_message_wait_on_the_rules_page(workspace_a, owner_client):
    rule = rules_for(workspace_a)[Rule.Kind.MISSED_MESSAGE]
    url = reverse("settings-automation-rule", args=[rule.pk])

    page = owner_client.get(url).content.decode()
    response = owner_client.post(url, {"offset_hours": "2.5"})

    assert "hours of working time without a reply" in page
    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.offset_minutes == 150


def test_the_unconfirmed_booking_window_is_set_through_the_api(workspace_a, owner_api):
    rule = rules_for(workspace_a)[Rule.Kind.BOOKING_UNCONFIRMED]

    response = owner_api.patch(
        f"/api/v1/automation/rules/{rule.pk}", {"offset_minutes": 180}, format="json"
    )

    assert response.status_code == 200, response.json()
    rule.refresh_from_db()
    assert rule.offset_minutes == 180


def test_a_new_workspace_waits_an_hour_for_a_reply_and_a_day_for_a_confirmation(workspace_a):
    rules = rules_for(workspace_a)

    assert rules[Rule.Kind.MISSED_MESSAGE].offset_minutes == 60
    assert rules[Rule.Kind.BOOKING_UNCONFIRMED].offset_minutes == 24 * 60
    assert rules[Rule.Kind.INTEGRATION_FAILURE].is_enabled


@pytest.mark.parametrize(
    "kind",
    [Rule.Kind.MISSED_MESSAGE, Rule.Kind.BOOKING_UNCONFIRMED, Rule.Kind.INTEGRATION_FAILURE],
)
def test_a_dry_run_of_an_alert_rule_says_what_it_would_do(workspace_a, owner_api, kind):
    rule = rules_for(workspace_a)[kind]

    response = owner_api.post(f"/api/v1/automation/rules/{rule.pk}/dry-run", {}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["would"] == "act"
    assert "alert" in response.json()["reason"]


def test_a_kind_not_yet_in_the_catalogue_is_raised_with_what_it_says_and_hidden_from_staff(
    workspace_a, staff, monkeypatch
):
    from automation.alerts import alert_raise
    from automation.alerts.catalogue import alert_kinds_visible

    monkeypatch.delitem(CATALOGUE, Alert.Kind.FORM_OVERDUE)
    monkeypatch.delitem(ALERT_AREAS, Alert.Kind.FORM_OVERDUE)

    alert, created = alert_raise(
        workspace=workspace_a,
        kind=Alert.Kind.FORM_OVERDUE,
        subject_type="form_submission",
        subject_id=1,
        message="New",
    )

    assert created and (alert.severity, alert.url) == ("warning", "")

    membership = workspace_a.memberships.get(user=staff)  # every area open

    assert Alert.Kind.FORM_OVERDUE not in alert_kinds_visible(membership)

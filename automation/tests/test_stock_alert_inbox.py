"""Inventory alerts also reach the owners in their inbox, where the stock rule says so
(Rule.inbox_owners): a low or critical stock alert posts one notice to the owners' inbox, closed
when the alert is resolved (restocked) or acknowledged."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automation.alerts import alert_acknowledge, inventory_check
from automation.dry_run import rule_dry_run
from automation.models import Alert, Rule
from automation.rules import rule_update, rules_for
from careops.errors import InvalidInput
from inventory.models import InventoryUsage
from inventory.services import stock_move
from inventory.tests.factories import InventoryItemFactory
from messaging.models import InboxNotice
from messaging.selectors import notices_open

pytestmark = pytest.mark.django_db

Kind = InventoryUsage.Kind


def stock_rule(workspace, **values) -> Rule:
    rule = rules_for(workspace)[Rule.Kind.STOCK_LOW]
    Rule.objects.filter(pk=rule.pk).update(**values)
    rule.refresh_from_db()
    return rule


@pytest.fixture
def gloves(workspace_a):
    return InventoryItemFactory(
        workspace=workspace_a, name="Gloves", unit="box", quantity_on_hand=5, low_stock_threshold=3
    )


def use(item, quantity, actor, capture):
    with capture(execute=True):
        stock_move(item=item, kind=Kind.USAGE, quantity=quantity, actor=actor)


def restock(item, quantity, actor, capture):
    with capture(execute=True):
        stock_move(item=item, kind=Kind.RESTOCK, quantity=quantity, actor=actor)


def open_titles(workspace) -> list[str]:
    return [n.title for n in notices_open(workspace=workspace)]


# --- Posting ------------------------------------------------------------------------------------


def test_a_low_stock_alert_with_inbox_owners_on_posts_one_notice_to_the_owners_inbox(
    gloves, workspace_a, staff, owner_client, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)

    use(gloves, 3, staff, django_capture_on_commit_callbacks)

    alert = Alert.objects.get(kind=Alert.Kind.STOCK_LOW)
    notice = InboxNotice.objects.for_workspace(workspace_a).get()
    assert notice.source == f"alert:{alert.pk}"
    assert notice.title == "Gloves is low: 2 box left (threshold 3)"
    assert notice.url == reverse("inventory-detail", args=[gloves.pk])
    page = owner_client.get(reverse("inbox")).content.decode()
    assert f'<a href="{notice.url}">Gloves is low: 2 box left (threshold 3)</a>' in page


def test_staff_do_not_see_the_stock_notice_in_their_inbox(
    gloves, workspace_a, staff, staff_client, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)
    use(gloves, 3, staff, django_capture_on_commit_callbacks)

    page = staff_client.get(reverse("inbox")).content.decode()

    assert "Gloves is low" not in page


def test_with_inbox_owners_off_nothing_is_posted(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, email_owners=True)

    use(gloves, 3, staff, django_capture_on_commit_callbacks)
    inventory_check()

    assert Alert.objects.filter(kind=Alert.Kind.STOCK_LOW).exists()
    assert not InboxNotice.objects.exists()


def test_the_alert_raised_again_and_the_hourly_check_still_make_one_notice(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)

    use(gloves, 3, staff, django_capture_on_commit_callbacks)
    use(gloves, 1, staff, django_capture_on_commit_callbacks)  # lower still: the same alert
    inventory_check()
    inventory_check()

    assert InboxNotice.objects.for_workspace(workspace_a).count() == 1


def test_the_hourly_check_posts_low_and_critical_alerts_to_the_inbox(workspace_a, workspace_b):
    stock_rule(workspace_a, inbox_owners=True)
    InventoryItemFactory(workspace=workspace_a, name="Gloves", unit="", quantity_on_hand=0)
    InventoryItemFactory(workspace=workspace_b, name="Masks", unit="", quantity_on_hand=0)

    inventory_check()

    assert sorted(open_titles(workspace_a)) == [
        "Gloves is low: 0 left (threshold 2)",
        "Gloves is out of stock",
    ]
    assert open_titles(workspace_b) == []  # its rule keeps to the app


def test_an_alert_switched_to_the_inbox_later_is_posted_by_the_next_check(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    use(gloves, 3, staff, django_capture_on_commit_callbacks)
    stock_rule(workspace_a, inbox_owners=True)

    inventory_check()

    assert open_titles(workspace_a) == ["Gloves is low: 2 box left (threshold 3)"]


def test_a_switched_off_stock_rule_posts_nothing(workspace_a):
    stock_rule(workspace_a, is_enabled=False, inbox_owners=True)
    InventoryItemFactory(workspace=workspace_a, quantity_on_hand=0)

    inventory_check()

    assert not InboxNotice.objects.exists()


# --- Closing ------------------------------------------------------------------------------------


def test_restocking_resolves_the_alert_and_closes_its_notice(
    gloves, workspace_a, staff, owner_client, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)
    use(gloves, 3, staff, django_capture_on_commit_callbacks)

    restock(gloves, 20, staff, django_capture_on_commit_callbacks)

    assert Alert.objects.get(kind=Alert.Kind.STOCK_LOW).resolved_at is not None
    assert open_titles(workspace_a) == []
    assert "Gloves is low" not in owner_client.get(reverse("inbox")).content.decode()


def test_restocking_an_item_out_of_stock_closes_both_notices(
    workspace_a, staff, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)
    gloves = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=0, low_stock_threshold=2)
    inventory_check()
    assert len(open_titles(workspace_a)) == 2

    restock(gloves, 10, staff, django_capture_on_commit_callbacks)

    assert open_titles(workspace_a) == []


def test_the_hourly_check_resolving_an_alert_closes_its_notice(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)
    use(gloves, 3, staff, django_capture_on_commit_callbacks)
    # Restocked without its event reaching automation (a lost event): the check resolves it.
    stock_move(item=gloves, kind=Kind.RESTOCK, quantity=20, actor=staff)

    inventory_check()

    assert Alert.objects.get(kind=Alert.Kind.STOCK_LOW).resolved_at is not None
    assert open_titles(workspace_a) == []


def test_acknowledging_the_alert_closes_its_notice(
    gloves, workspace_a, staff, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)
    use(gloves, 3, staff, django_capture_on_commit_callbacks)

    alert_acknowledge(alert=Alert.objects.get(kind=Alert.Kind.STOCK_LOW), actor=staff)
    inventory_check()  # an acknowledged alert is not posted again

    assert open_titles(workspace_a) == []


def test_acknowledging_on_the_alerts_page_closes_the_notice(
    gloves, workspace_a, staff, owner_client, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)
    use(gloves, 3, staff, django_capture_on_commit_callbacks)
    alert = Alert.objects.get(kind=Alert.Kind.STOCK_LOW)

    owner_client.post(reverse("alert-acknowledge", args=[alert.pk]))

    assert open_titles(workspace_a) == []


def test_an_owner_marking_the_notice_done_leaves_the_alert_open(
    gloves, workspace_a, staff, owner_client, django_capture_on_commit_callbacks
):
    stock_rule(workspace_a, inbox_owners=True)
    use(gloves, 3, staff, django_capture_on_commit_callbacks)
    notice = InboxNotice.objects.get()

    owner_client.post(reverse("inbox-notice-done", args=[notice.pk]))
    inventory_check()  # not posted again

    assert open_titles(workspace_a) == []
    assert Alert.objects.get(kind=Alert.Kind.STOCK_LOW).is_open


# --- The setting --------------------------------------------------------------------------------


def test_the_owner_turns_on_the_inbox_on_the_rules_settings_page(owner_client, workspace_a):
    rule = stock_rule(workspace_a)
    url = reverse("settings-automation-rule", args=[rule.pk])
    assert 'name="inbox_owners"' in owner_client.get(url).content.decode()

    response = owner_client.post(url, {"email_owners": "on", "inbox_owners": "on"})

    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.email_owners, rule.inbox_owners) == (True, True)


def test_other_rules_settings_pages_do_not_offer_the_inbox(owner_client, workspace_a):
    welcome = rules_for(workspace_a)[Rule.Kind.WELCOME]

    page = owner_client.get(reverse("settings-automation-rule", args=[welcome.pk]))

    assert 'name="inbox_owners"' not in page.content.decode()


def test_an_owner_turns_on_the_inbox_through_the_api(owner_api, workspace_a):
    rule = stock_rule(workspace_a)

    response = owner_api.patch(
        f"/api/v1/automation/rules/{rule.pk}", {"inbox_owners": True}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["inbox_owners"] is True
    rule.refresh_from_db()
    assert rule.inbox_owners is True


def test_the_inbox_setting_is_refused_for_other_rules_unless_unchanged(owner_api, workspace_a):
    welcome = rules_for(workspace_a)[Rule.Kind.WELCOME]

    response = owner_api.patch(
        f"/api/v1/automation/rules/{welcome.pk}", {"inbox_owners": True}, format="json"
    )
    assert response.status_code == 400
    assert "inbox_owners" in response.json()["fields"]

    with pytest.raises(InvalidInput) as caught:
        rule_update(rule=welcome, actor=None, inbox_owners=True)
    assert list(caught.value.fields) == ["inbox_owners"]
    rule_update(rule=welcome, actor=None, inbox_owners=False)  # unchanged: ignored


def test_a_dry_run_of_the_stock_rule_says_it_would_post_to_the_owners_inbox(workspace_a):
    rule = stock_rule(workspace_a, email_owners=True, inbox_owners=True)

    assert rule_dry_run(rule=rule)["reason"] == (
        "An item below its threshold would raise an alert for staff, a critical one when it is "
        "out or short for the next day's bookings, and email the owners and post to the "
        "owners' inbox."
    )

"""The dashboard home: an owner's day and business on one screen, a staff member's own day; each
panel in a constant number of queries, refreshed through htmx."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import time_machine
from django.urls import reverse

from automation.models import Alert
from bookings.tests.factories import BookingFactory
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.tests.factories import FormSubmissionFactory
from inventory.tests.factories import InventoryItemFactory
from messaging.tests.factories import ConversationFactory
from workspaces.models import Membership
from workspaces.tests.factories import MembershipFactory

pytestmark = pytest.mark.django_db

# Wednesday 5 March 2031, 08:00 in London (GMT).
NOW = datetime(2031, 3, 5, 8, 0, tzinfo=UTC)
KEYS = count(1)


@pytest.fixture(autouse=True)
def _wednesday_morning():
    with time_machine.travel(NOW, tick=False):
        yield


def at(hour: int, *, days: int = 0) -> datetime:
    return NOW.replace(hour=hour) + timedelta(days=days)


def panel(html: str, testid: str) -> str:
    return html.split(f'data-testid="{testid}"')[1].split("</section>")[0]


def fill(workspace, n: int, *, staff=None) -> None:
    """n of everything a dashboard shows."""
    for i in range(n):
        contact = ContactFactory(workspace=workspace)
        booking = BookingFactory(
            workspace=workspace, contact=contact, staff=staff, start=at(0) + timedelta(hours=i)
        )
        BookingFactory(workspace=workspace, staff=staff, start=at(10 + i // 7, days=1 + i % 7))
        FormSubmissionFactory(workspace=workspace, contact=contact, booking=booking)
        ConversationFactory(workspace=workspace, contact=contact, unread_count=1, assigned_to=staff)
        InventoryItemFactory(workspace=workspace, quantity_on_hand=0, low_stock_threshold=2)
        Alert.objects.create(
            workspace=workspace,
            kind=Alert.Kind.STOCK_LOW,
            subject_type="inventory_item",
            subject_id=next(KEYS),
            message=f"Item {i} is low",
        )


def test_an_owner_sees_the_day_the_week_the_inbox_forms_stock_alerts_and_figures(
    owner_client, workspace_a
):
    ada = ContactFactory(workspace=workspace_a, name="Ada Lovelace")
    today = BookingFactory(workspace=workspace_a, contact=ada, start=at(9))
    FormSubmissionFactory(workspace=workspace_a, contact=ada, booking=today, template_name="Intake")
    BookingFactory(workspace=workspace_a, start=at(9, days=2))
    BookingFactory(workspace=workspace_a, start=at(11, days=2))
    ConversationFactory(workspace=workspace_a, contact=ada, unread_count=2)
    FormSubmissionFactory(
        workspace=workspace_a,
        status=FormSubmission.Status.OVERDUE,
        sent_at=NOW - timedelta(days=3),
        due_at=NOW - timedelta(days=1),
        overdue_at=NOW - timedelta(days=1),
    )
    InventoryItemFactory(workspace=workspace_a, name="Gloves", quantity_on_hand=1)
    Alert.objects.create(
        workspace=workspace_a,
        kind=Alert.Kind.STOCK_LOW,
        subject_type="inventory_item",
        subject_id=1,
        message="Gloves are low",
    )

    html = owner_client.get(reverse("dashboard")).content.decode()

    today_panel = panel(html, "today-panel")
    assert "09:00</time> Ada Lovelace" in today_panel
    assert "Intake: pending" in today_panel
    week = panel(html, "week-panel")
    assert "Fri 7 Mar</span> <strong>2</strong>" in week
    assert "Thu 6 Mar</span> <strong>0</strong>" in week
    assert "Fri 09:00</time>" in week  # the first bookings coming up, listed
    inbox = panel(html, "inbox-panel")
    assert 'data-testid="unread-count">1<' in inbox
    assert "Ada Lovelace" in inbox
    forms = panel(html, "forms-panel")
    assert 'data-testid="forms-pending">1<' in forms
    assert 'data-testid="forms-overdue">1<' in forms
    assert "Gloves" in panel(html, "stock-panel")
    assert "Gloves are low" in panel(html, "alerts-panel")
    figures = panel(html, "figures-panel")
    assert 'data-testid="figure-bookings">1<' in figures  # the period ends today
    assert "<svg" in figures


def test_the_forms_panel_lists_overdue_forms_first_then_the_soonest_due(owner_client, workspace_a):
    for name, status, due in (
        ("Later Pending", FormSubmission.Status.PENDING, NOW + timedelta(days=2)),
        ("Sooner Pending", FormSubmission.Status.PENDING, NOW + timedelta(hours=3)),
        ("Late Overdue", FormSubmission.Status.OVERDUE, NOW - timedelta(hours=1)),
    ):
        FormSubmissionFactory(
            workspace=workspace_a,
            contact=ContactFactory(workspace=workspace_a, name=name),
            status=status,
            sent_at=NOW - timedelta(days=3),
            due_at=due,
            overdue_at=NOW if status == FormSubmission.Status.OVERDUE else None,
        )

    forms = panel(owner_client.get(reverse("dashboard")).content.decode(), "forms-panel")

    order = [forms.index(name) for name in ("Late Overdue", "Sooner Pending", "Later Pending")]
    assert order == sorted(order)


def test_staff_see_their_own_and_the_shared_calendars_bookings_not_a_colleagues(
    client, staff, workspace_a
):
    colleague = MembershipFactory(workspace=workspace_a, role=Membership.Role.STAFF).user
    BookingFactory(
        workspace=workspace_a,
        staff=staff,
        start=at(9),
        contact=ContactFactory(workspace=workspace_a, name="Mine"),
    )
    BookingFactory(
        workspace=workspace_a,
        start=at(10),
        contact=ContactFactory(workspace=workspace_a, name="Shared"),
    )
    BookingFactory(
        workspace=workspace_a,
        staff=colleague,
        start=at(11),
        contact=ContactFactory(workspace=workspace_a, name="Theirs"),
    )
    ConversationFactory(
        workspace=workspace_a,
        contact=ContactFactory(workspace=workspace_a, name="Assigned"),
        assigned_to=staff,
    )
    ConversationFactory(
        workspace=workspace_a,
        contact=ContactFactory(workspace=workspace_a, name="Elsewhere"),
        unread_count=3,
    )
    InventoryItemFactory(workspace=workspace_a, name="Gloves", quantity_on_hand=0)
    client.force_login(staff)

    html = client.get(reverse("dashboard")).content.decode()

    today_panel = panel(html, "today-panel")
    assert "My day" in today_panel
    assert "Mine" in today_panel and "Shared" in today_panel
    assert "Theirs" not in today_panel
    inbox = panel(html, "inbox-panel")
    assert "Assigned" in inbox and "Elsewhere" not in inbox
    assert 'data-testid="stock-panel"' not in html  # owners look after stock
    assert 'data-testid="figures-panel"' not in html  # and the business's figures


def test_the_panels_refresh_themselves_every_minute_without_the_page(owner_client, workspace_a):
    page = owner_client.get(reverse("dashboard")).content.decode()

    assert f'hx-get="{reverse("dashboard-panels")}" hx-trigger="every 60s"' in page
    partial = owner_client.get(reverse("dashboard-panels"), HTTP_HX_REQUEST="true")
    html = partial.content.decode()
    assert partial.status_code == 200
    assert html.lstrip().startswith('<div id="dashboard-panels"')
    assert "<html" not in html


def test_the_owner_changes_the_figures_period(owner_client, workspace_a):
    BookingFactory(workspace=workspace_a, start=NOW - timedelta(days=10))

    week = owner_client.get(reverse("dashboard-figures"), {"period": "7d"}).content.decode()
    month = owner_client.get(reverse("dashboard-figures"), {"period": "30d"}).content.decode()

    assert 'data-testid="figure-bookings">0<' in week
    assert 'data-testid="figure-bookings">1<' in month


def test_a_bad_period_is_said_beside_the_picker_and_the_default_shown(owner_client):
    response = owner_client.get(reverse("dashboard"), {"period": "forever"})

    assert response.status_code == 200
    figures = panel(response.content.decode(), "figures-panel")
    assert 'role="alert"' in figures
    assert 'value="30d" selected' in figures


def test_staff_get_403_for_the_figures(staff_client):
    assert staff_client.get(reverse("dashboard-figures")).status_code == 403


def test_an_outsider_sees_none_of_another_workspaces_day(outsider_client, workspace_a):
    BookingFactory(
        workspace=workspace_a,
        start=at(9),
        contact=ContactFactory(workspace=workspace_a, name="Ada Private"),
    )
    ConversationFactory(
        workspace=workspace_a,
        contact=ContactFactory(workspace=workspace_a, name="Bea Private"),
        unread_count=1,
    )
    InventoryItemFactory(workspace=workspace_a, name="Secret gloves", quantity_on_hand=0)

    html = outsider_client.get(reverse("dashboard")).content.decode()

    for name in ("Ada Private", "Bea Private", "Secret gloves"):
        assert name not in html


@pytest.mark.parametrize("rows", [1, 12])
def test_the_owners_dashboard_takes_a_constant_number_of_queries(
    owner_client, workspace_a, rows, django_assert_max_num_queries
):
    fill(workspace_a, rows)
    owner_client.get(reverse("dashboard"))

    # 26 queries: session, user, membership and workspace, the switcher's list (4); the
    # onboarding checklist of a workspace not yet live (7: see workspaces/onboarding.py);
    # today's bookings and their forms (2), the week per day and its first bookings (2),
    # unread conversations and their count (2), open forms' counts and rows (2), low stock (1),
    # open alerts (1); the
    # figures: bookings by day and status, new contacts, messages by day and direction,
    # response times, forms (5: see careops/dashboard/stats.py)
    with django_assert_max_num_queries(26):
        response = owner_client.get(reverse("dashboard"))

    assert response.status_code == 200


@pytest.mark.parametrize("rows", [1, 12])
def test_the_staff_dashboard_and_the_refresh_take_a_constant_number_of_queries(
    client, staff, workspace_a, rows, django_assert_max_num_queries
):
    fill(workspace_a, rows, staff=staff)
    client.force_login(staff)
    client.get(reverse("dashboard"))

    # 13 queries: session, user, membership and workspace, the switcher's list; today's
    # bookings and their forms, the week and its first bookings, assigned conversations and
    # the unread count, open forms' counts and rows, open alerts
    with django_assert_max_num_queries(13):
        assert client.get(reverse("dashboard")).status_code == 200
    with django_assert_max_num_queries(13):
        assert client.get(reverse("dashboard-panels")).status_code == 200

"""The stock forecast: what the pending and confirmed bookings of the next 7 and 30 days of the
workspace will use of each item, when the stock runs out at that pace, and the items short for
the next 7 days before they are low."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.urls import reverse

from bookings.models import Booking
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from inventory.models import BookingTypeConsumption
from inventory.selectors import ItemForecast, items_forecast
from inventory.tests.factories import InventoryItemFactory

pytestmark = pytest.mark.django_db

# Monday 1 June 2026, 10:00 in London (BST): the 7th day ends at 8 June 00:00 London
# (7 June 23:00 UTC), the 30th at 1 July 00:00 London (30 June 23:00 UTC).
NOW = datetime(2026, 6, 1, 9, tzinfo=UTC)
Status = Booking.Status


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def consumes(booking_type, item, quantity: int) -> None:
    BookingTypeConsumption.objects.create(
        workspace=booking_type.workspace, booking_type=booking_type, item=item, quantity=quantity
    )


def book(booking_type, start: datetime, status: str = Status.CONFIRMED) -> Booking:
    return BookingFactory(
        workspace=booking_type.workspace, booking_type=booking_type, start=start, status=status
    )


@pytest.fixture
def gloves(workspace_a):
    return InventoryItemFactory(
        workspace=workspace_a, name="Gloves", quantity_on_hand=10, low_stock_threshold=2
    )


@pytest.fixture
def masks(workspace_a):
    return InventoryItemFactory(
        workspace=workspace_a, name="Masks", quantity_on_hand=100, low_stock_threshold=2
    )


@pytest.fixture
def physio(workspace_a, gloves, masks):
    booking_type = BookingTypeFactory(workspace=workspace_a, name="Physio")
    consumes(booking_type, gloves, 2)
    consumes(booking_type, masks, 1)
    return booking_type


@pytest.fixture
def massage(workspace_a, gloves):
    booking_type = BookingTypeFactory(workspace=workspace_a, name="Massage")
    consumes(booking_type, gloves, 3)
    return booking_type


@pytest.fixture
def known_bookings(physio, massage):
    """Gloves: 2 today, 3 on 3 June (pending), 2 on 10 June, 3 on 20 June; masks: 1 today and
    1 on 10 June. The rest is never counted."""
    book(physio, NOW + timedelta(hours=2))
    book(massage, datetime(2026, 6, 3, 9, tzinfo=UTC), Status.PENDING)
    book(physio, datetime(2026, 6, 10, 9, tzinfo=UTC))
    book(massage, datetime(2026, 6, 20, 9, tzinfo=UTC))
    # Cancelled, completed, no-show, already started and beyond the 30th day: none counts.
    book(physio, datetime(2026, 6, 2, 9, tzinfo=UTC), Status.CANCELLED)
    book(massage, datetime(2026, 6, 4, 9, tzinfo=UTC), Status.COMPLETED)
    book(massage, datetime(2026, 6, 5, 9, tzinfo=UTC), Status.NO_SHOW)
    book(physio, NOW - timedelta(hours=2))
    book(physio, datetime(2026, 6, 30, 23, tzinfo=UTC))  # 1 July 00:00 in London
    book(massage, datetime(2026, 7, 15, 9, tzinfo=UTC))


def test_the_forecast_adds_what_each_upcoming_booking_consumes(
    workspace_a, gloves, masks, known_bookings
):
    forecast = items_forecast(workspace=workspace_a, items=[gloves, masks])

    # Until the end of tomorrow (the next day's work): today's only.
    assert forecast[gloves.pk] == ItemForecast(
        needed_7d=5, needed_30d=10, runs_out_on=None, short_7d=False, needed_next_day=2
    )
    assert forecast[masks.pk] == ItemForecast(
        needed_7d=1, needed_30d=2, runs_out_on=None, short_7d=False, needed_next_day=1
    )


def test_the_stock_runs_out_on_the_day_the_cumulative_need_passes_what_is_on_hand(
    workspace_a, gloves, known_bookings
):
    gloves.quantity_on_hand = 6  # 2 today, 5 by 3 June, 7 by 10 June

    forecast = items_forecast(workspace=workspace_a, items=[gloves])[gloves.pk]

    assert forecast.runs_out_on == date(2026, 6, 10)
    assert forecast.short_7d is False


def test_an_item_no_service_consumes_needs_nothing(workspace_a, known_bookings):
    spare = InventoryItemFactory(workspace=workspace_a, quantity_on_hand=0)

    assert items_forecast(workspace=workspace_a, items=[spare]) == {spare.pk: ItemForecast()}


def test_the_days_are_the_workspaces_days_across_its_midnight(workspace_a, gloves, physio):
    workspace_a.timezone = "America/New_York"  # UTC-4 in June: today is 1 June, 05:00
    workspace_a.save(update_fields=["timezone"])
    gloves.quantity_on_hand = 1
    # 7 June 22:00 in New York (8 June in UTC): the 7th day still; there it runs out.
    book(physio, datetime(2026, 6, 8, 2, tzinfo=UTC))
    # 8 June 00:30 in New York: the 8th day, in the 30 only.
    book(physio, datetime(2026, 6, 8, 4, 30, tzinfo=UTC))

    forecast = items_forecast(workspace=workspace_a, items=[gloves])[gloves.pk]

    assert forecast == ItemForecast(
        needed_7d=2, needed_30d=4, runs_out_on=date(2026, 6, 7), short_7d=True
    )


def test_an_item_short_for_the_next_7_days_is_flagged_before_it_is_low(
    workspace_a, gloves, physio, massage
):
    # 10 on hand, low at 2: not low, but the week's bookings need 12.
    for day in range(2, 6):
        book(physio, datetime(2026, 6, day, 9, tzinfo=UTC))
        book(massage, datetime(2026, 6, day, 11, tzinfo=UTC))
    gloves.refresh_from_db()

    forecast = items_forecast(workspace=workspace_a, items=[gloves])[gloves.pk]

    assert gloves.is_low is False
    assert forecast.needed_7d == 20
    assert forecast.short_7d is True
    assert forecast.runs_out_on == date(2026, 6, 4)  # 5 by 2 June, 10 by 3 June, 15 by 4 June


def test_another_workspaces_bookings_are_never_counted(workspace_a, workspace_b, gloves, physio):
    theirs = BookingTypeFactory(workspace=workspace_b)
    # Even a consumption wired to this workspace's item: their bookings are theirs.
    consumes(theirs, gloves, 50)
    book(theirs, NOW + timedelta(days=1))
    their_item = InventoryItemFactory(workspace=workspace_b, quantity_on_hand=0)
    consumes(theirs, their_item, 1)
    book(physio, NOW + timedelta(days=2))

    forecast = items_forecast(workspace=workspace_a, items=[gloves, their_item])

    assert forecast[gloves.pk] == ItemForecast(needed_7d=2, needed_30d=2)
    assert forecast[their_item.pk] == ItemForecast()


# --- The API ----------------------------------------------------------------------------------


def test_the_api_gives_each_items_forecast(owner_api, gloves, known_bookings):
    gloves.quantity_on_hand = 6
    gloves.save(update_fields=["quantity_on_hand"])

    listed = owner_api.get("/api/v1/inventory").json()["results"]
    one = owner_api.get(f"/api/v1/inventory/{gloves.pk}").json()

    row = next(item for item in listed if item["id"] == gloves.pk)
    for body in (row, one):
        assert body["needed_7d"] == 5
        assert body["needed_30d"] == 10
        assert body["runs_out_on"] == "2026-06-10"
        assert body["short_7d"] is False


def test_the_api_flags_an_item_short_for_the_week_before_it_is_low(
    owner_api, gloves, physio, massage
):
    for day in range(2, 5):
        book(physio, datetime(2026, 6, day, 9, tzinfo=UTC))
        book(massage, datetime(2026, 6, day, 11, tzinfo=UTC))

    body = owner_api.get(f"/api/v1/inventory/{gloves.pk}").json()

    assert body["is_low"] is False
    assert body["short_7d"] is True
    assert body["needed_7d"] == 15


def test_an_outsider_gets_404_for_the_items_forecast(outsider_api, gloves):
    assert outsider_api.get(f"/api/v1/inventory/{gloves.pk}").status_code == 404


def test_a_stock_move_answers_with_the_items_forecast(owner_api, gloves, known_bookings):
    response = owner_api.post(
        f"/api/v1/inventory/{gloves.pk}/restock", {"quantity": 5}, format="json"
    )

    assert response.status_code == 201
    assert response.json()["item"]["needed_30d"] == 10


@pytest.mark.parametrize("items", [3, 20])
def test_the_api_list_forecast_takes_a_constant_number_of_queries(
    owner_api, workspace_a, items, django_assert_max_num_queries
):
    cleaning = BookingTypeFactory(workspace=workspace_a)
    for item in InventoryItemFactory.create_batch(items, workspace=workspace_a):
        consumes(cleaning, item, 1)
    for day in range(2, 12):
        book(cleaning, datetime(2026, 6, day, 9, tzinfo=UTC))

    # 5 queries: the token's user, the workspace membership, the count, the page of items,
    # the page's stock forecast
    with django_assert_max_num_queries(5):
        response = owner_api.get("/api/v1/inventory")

    assert response.status_code == 200
    assert {item["needed_30d"] for item in response.json()["results"]} == {10}


# --- The page ---------------------------------------------------------------------------------


def row_of(page: str, item) -> str:
    return page.split(f'data-testid="inventory-row-{item.pk}"')[1].split("</tr>")[0]


def test_the_inventory_page_shows_the_forecast(owner_client, gloves, masks, known_bookings):
    gloves.quantity_on_hand = 4  # 5 needed this week
    gloves.save(update_fields=["quantity_on_hand"])

    page = owner_client.get(reverse("inventory")).content.decode()

    assert "Needed 7 d / 30 d" in page
    gloves_row = row_of(page, gloves)
    assert "5 / 10" in gloves_row
    assert 'datetime="2026-06-03"' in gloves_row
    assert 'data-testid="short-badge"' in gloves_row
    assert "Short for the next 7 days" in gloves_row
    masks_row = row_of(page, masks)
    assert "1 / 2" in masks_row
    assert "short-badge" not in masks_row


def test_the_page_flags_an_item_short_for_the_week_before_it_is_low(
    owner_client, gloves, physio, massage
):
    for day in range(2, 5):
        book(physio, datetime(2026, 6, day, 9, tzinfo=UTC))
        book(massage, datetime(2026, 6, day, 11, tzinfo=UTC))

    page = owner_client.get(reverse("inventory")).content.decode()

    row = row_of(page, gloves)
    assert 'data-testid="short-badge"' in row
    assert 'data-testid="low-badge"' not in row


def test_the_page_counts_only_the_workspaces_own_bookings(
    owner_client, workspace_b, gloves, physio
):
    theirs = BookingTypeFactory(workspace=workspace_b)
    consumes(theirs, gloves, 50)
    book(theirs, NOW + timedelta(days=1))

    page = owner_client.get(reverse("inventory")).content.decode()

    assert "0 / 0" in row_of(page, gloves)


@pytest.mark.parametrize("items", [3, 20])
def test_the_list_page_forecast_takes_a_constant_number_of_queries(
    owner_client, workspace_a, items, django_assert_max_num_queries
):
    cleaning = BookingTypeFactory(workspace=workspace_a)
    for item in InventoryItemFactory.create_batch(items, workspace=workspace_a):
        consumes(cleaning, item, 1)
    for day in range(2, 12):
        book(cleaning, datetime(2026, 6, day, 9, tzinfo=UTC))

    # 7 queries: session, user, workspace membership, the count, the page of items, the page's
    # stock forecast, the workspace switcher's memberships
    with django_assert_max_num_queries(7):
        response = owner_client.get(reverse("inventory"))

    assert response.status_code == 200
    assert all(item.forecast.needed_30d == 10 for item in response.context["items"])

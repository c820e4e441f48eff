"""The dashboard's key figures (careops.dashboard.stats) and `GET /api/v1/dashboard/stats`.

Workspace A keeps the time of New York here, five hours behind UTC in January, so that a local
day and a UTC day visibly differ at the period's edges.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine

from bookings.models import Booking
from bookings.tests.factories import BookingFactory, BookingTypeFactory
from careops.dashboard.charts import bar_chart, grouped_bar_chart
from careops.dashboard.stats import Period, dashboard_stats, period_parse
from careops.errors import InvalidInput
from careops.tenancy import WORKSPACE_HEADER
from contacts.tests.factories import ContactFactory
from forms.models import FormSubmission
from forms.tests.factories import FormSubmissionFactory, FormTemplateFactory
from messaging.models import Message
from messaging.tests.factories import ConversationFactory, MessageFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/dashboard/stats"
NEW_YORK = ZoneInfo("America/New_York")
# Mid-afternoon on 31 January in New York: the last day of the period the tests ask for.
NOW = datetime(2026, 1, 31, 15, tzinfo=NEW_YORK)
JANUARY = {"from": "2026-01-01", "to": "2026-01-31"}
LONG_AGO = datetime(2025, 6, 1, tzinfo=NEW_YORK)


def local(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NEW_YORK)


@pytest.fixture(autouse=True)
def _now():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def workspace(workspace_a):
    workspace_a.timezone = "America/New_York"
    workspace_a.save(update_fields=["timezone"])
    return workspace_a


@pytest.fixture
def january():
    return Period(start=date(2026, 1, 1), end=date(2026, 1, 31), zone=NEW_YORK)


@pytest.fixture
def regular(workspace):
    """A client from before the period: only the contacts a test adds in it are new."""
    return ContactFactory(workspace=workspace, created_at=LONG_AGO)


def book(workspace, contact, start, status=Booking.Status.COMPLETED, booking_type=None):
    booking_type = booking_type or BookingTypeFactory(workspace=workspace)
    return BookingFactory(
        workspace=workspace, booking_type=booking_type, contact=contact, start=start, status=status
    )


def message(conversation, at, *, reply_by=None):
    """An inbound message, or an outbound one sent by `reply_by` (a Message.SenderKind)."""
    if reply_by is None:
        return MessageFactory(conversation=conversation, created_at=at)
    return MessageFactory(
        conversation=conversation,
        created_at=at,
        direction=Message.Direction.OUTBOUND,
        status=Message.Status.SENT,
        sender_kind=reply_by,
    )


@pytest.fixture
def known_month(workspace, regular):
    """January in workspace A, with figures worked out by hand (see each test)."""
    kind = BookingTypeFactory(workspace=workspace)
    for start, status in [
        (local(5, 9), Booking.Status.COMPLETED),
        (local(5, 11), Booking.Status.COMPLETED),
        (local(12, 9), Booking.Status.COMPLETED),
        (local(12, 11), Booking.Status.NO_SHOW),
        (local(20, 9), Booking.Status.CANCELLED),
        (local(30, 9), Booking.Status.PENDING),
    ]:
        book(workspace, regular, start, status, kind)
    # The edges: 23:30 on the last local day counts (04:30 UTC on 1 February); 00:30 the next
    # local day does not, nor 23:30 on 31 December (already 1 January in UTC).
    book(workspace, regular, local(31, 23, 30), Booking.Status.CONFIRMED, kind)
    book(workspace, regular, local(1, 0, 30, month=2), Booking.Status.CONFIRMED, kind)
    book(
        workspace,
        regular,
        datetime(2025, 12, 31, 23, 30, tzinfo=NEW_YORK),
        Booking.Status.CONFIRMED,
        kind,
    )

    ContactFactory(workspace=workspace, created_at=local(3, 8))
    ContactFactory(workspace=workspace, created_at=local(31, 23, 59))
    ContactFactory(workspace=workspace, created_at=local(1, 0, 1, month=2))

    # Response times: 20 minutes (from the first of two messages in a row), 10 (automation;
    # the form link sent meanwhile answers nothing), 40; one message not yet answered.
    first = ConversationFactory(contact=regular)
    message(first, local(6, 10))
    message(first, local(6, 10, 5))
    message(first, local(6, 10, 20), reply_by=Message.SenderKind.STAFF)
    second = ConversationFactory(contact=ContactFactory(workspace=workspace, created_at=LONG_AGO))
    message(second, local(7, 11))
    message(second, local(7, 11, 5), reply_by=Message.SenderKind.SYSTEM)
    message(second, local(7, 11, 10), reply_by=Message.SenderKind.AUTOMATION)
    third = ConversationFactory(contact=ContactFactory(workspace=workspace, created_at=LONG_AGO))
    message(third, local(7, 12))
    message(third, local(7, 12, 40), reply_by=Message.SenderKind.STAFF)
    fourth = ConversationFactory(contact=ContactFactory(workspace=workspace, created_at=LONG_AGO))
    message(fourth, local(31, 14))

    # Forms sent in January: two completed, one marked overdue, one past due that the hourly
    # sweep has not marked yet, one still within its time. One sent in December is not counted.
    template = FormTemplateFactory(workspace=workspace)
    sent = local(10, 9)
    for status, due in [
        (FormSubmission.Status.COMPLETED, sent + timedelta(hours=48)),
        (FormSubmission.Status.COMPLETED, sent + timedelta(hours=48)),
        (FormSubmission.Status.OVERDUE, sent + timedelta(hours=48)),
        (FormSubmission.Status.PENDING, sent + timedelta(hours=48)),
        (FormSubmission.Status.PENDING, NOW + timedelta(hours=1)),
    ]:
        FormSubmissionFactory(
            workspace=workspace,
            template=template,
            contact=regular,
            status=status,
            sent_at=sent,
            due_at=due,
            completed_at=sent + timedelta(hours=2) if status == "completed" else None,
        )
    FormSubmissionFactory(
        workspace=workspace,
        template=template,
        contact=regular,
        sent_at=datetime(2025, 12, 20, 9, tzinfo=NEW_YORK),
    )


# --- The period -------------------------------------------------------------------------------


def test_the_default_period_is_the_last_30_local_days_up_to_today(workspace):
    # 03:00 UTC on 1 February is still the evening of 31 January in New York.
    with time_machine.travel(datetime(2026, 2, 1, 3, tzinfo=UTC), tick=False):
        period = period_parse(workspace=workspace, params={})

    assert (period.start, period.end, period.days) == (date(2026, 1, 2), date(2026, 1, 31), 30)


@pytest.mark.parametrize(("name", "days"), [("7d", 7), ("30d", 30), ("90d", 90)])
def test_a_named_period_ends_today(workspace, name, days):
    period = period_parse(workspace=workspace, params={"period": name}, today=date(2026, 3, 1))

    assert period.end == date(2026, 3, 1)
    assert period.days == days


def test_the_period_covers_whole_local_days_in_utc(workspace, january):
    period = period_parse(workspace=workspace, params=JANUARY)

    assert period == january
    assert period.start_at == datetime(2026, 1, 1, 5, tzinfo=UTC)
    assert period.end_at == datetime(2026, 2, 1, 5, tzinfo=UTC)  # exclusive


def test_from_and_to_win_over_a_named_period(workspace, january):
    assert period_parse(workspace=workspace, params={**JANUARY, "period": "7d"}) == january


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "1y"}, "period"),
        ({"from": "2026-13-01", "to": "2026-01-31"}, "from"),
        ({"from": "20260101", "to": "2026-01-31"}, "from"),
        ({"from": "2026-01-01"}, "to"),
        ({"from": "2026-02-01", "to": "2026-01-31"}, "from"),
        ({"from": "2025-01-01", "to": "2026-01-31"}, "from"),
        ({"from": "1900-01-01", "to": "2026-01-31"}, "from"),
        ({"from": "2026-01-01", "to": "9999-12-31"}, "to"),
    ],
)
def test_bad_period_parameters_name_the_field(workspace, params, field):
    with pytest.raises(InvalidInput) as caught:
        period_parse(workspace=workspace, params=params)

    assert list(caught.value.fields) == [field]


def test_a_period_of_366_days_is_allowed(workspace):
    period = period_parse(workspace=workspace, params={"from": "2024-01-01", "to": "2024-12-31"})

    assert period.days == 366


# --- The figures ------------------------------------------------------------------------------


def test_bookings_are_counted_by_status_over_the_local_days(workspace, january, known_month):
    bookings = dashboard_stats(workspace=workspace, period=january)["bookings"]

    assert bookings["total"] == 7
    assert bookings["by_status"] == {
        "pending": 1,
        "confirmed": 1,  # 23:30 on the 31st; not 00:30 on 1 February, nor 31 December
        "completed": 3,
        "cancelled": 1,
        "no_show": 1,
    }
    assert bookings["no_show_rate"] == 0.25  # 1 of the 4 that came to an end


def test_the_daily_series_has_every_day_zeros_included(workspace, january, known_month):
    per_day = dashboard_stats(workspace=workspace, period=january)["bookings"]["per_day"]

    assert len(per_day) == 31
    assert per_day[0] == {"date": "2026-01-01", "count": 0}
    assert per_day[4] == {"date": "2026-01-05", "count": 2}
    assert per_day[30] == {"date": "2026-01-31", "count": 1}
    assert sum(day["count"] for day in per_day) == 7


def test_new_contacts_are_those_added_in_the_period(workspace, january, known_month):
    assert dashboard_stats(workspace=workspace, period=january)["contacts"] == {"new": 2}


def test_messages_in_and_out_with_response_times(workspace, january, known_month):
    messages = dashboard_stats(workspace=workspace, period=january)["messages"]

    assert (messages["inbound"], messages["outbound"]) == (5, 4)
    assert messages["response_time_minutes"] == {
        "median": 20.0,
        "average": 23.3,  # (20 + 10 + 40) / 3
        "answered": 3,
        "unanswered": 1,
    }
    days = {day["date"]: day for day in messages["per_day"]}
    assert len(days) == 31
    assert days["2026-01-06"] == {"date": "2026-01-06", "inbound": 2, "outbound": 1}
    assert days["2026-01-07"] == {"date": "2026-01-07", "inbound": 2, "outbound": 3}
    assert days["2026-01-08"] == {"date": "2026-01-08", "inbound": 0, "outbound": 0}


def test_forms_sent_completed_and_overdue(workspace, january, known_month):
    assert dashboard_stats(workspace=workspace, period=january)["forms"] == {
        "sent": 5,
        "completed": 2,
        "overdue": 2,  # one marked, one past due that the hourly sweep has yet to mark
        "completion_rate": 0.4,
    }


def test_an_empty_period_has_zeros_and_no_rates(workspace, january):
    stats = dashboard_stats(workspace=workspace, period=january)

    assert stats["period"] == {
        "from": "2026-01-01",
        "to": "2026-01-31",
        "timezone": "America/New_York",
    }
    assert stats["bookings"]["total"] == 0
    assert stats["bookings"]["no_show_rate"] is None
    assert stats["messages"]["response_time_minutes"] == {
        "median": None,
        "average": None,
        "answered": 0,
        "unanswered": 0,
    }
    assert stats["forms"]["completion_rate"] is None
    assert [day["count"] for day in stats["bookings"]["per_day"]] == [0] * 31


# --- The API ----------------------------------------------------------------------------------


def test_the_owner_gets_the_figures_as_json(owner_api, workspace, january, known_month):
    response = owner_api.get(URL, JANUARY)

    assert response.status_code == 200
    assert response.json() == dashboard_stats(workspace=workspace, period=january)


def test_the_default_period_is_the_last_30_days(owner_api, workspace):
    response = owner_api.get(URL)

    assert response.status_code == 200
    assert response.json()["period"]["from"] == "2026-01-02"
    assert response.json()["period"]["to"] == "2026-01-31"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"period": "forever"}, "period"),
        ({"from": "yesterday", "to": "2026-01-31"}, "from"),
        ({"from": "2026-01-31", "to": "2026-01-01"}, "from"),
    ],
)
def test_bad_parameters_answer_400_naming_the_field(owner_api, workspace, params, field):
    response = owner_api.get(URL, params)

    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert list(body["fields"]) == [field]


def test_staff_may_not_see_the_figures(staff_api, workspace):
    response = staff_api.get(URL)

    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"


def test_anonymous_callers_get_401(anon_api):
    assert anon_api.get(URL).status_code == 401


def test_an_outsider_sees_only_their_own_workspace(outsider_api, workspace_b, known_month):
    BookingFactory(workspace=workspace_b, start=local(12, 9), status=Booking.Status.NO_SHOW)

    response = outsider_api.get(URL, JANUARY)

    assert response.status_code == 200
    body = response.json()
    assert body["period"]["timezone"] == workspace_b.timezone
    assert body["bookings"]["total"] == 1
    assert body["bookings"]["by_status"]["no_show"] == 1
    assert body["contacts"]["new"] == 1  # the booking's own contact
    assert body["messages"]["inbound"] == 0
    assert body["forms"]["sent"] == 0


def test_an_outsider_naming_another_workspace_gets_404(outsider_api, workspace, known_month):
    response = outsider_api.get(URL, JANUARY, headers={WORKSPACE_HEADER: str(workspace.pk)})

    assert response.status_code == 404


@pytest.mark.parametrize("size", [3, 30])
def test_the_figures_take_a_constant_number_of_queries(
    owner_api, workspace, regular, size, django_assert_max_num_queries
):
    kind = BookingTypeFactory(workspace=workspace)
    template = FormTemplateFactory(workspace=workspace)
    for index in range(size):
        at = local(1 + index, 10)
        book(workspace, regular, at, Booking.Status.COMPLETED, kind)
        conversation = ConversationFactory(
            contact=ContactFactory(workspace=workspace, created_at=regular.created_at)
        )
        message(conversation, at)
        message(conversation, at + timedelta(minutes=1 + index), reply_by=Message.SenderKind.STAFF)
        FormSubmissionFactory(workspace=workspace, template=template, contact=regular, sent_at=at)

    # 7 queries: the token's user, the workspace membership, then the figures: bookings by
    # day and status, new contacts, messages by day and direction, response times (one query,
    # the median by percentile_cont), forms.
    with django_assert_max_num_queries(7):
        response = owner_api.get(URL, {"from": "2026-01-01", "to": "2026-03-31"})

    assert response.status_code == 200
    assert response.json()["bookings"]["total"] == size
    assert response.json()["messages"]["response_time_minutes"]["answered"] == size


# --- Figures kept a minute in a big workspace --------------------------------------------------


def test_a_small_workspaces_figures_follow_every_change_at_once(workspace, january, regular):
    # Counting takes a few ms here, under DASHBOARD_FIGURES_CACHE_AFTER_MS: never kept.
    before = dashboard_stats(workspace=workspace, period=january)["bookings"]["total"]
    book(workspace, regular, local(12, 10))

    assert dashboard_stats(workspace=workspace, period=january)["bookings"]["total"] == before + 1


def test_figures_slow_to_count_are_kept_until_they_expire(settings, workspace, january, regular):
    settings.DASHBOARD_FIGURES_CACHE_AFTER_MS = 0  # as if this workspace were big
    settings.DASHBOARD_FIGURES_CACHE_SECONDS = 1
    first = dashboard_stats(workspace=workspace, period=january)
    book(workspace, regular, local(12, 10))

    kept = dashboard_stats(workspace=workspace, period=january)
    december = Period(start=date(2025, 12, 1), end=date(2026, 1, 31), zone=NEW_YORK)
    other_period = dashboard_stats(workspace=workspace, period=december)
    time.sleep(1.2)  # the cache's own clock (Redis), which time_machine does not move
    expired = dashboard_stats(workspace=workspace, period=january)

    assert kept == first  # computed_at included: the same count, served again
    assert other_period["bookings"]["total"] == first["bookings"]["total"] + 1
    assert expired["bookings"]["total"] == first["bookings"]["total"] + 1


def test_with_keeping_turned_off_kept_figures_are_not_served(settings, workspace, january, regular):
    settings.DASHBOARD_FIGURES_CACHE_AFTER_MS = 0
    first = dashboard_stats(workspace=workspace, period=january)  # kept
    book(workspace, regular, local(12, 10))
    settings.DASHBOARD_FIGURES_CACHE_SECONDS = 0

    counted = dashboard_stats(workspace=workspace, period=january)

    assert counted["bookings"]["total"] == first["bookings"]["total"] + 1


def test_figures_are_kept_per_workspace(settings, workspace, workspace_b, january, regular):
    settings.DASHBOARD_FIGURES_CACHE_AFTER_MS = 0
    dashboard_stats(workspace=workspace, period=january)
    book(workspace_b, ContactFactory(workspace=workspace_b), local(12, 10))

    assert dashboard_stats(workspace=workspace_b, period=january)["bookings"]["total"] == 1


def test_with_the_cache_unreachable_the_figures_are_counted(settings, workspace, january, regular):
    settings.DASHBOARD_FIGURES_CACHE_AFTER_MS = 0
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",  # nothing listens there
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    book(workspace, regular, local(12, 10))

    figures = dashboard_stats(workspace=workspace, period=january)

    assert figures["bookings"]["total"] == 1
    assert figures["computed_at"] == NOW.astimezone(UTC).isoformat()


def test_the_page_says_when_the_figures_were_counted(owner_client, workspace):
    html = owner_client.get("/").content.decode()

    # 15:00 in New York, the workspace's time, whatever the server's.
    assert 'data-testid="figures-counted-at">15:00</time>' in html


# --- Charts -----------------------------------------------------------------------------------


def test_a_bar_chart_scales_the_highest_bar_to_the_top():
    chart = bar_chart([("2026-01-01", 0), ("2026-01-02", 4), ("2026-01-03", 2)], height=81)

    assert [bar.height for bar in chart.bars] == [0, 80, 40]
    assert [bar.y for bar in chart.bars] == [81, 1, 41]
    assert [bar.x for bar in chart.bars] == [0, 10, 20]
    assert chart.width == 28
    assert chart.bars[1].tooltip == "2026-01-02: 4"
    assert chart.summary == "2026-01-01 to 2026-01-03. total 6, highest 4 on 2026-01-02."


def test_a_chart_of_zeros_draws_flat_bars():
    chart = bar_chart([("a", 0), ("b", 0)])

    assert {bar.height for bar in chart.bars} == {0}


def test_a_grouped_chart_puts_the_series_side_by_side():
    chart = grouped_bar_chart(
        [("2026-01-01", (2, 1)), ("2026-01-02", (0, 4))], series=("inbound", "outbound")
    )

    assert [(bar.x, bar.series, bar.value) for bar in chart.bars] == [
        (0, "inbound", 2),
        (6, "outbound", 1),
        (15, "inbound", 0),
        (21, "outbound", 4),
    ]
    assert chart.bars[3].tooltip == "2026-01-02: 4 outbound"


def test_the_chart_template_draws_an_accessible_svg():
    from django.template.loader import render_to_string
    from django.utils import translation

    chart = bar_chart([("2026-01-01", 1), ("2026-01-02", 3)], height=61)
    # A language that writes decimals with a comma must not break the SVG's numbers.
    with translation.override("de"):
        html = render_to_string(
            "dashboard/_bar_chart.html", {"chart": chart, "title": "Bookings per day"}
        )

    assert 'role="img"' in html
    assert "<title>Bookings per day</title>" in html
    assert '<rect class="chart-bar" x="0" y="41.0" width="8" height="20.0">' in html
    assert "<title>2026-01-02: 3</title>" in html

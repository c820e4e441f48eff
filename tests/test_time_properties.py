"""Properties of a workspace's days: "today" and its midnights in any zone at any instant, and
the dashboard's period parsed from whatever a request sends."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, date, datetime, timedelta
from functools import cache

from django.utils import timezone
from hypothesis import example, given, settings
from hypothesis import strategies as st

from careops.dashboard.stats import Period, period_parse
from careops.errors import InvalidInput
from workspaces.models import Workspace

ZONES = sorted(zoneinfo.available_timezones())
FIRST, LAST = datetime(1970, 1, 1, tzinfo=UTC), datetime(2100, 12, 31, tzinfo=UTC)


@cache
def transitions(zone_name: str, year: int) -> tuple[datetime, ...]:
    """The instants of `year` at which the zone's offset changes, to the second."""
    zone = zoneinfo.ZoneInfo(zone_name)
    found = []
    moment = datetime(year, 1, 1, tzinfo=UTC)
    end = datetime(year + 1, 1, 1, tzinfo=UTC)
    while moment < end:
        step = moment + timedelta(days=1)
        if moment.astimezone(zone).utcoffset() != step.astimezone(zone).utcoffset():
            low, high = moment, step  # the offset changes in (low, high]
            while high - low > timedelta(seconds=1):
                middle = low + (high - low) / 2
                if low.astimezone(zone).utcoffset() == middle.astimezone(zone).utcoffset():
                    low = middle
                else:
                    high = middle
            found.append(high.replace(microsecond=0))
        moment = step
    return tuple(found)


@st.composite
def zone_and_instant(draw):
    """Any instant, or one within a day and a half of a change of offset (DST, a zone's move)."""
    zone_name = draw(st.sampled_from(ZONES))
    year = draw(st.integers(1970, 2099))
    changes = transitions(zone_name, year)
    if changes and draw(st.booleans()):
        instant = draw(st.sampled_from(changes)) + timedelta(
            seconds=draw(st.integers(-36 * 3600, 36 * 3600))
        )
    else:
        instant = draw(
            st.datetimes(
                min_value=datetime(year, 1, 1),  # noqa: DTZ001 - hypothesis takes naive bounds
                max_value=datetime(year, 12, 31),  # noqa: DTZ001
            )
        )
        instant = instant.replace(tzinfo=UTC)
    return zone_name, instant


def a_workspace(zone_name: str) -> Workspace:
    return Workspace(name="Clinic", slug="clinic", timezone=zone_name)


# Clocks that fell back across midnight: 00:00, 00:01, then 23:01 of the day before.
FELL_BACK_ACROSS_MIDNIGHT = [
    ("America/St_Johns", datetime(1987, 10, 25, 2, 30, 30, tzinfo=UTC)),  # 00:00:30 -02:30
    ("America/St_Johns", datetime(1987, 10, 25, 2, 45, tzinfo=UTC)),  # 23:15 -03:30
    ("Antarctica/Casey", datetime(2010, 3, 4, 14, tzinfo=UTC)),  # 01:00 +11, 5 March
    ("Antarctica/Casey", datetime(2010, 3, 4, 15, tzinfo=UTC)),  # 23:00 +08, 4 March
]


@settings(max_examples=500, deadline=None)
@given(zone_and_instant())
@example(FELL_BACK_ACROSS_MIDNIGHT[0])
@example(FELL_BACK_ACROSS_MIDNIGHT[1])
@example(FELL_BACK_ACROSS_MIDNIGHT[2])
@example(FELL_BACK_ACROSS_MIDNIGHT[3])
def test_today_runs_from_its_midnight_to_the_next_in_any_zone(case):
    zone_name, now = case
    workspace = a_workspace(zone_name)

    today = workspace.today(now)
    start, end = workspace.midnight(today), workspace.midnight(today + timedelta(days=1))

    assert start <= now < end
    assert timezone.localtime(start, workspace.zone).date() == today
    assert timezone.localtime(end, workspace.zone).date() > today


@settings(max_examples=300, deadline=None)
@given(zone_and_instant())
def test_midnight_is_the_first_moment_of_its_day(case):
    zone_name, now = case
    workspace = a_workspace(zone_name)
    day = workspace.today(now)

    midnight = workspace.midnight(day)

    assert workspace.today(midnight) == day
    assert workspace.today(midnight - timedelta(seconds=1)) < day


# --- The dashboard's period -------------------------------------------------------------------

date_like = st.one_of(
    st.text(max_size=30),
    st.dates().map(date.isoformat),
    st.builds(
        lambda y, m, d: f"{y:04d}-{m:02d}-{d:02d}",
        st.integers(0, 10_000),
        st.integers(0, 13),
        st.integers(0, 32),
    ),
    st.sampled_from(
        [
            "0000-01-01",
            "10000-01-01",
            "9999-12-31",
            "2026-02-30",
            "2026-02-29",
            "2024-02-29",
            " 2026-01-01 ",
            "20260101",
            "2026-W48-1",
            "2026-01-01T00:00",
            "\u0662\u0660\u0662\u0666-\u0660\u0661-\u0660\u0661",  # Arabic-Indic digits
            "\uff12\uff10\uff12\uff16-\uff10\uff11-\uff10\uff11",  # full-width digits
            "1969-12-31",
            "1970-01-01",
            "2999-12-31",
            "3000-01-01",
        ]
    ),
)
params_strategy = st.fixed_dictionaries(
    {},
    optional={
        "period": st.one_of(st.sampled_from(["7d", "30d", "90d", " 7d ", "", "1y"]), st.text()),
        "from": date_like,
        "to": date_like,
    },
)


@settings(max_examples=500, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    params=params_strategy,
    today=st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 12, 31)),
)
def test_a_period_is_parsed_or_refused_on_its_field(zone_name, params, today):
    workspace = a_workspace(zone_name)
    try:
        period = period_parse(workspace=workspace, params=params, today=today)
    except InvalidInput as exc:
        assert exc.fields
        assert set(exc.fields) <= {"period", "from", "to"}
        return

    assert isinstance(period, Period)
    assert period.start <= period.end
    assert 1 <= period.days <= 366
    assert period.start_at < period.end_at
    assert len(period.dates()) == period.days
    for name in ("from", "to"):
        raw = (params.get(name) or "").strip()
        if raw:
            assert raw.isascii()  # only YYYY-MM-DD in ASCII digits is a date


@settings(max_examples=200, deadline=None)
@given(
    zone_name=st.sampled_from(ZONES),
    start=st.dates(min_value=date(1970, 1, 1), max_value=date(2100, 12, 31)),
    length=st.integers(0, 365),
)
def test_a_periods_edges_are_its_first_and_next_local_midnights(zone_name, start, length):
    workspace = a_workspace(zone_name)
    end = start + timedelta(days=length)
    period = period_parse(
        workspace=workspace, params={"from": start.isoformat(), "to": end.isoformat()}
    )

    # In UTC: == between zones is always False for an ambiguous local time (PEP 495).
    assert period.start_at == workspace.midnight(start).astimezone(UTC)
    assert period.end_at == workspace.midnight(end + timedelta(days=1)).astimezone(UTC)

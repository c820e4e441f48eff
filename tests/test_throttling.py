"""The API's throttles count in Redis, one atomic INCR per check: a client past its rate gets a
429 with Retry-After, concurrent workers cannot count past the limit, the count starts again
when the window closes, an unreachable Redis lets requests through, and without REDIS_URL
(the quickstart) DRF's own cache-based counting applies."""

from __future__ import annotations

import logging
import multiprocessing

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.test import override_settings

from careops import throttling
from careops.ratelimit import submission_allowed
from careops.throttling import SimpleRateThrottle, reset_pool
from tests.concurrency import race
from tests.processes import free_port, wait_for

ME = "/api/v1/auth/me"
REFRESH = "/api/v1/auth/refresh"
TYPES = "/api/v1/bookings/types"
RATES = throttling.SimpleRateThrottle.THROTTLE_RATES  # DRF reads its rates once, at import

KEY = "throttle:race:one"


class TenPerMinute(SimpleRateThrottle):
    """Every caller on one counter, ten a minute: the shape of a hot key."""

    scope = "race"
    rate = "10/min"

    def get_cache_key(self, request, view):
        return KEY


def check() -> bool:
    """One request's check, on a throttle of its own as DRF makes one per request."""
    return TenPerMinute().allow_request(None, None)


def check_in_a_child(_: int) -> bool:
    return check()


@pytest.fixture(autouse=True)
def _fresh_pool():
    reset_pool()
    yield
    reset_pool()


@pytest.fixture
def counters():
    """A client of its own on the throttles' Redis database, to look at the counters."""
    client = redis.Redis.from_url(settings.REDIS_URL, decode_responses=True)
    yield client
    client.close()


def events(caplog, name: str) -> list[dict]:
    return [
        record.msg
        for record in caplog.records
        if isinstance(record.msg, dict) and record.msg.get("event") == name
    ]


# --- Through the API --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_user_past_the_rate_gets_429_with_retry_after(owner_api, owner, counters, monkeypatch):
    monkeypatch.setitem(RATES, "user", "3/min")

    statuses = [owner_api.get(ME).status_code for _ in range(3)]
    throttled = owner_api.get(ME)

    assert statuses == [200, 200, 200]
    assert throttled.status_code == 429
    assert throttled.json()["code"] == "throttled"
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert counters.get(f"throttle:user:{owner.pk}") == "4"
    assert 0 < counters.ttl(f"throttle:user:{owner.pk}") <= 60
    assert not counters.keys("throttle:anon:*")  # the anonymous throttle skips signed-in users


@pytest.mark.django_db
def test_an_anonymous_caller_past_the_rate_gets_429(anon_api, live_workspace_a, monkeypatch):
    monkeypatch.setitem(RATES, "anon", "2/min")

    statuses = [
        anon_api.get(TYPES, {"workspace": live_workspace_a.slug}).status_code for _ in range(3)
    ]

    assert statuses == [200, 200, 429]


@pytest.mark.django_db
def test_a_scoped_limit_counts_per_scope_and_address(anon_api, counters, monkeypatch):
    monkeypatch.setitem(RATES, "auth", "2/min")

    statuses = [
        anon_api.post(REFRESH, {"refresh": "garbage"}, format="json").status_code for _ in range(3)
    ]

    assert statuses == [401, 401, 429]
    assert counters.get("throttle:auth:127.0.0.1") == "3"


# --- Counting ---------------------------------------------------------------------------------


def test_twenty_concurrent_requests_against_a_limit_of_ten_let_exactly_ten_through():
    results, errors = race(lambda _: check(), 20)

    assert errors == []
    assert sorted(results) == [False] * 10 + [True] * 10


def test_forked_workers_share_the_count_on_connections_of_their_own(counters):
    assert check()  # the parent's pool now holds a connection the children must not share

    with multiprocessing.get_context("fork").Pool(4) as workers:
        results = workers.map(check_in_a_child, range(20))

    assert results.count(True) == 9
    assert counters.get(KEY) == "21"


def test_later_requests_do_not_stretch_the_window(counters):
    check()
    assert 0 < counters.pttl(KEY) <= 60_000
    counters.pexpire(KEY, 5_000)

    check()

    assert 0 < counters.pttl(KEY) <= 5_000


def test_the_count_starts_again_when_the_window_closes(counters):
    assert all(check() for _ in range(10))
    assert not check()

    # The window is the key's life: close it by Redis's clock, which no test can move.
    counters.pexpire(KEY, 1)
    wait_for(lambda: not counters.exists(KEY), timeout=2, what="the window to close")

    assert check()
    assert counters.get(KEY) == "1"


def test_wait_is_the_time_left_in_the_window_rounded_up(counters):
    for _ in range(10):
        check()
    counters.pexpire(KEY, 2_500)
    throttle = TenPerMinute()

    assert not throttle.allow_request(None, None)
    assert throttle.wait() == 3


# --- The public forms' limit ------------------------------------------------------------------


def _visitor(rf):
    return rf.post("/b/alpha/", REMOTE_ADDR="203.0.113.9")


def test_public_form_limits_count_in_redis_for_every_process(rf, counters, monkeypatch):
    monkeypatch.setitem(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "contact_form", "3/hour")
    key = "ratelimit:contact-form:7:203.0.113.9"

    allowed = [submission_allowed(_visitor(rf), bucket="contact-form:7") for _ in range(4)]

    assert allowed == [True, True, True, False]
    assert counters.get(key) == "4"  # one INCR per submission, in the Redis every process uses
    assert 3500 < counters.ttl(key) <= 3600
    assert submission_allowed(_visitor(rf), bucket="contact-form:8")  # each form its own count


def test_public_forms_stay_open_while_redis_is_unreachable(rf, monkeypatch):
    monkeypatch.setitem(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "contact_form", "1/hour")
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        assert all(submission_allowed(_visitor(rf), bucket="contact-form:7") for _ in range(3))


# --- Without Redis ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_requests_pass_while_redis_is_unreachable_with_one_warning(
    owner_api, owner, counters, monkeypatch, caplog
):
    monkeypatch.setitem(RATES, "user", "1/min")
    caplog.set_level(logging.INFO)

    with override_settings(REDIS_URL=f"redis://127.0.0.1:{free_port()}/0"):
        statuses = [owner_api.get(ME).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    [warning] = events(caplog, "throttle_redis_unavailable")
    assert warning["scope"] == "user"
    assert warning["error_type"] == "ConnectionError"
    assert not counters.exists(f"throttle:user:{owner.pk}")

    # Redis back: counting resumes, and the log says so.
    assert [owner_api.get(ME).status_code for _ in range(2)] == [200, 429]
    assert len(events(caplog, "throttle_redis_available")) == 1


@pytest.mark.django_db
def test_without_redis_url_the_throttles_count_as_drf_does_in_the_cache(
    owner_api, owner, counters, monkeypatch
):
    monkeypatch.setitem(RATES, "user", "2/min")
    locmem = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

    with override_settings(REDIS_URL="", CACHES=locmem):
        statuses = [owner_api.get(ME).status_code for _ in range(2)]
        history = cache.get(f"throttle:user:{owner.pk}")
        throttled = owner_api.get(ME)

    assert statuses == [200, 200]
    assert len(history) == 2  # DRF's list of request times
    assert throttled.status_code == 429
    assert 1 <= int(throttled["Retry-After"]) <= 60
    assert not counters.keys("throttle:*")

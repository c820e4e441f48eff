"""DRF throttles that count in Redis: one round trip per check, atomic across processes.

DRF's SimpleRateThrottle keeps each client's request history as a list in the Django cache:
a `cache.get` and a `cache.set` per throttle and request (two round trips, each on a new
redis.Redis client in Django's RedisCache), and a read-modify-write that concurrent workers
race through, letting more requests pass than the rate allows.

Here a check is one MULTI/EXEC transaction, sent in one write and answered in one read:

    INCR    throttle:<scope>:<ident>
    EXPIRE  throttle:<scope>:<ident> <duration> NX
    PTTL    throttle:<scope>:<ident>

- A fixed window that opens at the client's first request. The INCR that creates the key is
  followed by the EXPIRE that gives it the window's length; NX (Redis >= 7.0) leaves the TTL
  of a key that has one alone, so later requests do not stretch the window, and the key, the
  count with it, vanishes when the window closes. The request passes while the count is at
  most the limit. INCR is atomic: twenty concurrent requests against a limit of ten read
  1..20 and exactly ten pass, whichever process or thread sends them.
- MULTI/EXEC makes the three one unit: no key is ever left counting without an expiry (a
  worker killed between an INCR and its EXPIRE would otherwise leave a client throttled for
  good). A Lua script would be atomic and one round trip as well, but needs EVALSHA and a
  reload after NOSCRIPT; three commands with no logic between them do not need one.
- PTTL is the time left in the window by Redis's clock, the same for every app server
  (whose clocks may disagree): `wait()`, hence Retry-After, is that, rounded up to a
  whole second so that a client retrying when told finds the window closed.
- Windows keyed by the window number (`now // duration`) would be one round trip too, but
  every client's count would reset at the same instant (a stampede of refused clients at
  each minute) and a client's first window would be however much of the current one is left.
- Against DRF's sliding log, a fixed window lets a client spend up to twice the rate across
  the edge of two windows (the end of one and the start of the next); in return it holds one
  integer per client, whatever the rate. Refused requests are counted too (they do not
  extend the window): a client hammering while refused gets in when the window closes.

Without REDIS_URL (the quickstart, on LocMemCache), the classes behave as DRF's own. When
Redis cannot be reached, requests pass: an outage of the counters must not become an outage
of the API. The pool's short timeouts and no retries bound what an outage costs a request;
one warning is logged per outage and process, and a line when Redis answers again.

One connection pool per process, built at first use from settings.REDIS_URL; redis-py's pool
notices a fork (its pid changes) and opens fresh connections in the child.
"""

from __future__ import annotations

import math
import threading

import redis
import structlog
from django.conf import settings
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from redis.retry import Retry
from rest_framework import throttling

log = structlog.get_logger(__name__)

# What an unreachable Redis costs a request, at most, per throttle: one connect or one reply.
SOCKET_TIMEOUT = 0.5

_pool_lock = threading.Lock()
_client: redis.Redis | None = None
_client_url = ""
# This process has warned about the current outage (one warning per outage, not per request).
_unavailable = False


def redis_client() -> redis.Redis | None:
    """The process's client for settings.REDIS_URL, on one connection pool made at first use;
    None without REDIS_URL."""
    global _client, _client_url
    url = settings.REDIS_URL
    if not url:
        return None
    if _client is None or _client_url != url:
        with _pool_lock:
            if _client is None or _client_url != url:
                if _client is not None:
                    _client.connection_pool.disconnect()
                pool = redis.ConnectionPool.from_url(
                    url,
                    socket_connect_timeout=SOCKET_TIMEOUT,
                    socket_timeout=SOCKET_TIMEOUT,
                    # A throttle check is not worth a second wait: fail once, let it through.
                    retry=Retry(NoBackoff(), 0),
                )
                _client, _client_url = redis.Redis(connection_pool=pool), url
    return _client


def reset_pool() -> None:
    """Close and forget the pool: the next check builds one from the settings of the time."""
    global _client, _client_url, _unavailable
    with _pool_lock:
        if _client is not None:
            _client.connection_pool.disconnect()
        _client, _client_url, _unavailable = None, "", False


def _count(client: redis.Redis, key: str, duration: int) -> tuple[int, int]:
    """Counts a request against `key`: (requests in the window so far, milliseconds left)."""
    pipe = client.pipeline(transaction=True)
    pipe.incr(key)
    pipe.expire(key, duration, nx=True)
    pipe.pttl(key)
    count, _, ttl_ms = pipe.execute()
    return count, ttl_ms


class CountersUnavailable(Exception):
    """Redis is configured but cannot be reached: the caller lets the request through."""


def window_count(key: str, duration: int) -> tuple[int, int] | None:
    """Count one hit on `key` in a fixed window of `duration` seconds (the module docstring):
    (hits in the window so far, milliseconds left in it). None without REDIS_URL;
    CountersUnavailable while Redis cannot be reached (one warning per outage and process)."""
    global _unavailable
    client = redis_client()
    if client is None:
        return None
    try:
        count, ttl_ms = _count(client, key, duration)
    except (RedisConnectionError, RedisTimeoutError) as exc:
        if not _unavailable:
            _unavailable = True
            log.warning(
                "throttle_redis_unavailable",
                scope=key.split(":")[1] if ":" in key else key,
                error_type=type(exc).__name__,
                error=str(exc),
            )
        raise CountersUnavailable from exc
    if _unavailable:
        _unavailable = False
        log.info("throttle_redis_available")
    # -1 (no expiry) cannot follow EXPIRE NX in the same transaction; be safe anyway.
    return count, ttl_ms if ttl_ms >= 0 else duration * 1000


class SimpleRateThrottle(throttling.SimpleRateThrottle):
    """DRF's SimpleRateThrottle, counting in Redis (see the module docstring). The shared
    base of the classes below: each puts DRF's class first, so DRF's `get_cache_key` and
    ScopedRateThrottle's choice of scope run, and DRF's `super().allow_request()` lands here."""

    cache_format = "throttle:%(scope)s:%(ident)s"
    _window_left_ms: int | None = None  # set when Redis counted this request

    def allow_request(self, request, view) -> bool:
        if redis_client() is None:
            return super().allow_request(request, view)
        if self.rate is None:
            return True
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        try:
            count, self._window_left_ms = window_count(self.key, self.duration)
        except CountersUnavailable:
            return True
        return count <= self.num_requests

    def wait(self) -> float | None:
        if self._window_left_ms is None:  # counted by DRF's cache fallback
            return super().wait()
        return max(1, math.ceil(self._window_left_ms / 1000))


class AnonRateThrottle(throttling.AnonRateThrottle, SimpleRateThrottle):
    """Callers not signed in, per address, at the `anon` rate."""


class UserRateThrottle(throttling.UserRateThrottle, SimpleRateThrottle):
    """Signed-in users per user (others per address), at the `user` rate."""


class ScopedRateThrottle(throttling.ScopedRateThrottle, SimpleRateThrottle):
    """Per user or address, at the rate of the view's `throttle_scope`."""

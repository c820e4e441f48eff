"""A per-address limit on the public forms (contact form, booking page): the pages that write
for visitors who are not signed in, where DRF's throttles do not reach."""

from __future__ import annotations

import structlog
from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle

from careops.throttling import CountersUnavailable, window_count

log = structlog.get_logger(__name__)


def client_ip(request: HttpRequest) -> str:
    """The visitor's address; behind PROXY_COUNT proxies, the one the outermost proxy saw."""
    proxies = settings.REST_FRAMEWORK.get("NUM_PROXIES")
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies and forwarded:
        addresses = [address.strip() for address in forwarded.split(",")]
        return addresses[-min(proxies, len(addresses))]
    return request.META.get("REMOTE_ADDR", "")


def _rate(scope: str) -> tuple[int, int]:
    """The API's throttle rate for `scope` ("10/hour") as (count, seconds)."""
    rate = settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"][scope]
    return SimpleRateThrottle.parse_rate(None, rate)


def submission_allowed(request: HttpRequest, *, bucket: str, scope: str = "contact_form") -> bool:
    """At most `count` submissions per address and bucket (a form: "contact-form:<workspace
    id>") in a fixed window of `seconds`, the rate being the API throttle rate `scope`.

    Counted in Redis like the API's throttles (careops.throttling.window_count): atomic and
    shared by every process. Without REDIS_URL (the quickstart's one process), in its cache."""
    count, seconds = _rate(scope)
    key = f"ratelimit:{bucket}:{client_ip(request)}"
    try:
        counted = window_count(key, seconds)
    except CountersUnavailable:
        return True  # an outage of the counters must not turn away the business's clients
    if counted is not None:
        return counted[0] <= count
    try:
        cache.add(key, 0, timeout=seconds)
        return cache.incr(key) <= count
    except Exception as exc:
        # A cache outage must not turn away the business's clients: let them write.
        log.warning("public_form_rate_unavailable", bucket=bucket, error=str(exc))
        return True

"""What each layer of an API request costs: the CPU of a list with one layer left out at a time.

    make bench-layers        (careops_bench, as `make bench-http` seeds it)

The baseline of `make bench-http` answers the lists' queries with none of what the app runs
around them. This measures, in-process, the CPU time of one request to a list as the app
serves it, then with each of those layers taken out, one at a time and then all together:

- request logging: django-structlog's middleware (a request id, the caller's address and user,
  and its request_started and request_finished events);
- the throttle: DRF's throttles, counting in Redis (one round trip);
- the middleware for pages: sessions, CSRF, messages, clickjacking, CSP, htmx, axes, gzip and
  whitenoise, which an API request passes through too;
- the JWT's check: decoding and verifying the bearer token (kept once verified, here);
- the membership read: the query reading the caller's user and membership (kept once read).

Beside the lists, two API views of its own behind the same layers: one that reads and returns
nothing (what the layers cost alone), and today's bookings read by hand (the baseline's SQL,
its rows turned straight into the same JSON as /api/v1/bookings/today gives: what the read
through the ORM and the serializer costs over SQL written once). This module is the run's
URLconf for them.

Taking a layer out here is done for the measurement only (settings and methods replaced
in-process); nothing of it is a way to serve requests. Each figure is the best of
BENCH_CPU_ROUNDS rounds (default 5, interleaving the configurations) of BENCH_CPU_REQUESTS
requests (default 200), after warming up; the baseline's CPU for the same list is printed for
comparison.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent), str(HERE), str(HERE / "http")]

import instructions  # noqa: E402 - after the path: bench/instructions.py, the request harness

REQUESTS = int(os.environ.get("BENCH_CPU_REQUESTS", "200"))
ROUNDS = int(os.environ.get("BENCH_CPU_ROUNDS", "5"))
NOTHING = "/bench/nothing"
TODAY_BY_HAND = "/bench/today-by-hand"
LISTS = [
    ("today's bookings", "/api/v1/bookings/today", "/bookings/today"),
    # The same page read as the baseline reads it, behind the same layers: the cost of the
    # read through the ORM and the serializer, against SQL written once.
    ("today's, read by hand", TODAY_BY_HAND, None),
    ("conversations list", "/api/v1/messages/conversations", "/conversations"),
    ("bookings list, page 1", "/api/v1/bookings?page_size=50", "/bookings?page_size=50"),
    # The floor: an API view that reads and returns nothing, behind the same layers.
    ("nothing", NOTHING, None),
]
PAGE_MIDDLEWARE = (
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.gzip.GZipMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",
)
LOGGING_MIDDLEWARE = "django_structlog.middlewares.RequestMiddleware"


@contextlib.contextmanager
def without_middleware(names: tuple[str, ...]) -> Iterator[None]:
    from django.conf import settings
    from django.test.utils import override_settings

    kept = [name for name in settings.MIDDLEWARE if name not in names]
    with override_settings(MIDDLEWARE=kept):
        yield


@contextlib.contextmanager
def replaced(owner, name: str, make: Callable) -> Iterator[None]:
    original = getattr(owner, name)
    setattr(owner, name, make(original))
    try:
        yield
    finally:
        setattr(owner, name, original)


def layers() -> list[tuple[str, Callable[[], contextlib.AbstractContextManager]]]:
    from rest_framework.views import APIView
    from rest_framework_simplejwt.authentication import JWTAuthentication

    import workspaces.selectors

    def no_logging():
        return without_middleware((LOGGING_MIDDLEWARE,))

    def no_throttle():
        return replaced(APIView, "get_throttles", lambda _original: lambda self: [])

    def no_page_middleware():
        return without_middleware(PAGE_MIDDLEWARE)

    def jwt_kept():
        def make(original):
            verified: dict = {}

            def get_validated_token(self, raw):
                if raw not in verified:
                    verified[raw] = original(self, raw)
                return verified[raw]

            return get_validated_token

        return replaced(JWTAuthentication, "get_validated_token", make)

    def membership_kept():
        return replaced(workspaces.selectors, "memberships_with_user", functools.cache)

    def none_of_them():
        stack = contextlib.ExitStack()
        stack.enter_context(without_middleware((LOGGING_MIDDLEWARE, *PAGE_MIDDLEWARE)))
        for each in (no_throttle, jwt_kept, membership_kept):
            stack.enter_context(each())
        return stack

    return [
        ("as served", contextlib.nullcontext),
        ("without request logging", no_logging),
        ("without the throttle", no_throttle),
        ("without the middleware for pages", no_page_middleware),
        ("with the JWT checked once", jwt_kept),
        ("with the membership read once", membership_kept),
        ("with all five", none_of_them),
    ]


def __getattr__(name: str):
    """This module is the run's URLconf (ROOT_URLCONF="layers"): the app's URLs and NOTHING,
    built on first use, once Django is set up."""
    if name != "urlpatterns":
        raise AttributeError(name)
    from django.urls import include, path
    from rest_framework.response import Response
    from rest_framework.views import APIView

    class Nothing(APIView):
        """The API's authentication, permission and throttle, and an empty answer."""

        def get(self, request):
            return Response({})

    global urlpatterns
    urlpatterns = [
        path(NOTHING.lstrip("/"), Nothing.as_view()),
        path(TODAY_BY_HAND.lstrip("/"), _today_by_hand()),
        path("", include("careops.urls")),
    ]
    return urlpatterns


def _today_by_hand():
    """An API view answering today's bookings with the baseline's SQL (bench/http/baseline.py)
    and its rows turned into the API's JSON directly: the page and its fields as
    /api/v1/bookings/today gives them (its `next` link aside), behind the same layers."""
    from datetime import timedelta

    import baseline
    from django.db import connection
    from rest_framework.response import Response
    from rest_framework.views import APIView

    from careops.tenancy import request_membership

    names = {"ws": "%s", "day_start": "%s", "day_end": "%s", "limit": "%s"}
    sql = baseline.BOOKINGS_TODAY.page() % names  # the module's constants; values as params

    def booking(r: tuple) -> dict:
        return {
            "id": r[0],
            "booking_type": {"id": r[10], "name": r[11], "slug": r[12], "duration_minutes": r[13]},
            "contact": {"id": r[14], "name": r[15], "email": r[16], "phone": r[17]},
            "staff": None if r[18] is None else {"id": r[18], "name": r[19], "email": r[20]},
            "start": r[1],
            "end": r[2],
            "status": r[3],
            "source": r[4],
            "notes": r[5],
            "reschedule_count": r[6],
            "status_changed_at": r[7],
            "created_at": r[8],
            "updated_at": r[9],
        }

    class TodayByHand(APIView):
        def get(self, request):
            workspace = request_membership(request).workspace
            today = workspace.today()
            params = [
                workspace.pk,
                workspace.midnight(today),
                workspace.midnight(today + timedelta(days=1)),
                51,
            ]
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            results = [booking(row) for row in rows[:50]]
            return Response({"next": None, "previous": None, "results": results})

    return TodayByHand.as_view()


def main() -> None:
    _, bare, request = instructions.setup()
    from django.core.handlers.wsgi import WSGIHandler
    from django.test.utils import override_settings

    override_settings(ROOT_URLCONF="layers").enable()

    configurations = [*layers(), ("the baseline", None)]
    best = {label: [float("inf")] * len(LISTS) for label, _ in configurations}
    # Rounds interleave the configurations, so that a slower minute of the machine falls on
    # all of them rather than on one.
    for _ in range(ROUNDS):
        for label, layer in configurations:
            for n, (_, path, bare_path) in enumerate(LISTS):
                if layer is None:
                    if bare_path is None:
                        continue  # no baseline answers nothing
                    ms = instructions.cpu_ms(request, bare, bare_path, REQUESTS)
                else:
                    with layer():
                        app = WSGIHandler()  # its middleware chain from the settings of now
                        ms = instructions.cpu_ms(request, app, path, REQUESTS)
                best[label][n] = min(best[label][n], ms)
    served = best["as served"]
    print(f"CPU per request, ms (best of {ROUNDS} rounds of {REQUESTS}; against as served)")
    print(f"{'':34}" + "".join(f"{name:>26}" for name, _, _ in LISTS))
    for label, _ in configurations:
        figures = best[label]
        if label in ("as served", "the baseline"):
            cells = "".join(
                f"{ms:>26.2f}" if ms != float("inf") else f"{'-':>26}" for ms in figures
            )
        else:
            cells = "".join(
                f"{ms:>14.2f} ({ms - s:+5.2f} ms)" for ms, s in zip(figures, served, strict=True)
            )
        print(f"{label:34}{cells}")


if __name__ == "__main__":
    main()

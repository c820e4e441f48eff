"""Work per request: the API's lists and the bare baseline, counted (callgrind) and timed.

    make bench-instructions        (careops_bench, as `make bench-http` seeds it)

Requests per second on a shared 2-core machine move by a third within the hour; what one
request costs in-process moves much less. This runs each list request in-process through the
WSGI app (the app with its middleware, JWT and throttle; the baseline of bench/http/baseline.py)
and prints, per request of the Python process (the database's own work is not counted):

- instructions, under valgrind's callgrind (counting only the measured requests): the same
  count whatever else the machine does, so the figure to compare two versions of the code by;
- first-level instruction-cache misses, from callgrind's cache simulation;
- CPU time, measured natively (no valgrind): the best of five rounds of BENCH_CPU_REQUESTS.

Instructions alone flatter the app against the baseline: the app runs through far more code
(Django, DRF, the JWT, the throttle, logging), so each instruction costs it more. Its
instruction-cache misses per request are several times the baseline's, and CPU time, which
under load is what decides requests per second, is the ratio to read against `make
bench-http`'s.

It needs valgrind (with its headers, for the two-line helper compiled into a temporary
directory that tells callgrind where counting starts) and gcc. BENCH_INSTR_REQUESTS requests
per path are counted (default 20) after 30 that are not (nor slowed down); BENCH_CPU_REQUESTS
(default 200) are timed per round.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUESTS = int(os.environ.get("BENCH_INSTR_REQUESTS", "20"))
CPU_REQUESTS = int(os.environ.get("BENCH_CPU_REQUESTS", "200"))
CPU_ROUNDS = 5
WARMUP = 30
PAGE = "page_size=50"
# (label, the app's path, the baseline's path)
PATHS = [
    ("bookings list, page 1", f"/api/v1/bookings?{PAGE}", f"/bookings?{PAGE}"),
    ("today's bookings", "/api/v1/bookings/today", "/bookings/today"),
    ("conversations list", "/api/v1/messages/conversations", "/conversations"),
    ("contacts search", "/api/v1/contacts?q=smith", "/contacts?q=smith"),
    ("who am I", "/api/v1/auth/me", None),
]
HELPER = """#include <valgrind/callgrind.h>
void begin(void) {
    CALLGRIND_ZERO_STATS; CALLGRIND_START_INSTRUMENTATION; CALLGRIND_TOGGLE_COLLECT;
}
void end(const char *label) {
    CALLGRIND_TOGGLE_COLLECT; CALLGRIND_DUMP_STATS_AT(label); CALLGRIND_STOP_INSTRUMENTATION;
}
"""


def main() -> None:
    counts = count()
    timed = json.loads(
        subprocess.run(
            [sys.executable, __file__, "--time"],
            check=True,
            cwd=ROOT,
            capture_output=True,
            text=True,
        ).stdout.splitlines()[-1]
    )
    print(
        f"Per request: instructions and L1 instruction-cache misses (callgrind, {REQUESTS} "
        f"requests each), CPU time (best of {CPU_ROUNDS} rounds of {CPU_REQUESTS})."
    )
    print(
        f"{'':24} {'instructions (M)':>24} {'I-cache misses (k)':>20} {'CPU (ms)':>21}\n"
        f"{'':24} {'app':>8} {'base':>7} {'ratio':>7} {'app':>6} {'base':>6} {'x':>6} "
        f"{'app':>6} {'base':>6} {'ratio':>7}"
    )
    for n, (label, _, _) in enumerate(PATHS):
        app, base = counts.get(f"app-{n}"), counts.get(f"base-{n}")
        cpu_app, cpu_base = timed.get(f"app-{n}"), timed.get(f"base-{n}")
        cells = [f"{label:24}", f"{app[0] / 1e6:8.2f}"]
        if base:
            cells += [f"{base[0] / 1e6:7.2f}", f"{base[0] / app[0]:7.2f}"]
            cells += [f"{app[1] / 1e3:6.1f}", f"{base[1] / 1e3:6.1f}", f"{app[1] / base[1]:6.1f}"]
            cells += [f"{cpu_app:6.2f}", f"{cpu_base:6.2f}", f"{cpu_base / cpu_app:7.2f}"]
        else:
            cells += [" " * 15, f"{app[1] / 1e3:6.1f}", " " * 13, f"{cpu_app:6.2f}"]
        print(" ".join(cells))


def count() -> dict[str, tuple[float, float]]:
    """Under callgrind: (instructions, L1 instruction-cache misses) per request, by label."""
    with tempfile.TemporaryDirectory() as work:
        helper = Path(work) / "callgrind_helper.so"
        source = Path(work) / "helper.c"
        source.write_text(HELPER)
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", helper, source], check=True)
        command = [
            "valgrind",
            "--tool=callgrind",
            "--cache-sim=yes",
            "--instr-atstart=no",
            "--collect-atstart=no",
            f"--callgrind-out-file={work}/out.%p.%n",
            sys.executable,
            __file__,
            "--measure",
            str(helper),
        ]
        subprocess.run(command, check=True, cwd=ROOT, stderr=subprocess.DEVNULL)
        counts = {}
        for dump in Path(work).glob("out.*"):
            text = dump.read_text(errors="replace")
            label = re.search(r"Trigger: Client Request: (\S+)", text)
            events = re.search(r"^events: (.+)$", text, re.MULTILINE)
            totals = re.search(r"^totals: (.+)$", text, re.MULTILINE)
            if label and events and totals:
                names, values = events.group(1).split(), map(int, totals.group(1).split())
                found = dict(zip(names, values, strict=True))
                counts[label.group(1)] = (found["Ir"] / REQUESTS, found["I1mr"] / REQUESTS)
    return counts


def setup():
    """Django set up; (the app, the baseline, request(app, url)) with the demo owner's JWT."""
    sys.path[:0] = [str(ROOT), str(HERE / "http")]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "careops.settings")
    os.environ.setdefault("THROTTLE_USER", "1000000000/min")
    import django

    django.setup()
    import baseline
    from rest_framework_simplejwt.tokens import AccessToken

    from careops.wsgi import application
    from workspaces.models import Membership

    owner = Membership.objects.select_related("workspace", "user").get(
        workspace__name=os.environ.get("BENCH_WORKSPACE", "Harbour Physio (demo)"),
        user__email=os.environ.get("BENCH_OWNER", "owner@demo.careops.test"),
    )
    headers = {
        "HTTP_AUTHORIZATION": f"Bearer {AccessToken.for_user(owner.user)}",
        "HTTP_X_WORKSPACE_ID": str(owner.workspace_id),
    }

    def request(app, url: str) -> None:
        path, _, query = url.partition("?")
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "HTTP_HOST": "127.0.0.1:8000",
            "REMOTE_ADDR": "127.0.0.1",
            "wsgi.url_scheme": "http",
            "wsgi.input": BytesIO(),
            "wsgi.errors": sys.stderr,
            **headers,
        }
        status = []
        body = b"".join(app(environ, lambda code, _headers, _exc=None: status.append(code)))
        if not status[0].startswith("200"):
            raise SystemExit(f"{url}: {status[0]} {body[:200]!r}")

    return application, baseline.application, request


def runs():
    """(label, WSGI app, url) of every measured run, in order."""
    application, bare, request = setup()
    for n, (_, path, bare_path) in enumerate(PATHS):
        for name, app, url in (("app", application, path), ("base", bare, bare_path)):
            if url is not None:
                yield f"{name}-{n}", app, url, request


def measure(helper: str) -> None:
    """Inside valgrind: every request through each WSGI app, counting the last REQUESTS."""
    callgrind = ctypes.CDLL(helper)
    for label, app, url, request in runs():
        for _ in range(WARMUP):  # not instrumented: valgrind runs them at full speed
            request(app, url)
        callgrind.begin()
        for _ in range(REQUESTS):
            request(app, url)
        callgrind.end(label.encode())


def time_cpu() -> None:
    """Natively: the CPU time of one request (ms), the best of CPU_ROUNDS rounds; one JSON
    line on stdout."""
    timed = {}
    for label, app, url, request in runs():
        timed[label] = min(cpu_ms(request, app, url, CPU_REQUESTS) for _ in range(CPU_ROUNDS))
    print(json.dumps(timed))


def cpu_ms(request, app, url: str, requests: int) -> float:
    """The CPU of one request (ms), over `requests` of them after WARMUP not timed."""
    for _ in range(WARMUP):
        request(app, url)
    started = time.process_time()
    for _ in range(requests):
        request(app, url)
    return (time.process_time() - started) * 1000 / requests


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(sys.argv[2])
    elif sys.argv[1:2] == ["--time"]:
        time_cpu()
    else:
        main()

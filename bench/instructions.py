"""Instructions per request: the API's lists and the bare baseline under callgrind.

    make bench-instructions        (careops_bench, as `make bench-http` seeds it)

Requests per second on a shared 2-core machine move by a third within the hour; the
instructions a request executes do not. This runs each list request in-process through the
WSGI app (the app with its middleware, JWT and throttle; the baseline of bench/http/baseline.py)
under valgrind's callgrind, counting only the measured requests, and prints the instructions
per request of the Python process (the database's own work is not counted). Use it to compare
two versions of the code; use `make bench-http` for throughput.

It needs valgrind (with its headers, for the two-line helper compiled into a temporary
directory that tells callgrind where counting starts) and gcc. BENCH_INSTR_REQUESTS requests
per path (default 20) after 30 that are not counted (nor slowed down).
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess
import sys
import tempfile
from io import BytesIO
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
REQUESTS = int(os.environ.get("BENCH_INSTR_REQUESTS", "20"))
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
    with tempfile.TemporaryDirectory() as work:
        helper = Path(work) / "callgrind_helper.so"
        source = Path(work) / "helper.c"
        source.write_text(HELPER)
        subprocess.run(["gcc", "-O2", "-shared", "-fPIC", "-o", helper, source], check=True)
        command = [
            "valgrind",
            "--tool=callgrind",
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
            total = re.search(r"^totals: (\d+)", text, re.MULTILINE)
            if label and total:
                counts[label.group(1)] = int(total.group(1)) / REQUESTS
    print(f"Instructions per request (callgrind, {REQUESTS} requests each, millions):")
    print(f"{'':24} {'app':>8} {'baseline':>9} {'ratio':>6}")
    for n, (label, _, _) in enumerate(PATHS):
        app, base = counts.get(f"app-{n}"), counts.get(f"base-{n}")
        ratio = f"{base / app:6.2f}" if app and base else ""
        base_text = f"{base / 1e6:9.2f}" if base else " " * 9
        print(f"{label:24} {app / 1e6:8.2f} {base_text} {ratio}")


def measure(helper: str) -> None:
    """Inside valgrind: every request through each WSGI app, counting the last REQUESTS."""
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
    callgrind = ctypes.CDLL(helper)

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

    for n, (_, path, bare) in enumerate(PATHS):
        for name, app, url in (("app", application, path), ("base", baseline.application, bare)):
            if url is None:
                continue
            for _ in range(WARMUP):  # not instrumented: valgrind runs them at full speed
                request(app, url)
            callgrind.begin()
            for _ in range(REQUESTS):
                request(app, url)
            callgrind.end(f"{name}-{n}".encode())


if __name__ == "__main__":
    if sys.argv[1:2] == ["--measure"]:
        measure(sys.argv[2])
    else:
        main()

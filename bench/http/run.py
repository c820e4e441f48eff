"""The HTTP benchmark: the API and pages under load, against a bare baseline, in one run.

    make bench-http        (PostgreSQL database careops_bench, seeded to 100,000 bookings)

What it does, in order:
1. Starts the app (careops.wsgi) and the baseline (bench/http/baseline.py: the same list
   queries with raw psycopg and json) under gunicorn with the production image's settings
   (Dockerfile: sync workers, WEB_CONCURRENCY=3, --timeout 30), each on a free loopback port.
2. Signs in as the demo owner: a JWT for the API, a session cookie for the home page.
3. Finds the deep page of the bookings by following `next` links (keyset pagination) or, with
   numbered pages, asks for page=BENCH_DEEP_PAGE; checks the baseline answers every list with
   the same rows as the app.
4. Runs each list request once in-process through Django's test client to count its queries
   and print the EXPLAIN (plan only) of each of them.
5. Drives every scenario with wrk at a fixed concurrency (BENCH_WRK_THREADS, _CONNECTIONS,
   _DURATION), the baseline's list scenarios right after the app's.
6. Public booking: creates on distinct free slots (wrk, bench/http/create.lua), then 50
   clients released at once on the same slot (exactly one 201 expected, the rest 409).
7. Runs bench/automation_reminders.py (reminders at scale, real Celery workers) unless
   --no-automation.
8. Writes bench/RESULTS.md and bench/results-latency.svg.

Throttles are raised for the run through the environment (THROTTLE_*), the JWT lasts two hours,
and REDIS_URL defaults to db 9. Bookings made by step 6 stay in the database (in the days past
the seeded month), so a later run books later slots.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

sys.path.insert(0, str(ROOT / "bench"))

import benchenv  # noqa: E402, F401 - first: the bench environment, and Django set up
import django  # noqa: E402
import requests  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bookings.models import Booking, BookingType  # noqa: E402
from contacts.models import Contact  # noqa: E402
from messaging.models import Conversation  # noqa: E402
from workspaces.models import User, Workspace  # noqa: E402

VENV_BIN = Path(sys.executable).parent
DEMO_WORKSPACE = os.environ.get("BENCH_WORKSPACE", "Harbour Physio (demo)")
OWNER = (os.environ.get("BENCH_OWNER", "owner@demo.careops.test"), "demo-password-1234")
WORKERS = int(os.environ.get("WEB_CONCURRENCY", "3"))  # the Dockerfile's default
WRK_THREADS = int(os.environ.get("BENCH_WRK_THREADS", "2"))
WRK_CONNECTIONS = int(os.environ.get("BENCH_WRK_CONNECTIONS", "8"))
WRK_DURATION = os.environ.get("BENCH_WRK_DURATION", "10s")
WRK_WARMUP = os.environ.get("BENCH_WRK_WARMUP", "2s")
PAGE_SIZE = 50
DEEP_PAGE = int(os.environ.get("BENCH_DEEP_PAGE", "1000"))
SEARCH = os.environ.get("BENCH_SEARCH", "smith")
CREATE_TYPE = os.environ.get("BENCH_CREATE_TYPE", "sports-massage")
RACE_CLIENTS = int(os.environ.get("BENCH_RACE_CLIENTS", "50"))
RESULTS = ROOT / "bench" / "RESULTS.md"
SVG = ROOT / "bench" / "results-latency.svg"
WRK = "wrk"  # its path, found in main()


# --- Processes ------------------------------------------------------------------------------


def wrk_path() -> str:
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        print("wrk is missing: installing Debian's package (apt-get install -y wrk)")
        subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=False)
        found = shutil.which("wrk")
        if found:
            return found
    sys.exit(
        "wrk is not installed. Install it with `sudo apt-get install -y wrk` (Debian, Ubuntu) "
        "or `brew install wrk` (macOS), then run `make bench-http` again."
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def gunicorn_command(app: str, port: int, chdir: Path | None = None) -> list[str]:
    """The production image's gunicorn line (Dockerfile CMD), on loopback."""
    command = [
        str(VENV_BIN / "gunicorn"),
        app,
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(WORKERS),
        "--timeout",
        "30",
        "--forwarded-allow-ips=*",
        "--access-logfile",
        "-",
    ]
    if chdir is not None:
        command += ["--chdir", str(chdir)]
    return command


@dataclass
class Server:
    name: str
    command: list[str]
    port: int
    log: Path
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, health: str) -> Server:
        handle = self.log.open("wb")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT, env=os.environ
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                sys.exit(f"{self.name} exited at start; see {self.log}")
            with contextlib.suppress(requests.RequestException):
                if requests.get(self.url + health, timeout=2).status_code == 200:
                    return self
            time.sleep(0.3)
        self.stop()
        sys.exit(f"{self.name} did not answer {health} within 30 s; see {self.log}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


# --- wrk ------------------------------------------------------------------------------------


@dataclass
class Measure:
    rps: float
    p50: float
    p95: float
    p99: float
    requests: int
    errors: dict[str, int]
    statuses: dict[str, int] = field(default_factory=dict)
    bodies_reused: int = 0

    @property
    def failed(self) -> int:
        return sum(self.errors.values())


def wrk_run(url: str, *, script: Path, env: dict[str, str], duration: str = WRK_DURATION):
    command = [
        WRK,
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{duration}",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
    ]
    done = subprocess.run(
        command,
        capture_output=True,
        text=True,
        env={**os.environ, "BENCH_THREADS": str(WRK_THREADS), **env},
        check=False,
    )
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    if line is None:
        sys.exit(f"wrk printed no result for {url}:\n{done.stdout}\n{done.stderr}")
    data = json.loads(line.removeprefix("BENCH_JSON "))
    return Measure(
        rps=data["rps"],
        p50=data["p50_ms"],
        p95=data["p95_ms"],
        p99=data["p99_ms"],
        requests=data["requests"],
        errors={k: v for k, v in data["errors"].items() if v},
        statuses=data.get("statuses", {}),
        bodies_reused=data.get("bodies_reused", 0),
    )


def load(url: str, headers: dict[str, str], *, method: str = "GET", body: str = "") -> Measure:
    env = {
        "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in headers.items()),
        "BENCH_METHOD": method,
        "BENCH_BODY": body,
    }
    script = HERE / "report.lua"
    wrk_run(url, script=script, env=env, duration=WRK_WARMUP)  # warm: templates, pools, plans
    return wrk_run(url, script=script, env=env)


# --- Signing in -----------------------------------------------------------------------------


def api_token(app: Server) -> str:
    response = requests.post(
        app.url + "/api/v1/auth/login",
        json={"email": OWNER[0], "password": OWNER[1]},
        timeout=30,
    )
    response.raise_for_status()
    return response.json()["access"]


def session_cookie(app: Server) -> str:
    """Sign in through the login page. The cookies are Secure (DEBUG off), which a client on
    plain HTTP would not send back: they are carried by hand."""
    page = requests.get(app.url + "/accounts/login/", timeout=30)
    csrf = page.cookies["csrftoken"]
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = requests.post(
        app.url + "/accounts/login/",
        data={"username": OWNER[0], "password": OWNER[1], "csrfmiddlewaretoken": token},
        headers={"Cookie": f"csrftoken={csrf}", "Referer": app.url + "/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )
    session = response.cookies.get("sessionid")
    if response.status_code != 302 or not session:
        sys.exit(f"Signing in on the login page failed: {response.status_code}")
    return f"sessionid={session}"


# --- Scenarios ------------------------------------------------------------------------------


@dataclass
class Scenario:
    name: str
    path: str  # the app's path and query
    headers: dict[str, str]
    baseline: str = ""  # the baseline's path and query, for list scenarios
    is_list: bool = False
    notes: list[str] = field(default_factory=list)
    queries: int | None = None
    db_ms: float | None = None
    plans: list[tuple[str, str]] = field(default_factory=list)
    app: Measure | None = None
    bare: Measure | None = None


def relative(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def deep_page(app: Server, api: dict[str, str], first: dict) -> tuple[str, str, int, str]:
    """(app path, baseline path, page number, pagination kind) of the bookings' deep page."""
    base = f"/api/v1/bookings?page_size={PAGE_SIZE}"
    following = first.get("next")
    if "count" in first or (following and "cursor=" not in following):
        pages = max(1, -(-first.get("count", 0) // PAGE_SIZE))
        page = min(DEEP_PAGE, pages)
        baseline = f"/bookings?paging=offset&page={page}&page_size={PAGE_SIZE}"
        return f"{base}&page={page}", baseline, page, "page numbers (OFFSET)"
    # Keyset: walk the `next` links; the baseline seeks after the last row of the page before.
    session = requests.Session()
    session.headers.update(api)
    page, url, body = 1, app.url + base, first
    started = time.perf_counter()
    while page < DEEP_PAGE and body.get("next"):
        last = body["results"][-1]
        url = body["next"]
        body = session.get(url, timeout=30).json()
        page += 1
    print(f"  followed next to page {page} in {time.perf_counter() - started:.1f} s")
    baseline = f"/bookings?page_size={PAGE_SIZE}"
    if page > 1:
        baseline += f"&after={last['start']},{last['id']}"
    return relative(url), baseline, page, "keyset (cursor)"


def same_rows(app: Server, bare: Server, scenario: Scenario) -> None:
    """The baseline must answer with the same rows, in the same order, as the app."""
    response = requests.get(app.url + scenario.path, headers=scenario.headers, timeout=30)
    if response.status_code != 200:
        sys.exit(f"{scenario.name}: the app answered {response.status_code}: {response.text[:300]}")
    mine = response.json()
    theirs = requests.get(bare.url + scenario.baseline, headers=scenario.headers, timeout=30)
    ids = [row["id"] for row in mine["results"]]
    bare_ids = [row["id"] for row in theirs.json()["results"]]
    if ids != bare_ids:
        sys.exit(f"{scenario.name}: the baseline's rows differ from the app's: {bare_ids[:5]}…")
    scenario.notes.append(f"{len(ids)} rows")


# --- Queries and plans, in-process ------------------------------------------------------------

INDEX_NODES = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")


def profile(scenario: Scenario, client: Client) -> None:
    """Run the request once through the test client: its queries, their time and plans."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(scenario.path, headers=scenario.headers)
    assert response.status_code == 200, (scenario.name, response.status_code)
    scenario.queries = len(captured.captured_queries)
    scenario.db_ms = sum(float(q["time"]) for q in captured.captured_queries) * 1000
    for query in captured.captured_queries:
        sql = query["sql"]
        if not sql.lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + sql)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        scenario.plans.append((sql, plan))


# A lookup table this small (all of a workspace's tags, say) is read whole by a hash join,
# rightly: only a sequential scan of a table the size of a list's rows misses an index.
SMALL_TABLE_ROWS = 1_000


def seq_scans(plan: str) -> list[str]:
    return [
        table
        for table, rows in re.findall(r"Seq Scan on (\w+) .*?rows=(\d+)", plan)
        if int(rows) > SMALL_TABLE_ROWS
    ]


# --- Public booking -------------------------------------------------------------------------


def free_slots(app: Server, workspace: Workspace, booking_type: BookingType) -> list[tuple]:
    """(start, staff id) of free slots past the seeded month, none overlapping another on the
    same calendar (the slots of one calendar may overlap each other when offered)."""
    today = workspace.today()
    first = today + timedelta(days=32)
    last = today + timedelta(days=booking_type.horizon_days - 1)
    response = requests.get(
        app.url + "/api/v1/bookings/slots",
        params={
            "workspace": workspace.slug,
            "booking_type": booking_type.slug,
            "from": first.isoformat(),
            "to": last.isoformat(),
        },
        timeout=60,
    )
    response.raise_for_status()
    before = timedelta(minutes=booking_type.buffer_before_minutes)
    after = timedelta(minutes=booking_type.duration_minutes + booking_type.buffer_after_minutes)
    busy_until: dict[int, datetime] = {}
    chosen = []
    for day in response.json()["days"]:
        for slot in day["slots"]:
            start = datetime.fromisoformat(slot["start"])
            for staff in slot["staff"]:
                if busy_until.get(staff, start - before) <= start - before:
                    chosen.append((slot["start"], staff))
                    busy_until[staff] = start + after
    return chosen


def booking_body(workspace: Workspace, slot: tuple, email: str) -> str:
    start, staff = slot
    return json.dumps(
        {
            "workspace": workspace.slug,
            "booking_type": CREATE_TYPE,
            "start": start,
            "staff": staff,
            "name": "Bench Client",
            "email": email,
        }
    )


def race(app: Server, body: str) -> dict[str, int]:
    """RACE_CLIENTS clients released at once (a barrier), each on its own connection, all
    asking for the same slot."""
    barrier = threading.Barrier(RACE_CLIENTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def client() -> None:
        session = requests.Session()
        barrier.wait()
        try:
            response = session.post(
                app.url + "/api/v1/bookings",
                data=body,
                headers={"Content-Type": "application/json"},
                timeout=60,
            )
            outcome = str(response.status_code)
        except requests.RequestException as exc:
            outcome = type(exc).__name__
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=client) for _ in range(RACE_CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    counts: dict[str, int] = {}
    for outcome in outcomes:
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- Automation -----------------------------------------------------------------------------


def automation(count: int | None) -> dict | None:
    command = [sys.executable, str(ROOT / "bench" / "automation_reminders.py")]
    env = dict(os.environ)
    if count is not None:
        env["BENCH_REMINDERS"] = str(count)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
    print(done.stdout, end="")
    if done.returncode != 0:
        print(done.stderr[-4000:], file=sys.stderr)
    line = next((x for x in done.stdout.splitlines() if x.startswith("BENCH_JSON ")), None)
    return json.loads(line.removeprefix("BENCH_JSON ")) if line else None


# --- The report -----------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError):
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        ram = f"{kb / 1024 / 1024:.1f} GiB"
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        postgres = cursor.fetchone()[0]
    wrk_version = subprocess.run(
        [WRK, "--version"], capture_output=True, text=True, check=False
    ).stdout.split(" [")[0]
    import gunicorn
    import psycopg

    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": f"{cpu}, {os.cpu_count()} cores",
        "ram": ram,
        "os": f"{platform.system()} {platform.release()}",
        "postgres": f"PostgreSQL {postgres}",
        "python": f"Python {platform.python_version()}, Django {django.get_version()}, "
        f"gunicorn {gunicorn.__version__}, psycopg {psycopg.__version__}",
        "wrk": wrk_version.strip(),
    }


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def table(scenarios: list[Scenario]) -> list[str]:
    lines = [
        "| scenario | req/s | p50 ms | p95 ms | p99 ms | baseline req/s | ratio | queries | "
        "notes |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for s in scenarios:
        m, b = s.app, s.bare
        ratio = f"{m.rps / b.rps:.2f}" if b else "-"
        notes = list(s.notes)
        if m.failed:
            notes.append(f"errors {m.errors}")
        if b:
            notes.append(f"baseline p50 {b.p50:.1f} ms")
        lines.append(
            f"| {s.name} | {fmt(m.rps)} | {fmt(m.p50)} | {fmt(m.p95)} | {fmt(m.p99)} | "
            f"{fmt(b.rps) if b else '-'} | {ratio} | "
            f"{s.queries if s.queries is not None else '-'} | {'; '.join(notes)} |"
        )
    return lines


def svg(scenarios: list[Scenario]) -> str:
    """A horizontal bar chart of p50/p95/p99 per scenario (the baseline's too), by hand."""
    rows: list[tuple[str, Measure, bool]] = []
    for s in scenarios:
        rows.append((s.name, s.app, False))
        if s.bare:
            rows.append((f"{s.name} (baseline)", s.bare, True))
    label_w, chart_w, bar_h, gap, top = 300, 520, 7, 8, 46
    row_h = 3 * bar_h + gap
    height = top + len(rows) * row_h + 40
    width = label_w + chart_w + 90
    top_value = max(m.p99 for _, m, _ in rows) or 1.0
    colours = {"p50": "#2b6cb0", "p95": "#dd6b20", "p99": "#c53030"}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="#fff"/>',
        f'<text x="10" y="18" font-size="14" font-weight="bold">Latency by scenario (ms), '
        f"wrk -t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_DURATION}</text>",
    ]
    x = label_w
    for i, (name, colour) in enumerate(colours.items()):
        out.append(f'<rect x="{x + i * 70}" y="28" width="10" height="10" fill="{colour}"/>')
        out.append(f'<text x="{x + i * 70 + 14}" y="37">{name}</text>')
    for n, (name, m, is_bare) in enumerate(rows):
        y = top + n * row_h
        weight = "normal" if is_bare else "bold"
        out.append(
            f'<text x="{label_w - 8}" y="{y + 2 * bar_h}" text-anchor="end" '
            f'font-weight="{weight}">{escape(name)}</text>'
        )
        for i, (key, colour) in enumerate(colours.items()):
            value = getattr(m, key)
            w = max(1.0, chart_w * value / top_value)
            opacity = "0.55" if is_bare else "1"
            out.append(
                f'<rect x="{label_w}" y="{y + i * bar_h}" width="{w:.1f}" height="{bar_h - 1}" '
                f'fill="{colour}" fill-opacity="{opacity}"/>'
            )
            out.append(
                f'<text x="{label_w + w + 4:.1f}" y="{y + i * bar_h + bar_h - 1}" '
                f'font-size="8">{value:.1f}</text>'
            )
    axis_y = top + len(rows) * row_h + 6
    out.append(
        f'<line x1="{label_w}" y1="{axis_y}" x2="{label_w + chart_w}" y2="{axis_y}" stroke="#999"/>'
    )
    for k in range(5):
        value = top_value * k / 4
        tx = label_w + chart_w * k / 4
        out.append(f'<text x="{tx:.1f}" y="{axis_y + 14}" text-anchor="middle">{value:.0f}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def report(
    *,
    info: dict[str, str],
    sizes: dict[str, int],
    scenarios: list[Scenario],
    pagination: str,
    deep: int,
    race_counts: dict[str, int],
    create: Scenario,
    reminders: dict | None,
) -> str:
    by_name = {s.name: s for s in scenarios}
    first, deepest = by_name["bookings list, page 1"], by_name[f"bookings list, page {deep}"]
    lines = [
        "# Benchmark results",
        "",
        "Written by `bench/http/run.py` (`make bench-http`); the README's figures come from here.",
        "",
        f"- **Date:** {info['date']}",
        f"- **Machine:** {info['cpu']}, {info['ram']} RAM, {info['os']}",
        f"- **Software:** {info['postgres']}; {info['python']}; {info['wrk']}",
        f"- **Data:** the demo workspace with {sizes['bookings']:,} bookings, "
        f"{sizes['contacts']:,} contacts, {sizes['conversations']:,} conversations "
        f"(`seed_demo --bookings 100000`, database careops_bench)",
        f"- **Server:** gunicorn, {WORKERS} sync workers, `--timeout 30` (the Dockerfile's "
        "command line), app and baseline alike, on loopback; psycopg pool per process; "
        f"`LOG_LEVEL={os.environ.get('LOG_LEVEL')}`; throttles raised for the run",
        f"- **Load:** wrk `-t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_DURATION}` per scenario "
        f"after a {WRK_WARMUP} warm-up, load generator, server and PostgreSQL sharing the same "
        f"{os.cpu_count()} cores",
        f"- **Pagination of the lists:** {pagination}; pages of {PAGE_SIZE}",
        "",
        "## Requests",
        "",
        *table(scenarios),
        "",
        "*ratio*: the app's requests/s over the bare baseline's (raw psycopg and `json` in a "
        "minimal WSGI app, `bench/http/baseline.py`, same query, same gunicorn settings, no "
        "authentication). *queries*: SQL statements of one request, counted in-process.",
        "",
        "## Targets",
        "",
    ]
    others = {k: v for k, v in race_counts.items() if k not in ("201", "409")}
    list_ratios = [s.app.rps / s.bare.rps for s in scenarios if s.bare]
    worst = min(list_ratios) if list_ratios else 0.0
    deep_ratio = deepest.app.p50 / first.app.p50
    deep_rps = first.app.rps / deepest.app.rps
    without_index = [
        s.name for s in scenarios if s.is_list and any(seq_scans(plan) for _, plan in s.plans)
    ]
    lines += [
        f"- Lists at least 0.5 of the baseline: worst ratio **{worst:.2f}** "
        f"({'met' if worst >= 0.5 else 'missed'}).",
        *floor_lines(scenarios),
        f"- Page 1 vs page {deep} within 1.2x: p50 {first.app.p50:.1f} ms vs "
        f"{deepest.app.p50:.1f} ms (**{deep_ratio:.2f}x**), requests/s ratio "
        f"{deep_rps:.2f}x ({'met' if max(deep_ratio, deep_rps) <= 1.2 else 'missed'}).",
        "- Every list query uses an index: "
        + (
            "**yes** (no sequential scan in any plan below)."
            if not without_index
            else f"**no**: sequential scans in {', '.join(without_index)} (plans below)."
        ),
        "",
        "## Public booking",
        "",
        f"- Create on distinct free slots ({CREATE_TYPE}, a slot and practitioner each): "
        f"{create.app.rps:.1f} req/s, p50 {create.app.p50:.1f} ms, p95 {create.app.p95:.1f} ms, "
        f"p99 {create.app.p99:.1f} ms; statuses {create.app.statuses}"
        + (
            f"; {create.app.bodies_reused} requests reused a slot"
            if create.app.bodies_reused
            else ""
        )
        + ".",
        f"- The same slot, {RACE_CLIENTS} clients released at once: "
        f"**{race_counts.get('201', 0)}x 201**, **{race_counts.get('409', 0)}x 409**"
        + (f", other: {others}" if others else "")
        + (
            " (exactly one booking: correct)."
            if race_counts.get("201") == 1 and set(race_counts) <= {"201", "409"}
            else " (**wrong**: expected exactly one 201 and only 409s besides)."
        ),
        "",
        "## Automation at scale: reminders",
        "",
    ]
    if reminders is None:
        lines.append("Not run in this pass (`--no-automation`, or it failed: see the output).")
    else:
        lines += reminder_lines(reminders)
    lines += ["", "## Query plans (EXPLAIN, plan only) of the list requests", ""]
    for s in scenarios:
        if not s.is_list:
            continue
        lines += [f"### {s.name}: {s.queries} queries, {s.db_ms:.1f} ms in the database", ""]
        for sql, plan in s.plans:
            short = re.sub(r"\s+", " ", sql)
            short = short if len(short) <= 300 else short[:300] + " …"
            lines += ["```sql", short, "```", "```", plan, "```", ""]
    return "\n".join(lines) + "\n"


def floor_lines(scenarios: list[Scenario]) -> list[str]:
    """What the cheapest authenticated request serves, as a share of each list's baseline: the
    ratio no list can pass, whatever its query, while a request costs the app that much."""
    floor = next((s for s in scenarios if s.name.startswith("floor: who am I")), None)
    lists = [s for s in scenarios if s.bare]
    if floor is None or not lists:
        return []
    shares = [floor.app.rps / s.bare.rps for s in lists]
    return [
        f"  - The floor: who am I (the JWT, its user and memberships, the throttle, DRF, "
        f"nothing listed) serves {floor.app.rps:,.0f} req/s, {min(shares):.2f} to "
        f"{max(shares):.2f} of the lists' baselines: the most a list can reach while every "
        "authenticated request costs the app that much."
    ]


def reminder_lines(r: dict) -> list[str]:
    lines = [
        f"- {r['reminders']:,} bookings, each with a reminder due now, in a workspace of their "
        f"own; {r['workers']}; the sweep "
        f"({r['sweep']}) and the deliveries ({r['channel']}) to a local HTTP stand-in.",
        f"- All messages sent in **{r['seconds']:.1f} s**: **{r['per_second']:.1f} reminders/s** "
        f"(sweep done after {r['sweep_seconds']:.1f} s).",
        f"- Check: {r['check']}",
    ]
    lines += [f"- {note}" for note in r.get("notes", [])]
    return lines


# --- Main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-automation", action="store_true", help="skip the reminders run")
    parser.add_argument("--reminders", type=int, default=None, help="reminders to send")
    args = parser.parse_args()

    global WRK
    WRK = wrk_path()
    workspace = Workspace.objects.filter(name=DEMO_WORKSPACE).first()
    if workspace is None:
        sys.exit(f"No workspace {DEMO_WORKSPACE!r}: run `manage.py seed_demo --bookings 100000`.")
    owner = User.objects.get(email=OWNER[0])
    sizes = {
        "bookings": Booking.objects.for_workspace(workspace).count(),
        "contacts": Contact.objects.for_workspace(workspace).count(),
        "conversations": Conversation.objects.for_workspace(workspace).count(),
    }
    print(f"workspace {workspace.slug}: {sizes}")
    logs = Path(tempfile.mkdtemp(prefix="careops-bench-http-"))
    app = Server("app", [], free_port(), logs / "app.log")
    app.command = gunicorn_command("careops.wsgi:application", app.port)
    bare = Server("baseline", [], free_port(), logs / "baseline.log")
    bare.command = gunicorn_command("baseline:application", bare.port, chdir=HERE)
    try:
        app.start("/health")
        bare.start("/health")
        print(f"app on {app.url}, baseline on {bare.url} (logs in {logs})")
        results = run_http(app, bare, workspace, owner, logs)
    finally:
        app.stop()
        bare.stop()
    scenarios, pagination, deep, race_counts, create = results
    reminders = None if args.no_automation else automation(args.reminders)
    text = report(
        info=machine(),
        sizes=sizes,
        scenarios=scenarios,
        pagination=pagination,
        deep=deep,
        race_counts=race_counts,
        create=create,
        reminders=reminders,
    )
    RESULTS.write_text(text)
    SVG.write_text(svg([*scenarios, create]))
    print(f"\nwrote {RESULTS.relative_to(ROOT)} and {SVG.relative_to(ROOT)}")


def run_http(app: Server, bare: Server, workspace: Workspace, owner: User, logs: Path):
    api = {"Authorization": f"Bearer {api_token(app)}", "X-Workspace-ID": str(workspace.pk)}
    page_headers = {"Cookie": session_cookie(app)}
    first = requests.get(
        f"{app.url}/api/v1/bookings?page_size={PAGE_SIZE}", headers=api, timeout=30
    ).json()
    deep_app, deep_bare, deep, pagination = deep_page(app, api, first)
    offset = "paging=offset&" if pagination.startswith("page numbers") else ""
    today = workspace.today()
    scenarios = [
        Scenario(
            "bookings list, page 1",
            f"/api/v1/bookings?page_size={PAGE_SIZE}",
            api,
            f"/bookings?{offset}page_size={PAGE_SIZE}",
            True,
        ),
        Scenario(f"bookings list, page {deep}", deep_app, api, deep_bare, True),
        Scenario(
            "today's bookings", "/api/v1/bookings/today", api, f"/bookings/today?{offset}", True
        ),
        Scenario(
            "conversations list",
            "/api/v1/messages/conversations",
            api,
            f"/conversations?{offset}",
            True,
        ),
        Scenario(
            f"contacts search (q={SEARCH})",
            f"/api/v1/contacts?q={SEARCH}",
            api,
            f"/contacts?{offset}q={SEARCH}",
            True,
        ),
        Scenario("dashboard stats JSON (30d)", "/api/v1/dashboard/stats?period=30d", api),
        # Floors, for reading the lists' ratios: Django and its middleware with no database
        # (the health check), and the cheapest authenticated API read (the JWT, its user and
        # memberships, the throttle, DRF).
        Scenario("floor: health check (no auth, no SQL)", "/health", {}),
        Scenario("floor: who am I (JWT auth, 2 small queries)", "/api/v1/auth/me", api),
        Scenario("dashboard home HTML (owner)", "/", page_headers),
        Scenario(
            "public slots, a month",
            f"/api/v1/bookings/slots?workspace={workspace.slug}&booking_type=physio-session"
            f"&from={today.isoformat()}&to={(today + timedelta(days=30)).isoformat()}",
            {},
        ),
    ]
    for scenario in scenarios:
        if scenario.baseline:
            same_rows(app, bare, scenario)

    # Pages sign in with the session; the API's requests carry only their token, as over HTTP.
    api_client, page_client = Client(HTTP_HOST="127.0.0.1"), Client(HTTP_HOST="127.0.0.1")
    page_client.force_login(owner)
    for scenario in scenarios:
        headers = {k: v for k, v in scenario.headers.items() if k != "Cookie"}
        client = page_client if "Cookie" in scenario.headers else api_client
        profile(Scenario(scenario.name, scenario.path, headers), client)
        probe = Scenario(scenario.name, scenario.path, headers)
        profile(probe, client)  # the second run: caches warm, as under load
        scenario.queries, scenario.db_ms, scenario.plans = probe.queries, probe.db_ms, probe.plans
        print(f"\n== {scenario.name}: {scenario.queries} queries, {scenario.db_ms:.1f} ms in SQL")
        if scenario.is_list:
            for sql, plan in scenario.plans:
                print(re.sub(r"\s+", " ", sql)[:400])
                print(plan)
    connection.close()

    for scenario in scenarios:
        scenario.app = load(app.url + scenario.path, scenario.headers)
        line = f"{scenario.name:<40} {scenario.app.rps:8.1f} req/s p50 {scenario.app.p50:7.1f} ms"
        if scenario.baseline:
            scenario.bare = load(bare.url + scenario.baseline, scenario.headers)
            line += f"   baseline {scenario.bare.rps:8.1f} req/s p50 {scenario.bare.p50:7.1f} ms"
        if scenario.app.failed:
            line += f"   errors {scenario.app.errors}"
        print(line)

    booking_type = BookingType.objects.get(workspace=workspace, slug=CREATE_TYPE)
    slots = free_slots(app, workspace, booking_type)
    if len(slots) < 2:
        sys.exit("No free slots left past the seeded month for the create scenarios.")
    run = uuid.uuid4().hex[:8]
    race_slot, slots = slots[0], slots[1:]
    bodies = logs / "bodies.jsonl"
    bodies.write_text(
        "\n".join(
            booking_body(workspace, slot, f"bench-{run}-{n}@example.test")
            for n, slot in enumerate(slots)
        )
        + "\n"
    )
    create = Scenario("public booking create, distinct slots", "/api/v1/bookings", {})
    create.notes.append(f"{len(slots)} free slots prepared")
    create.app = wrk_run(
        app.url + "/api/v1/bookings",
        script=HERE / "create.lua",
        env={"BENCH_BODIES": str(bodies), "BENCH_PATH": "/api/v1/bookings"},
    )
    create.notes.append(f"statuses {create.app.statuses}")
    print(
        f"{create.name:<40} {create.app.rps:8.1f} req/s p50 {create.app.p50:7.1f} ms "
        f"statuses {create.app.statuses}"
    )
    race_counts = race(app, booking_body(workspace, race_slot, f"bench-{run}-race@example.test"))
    print(f"same slot, {RACE_CLIENTS} clients at once: {race_counts}")
    return scenarios, pagination, deep, race_counts, create


if __name__ == "__main__":
    main()

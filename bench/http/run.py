"""The HTTP benchmark: the API and pages under load, against a bare baseline, in one run.

    make bench-http        (PostgreSQL database careops_bench, seeded to 100,000 bookings)
    make bench-http-1m     (database careops_bench1m, 1,000,000 bookings; no reminders run)

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
8. Writes bench/RESULTS.md and bench/results-latency.svg (--results PATH: that file, and the
   chart beside it as <name>-latency.svg; `make bench-http-1m` writes bench/RESULTS-1M.md).

bench/http/harness.py holds the run's settings, the gunicorn servers and wrk; bench/http/
results.py writes the report and the chart.

Throttles are raised for the run through the environment (THROTTLE_*), the JWT lasts two hours,
and REDIS_URL defaults to db 9. Bookings made by step 6 stay in the database (in the days past
the seeded month), so a later run books later slots.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench/: benchenv
sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/http: harness, results

import benchenv  # noqa: F401 - first: the bench environment, and Django set up
import requests
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from harness import (
    CREATE_TYPE,
    DEEP_PAGE,
    DEMO_WORKSPACE,
    HERE,
    OWNER,
    PAGE_SIZE,
    RACE_CLIENTS,
    RESULTS,
    ROOT,
    SEARCH,
    Server,
    free_port,
    gunicorn_command,
    load,
    wrk_path,
    wrk_run,
)
from results import Scenario, machine, report, svg

from bookings.models import Booking, BookingType
from careops.dashboard.stats import dashboard_stats, period_parse
from contacts.models import Contact
from messaging.models import Conversation
from workspaces.models import User, Workspace

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


def second_page(first: dict, deep: int, api: dict[str, str], offset: str) -> list[Scenario]:
    """Page 2 of the bookings, beside page 1 and the deep page: what a page after the first
    costs, apart from how deep it is. Nothing when the deep page is page 2 or there is none."""
    following = first.get("next")
    if deep <= 2 or not following:
        return []
    if offset:
        baseline = f"/bookings?paging=offset&page=2&page_size={PAGE_SIZE}"
    else:
        last = first["results"][-1]
        baseline = f"/bookings?page_size={PAGE_SIZE}&after={last['start']},{last['id']}"
    return [Scenario("bookings list, page 2", relative(following), api, baseline, True)]


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


def probe_scenario(scenario: Scenario, api_client: Client, page_client: Client) -> None:
    """The scenario's queries and plans, from its second run in-process (caches warm)."""
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


def counting_note(workspace: Workspace) -> str:
    """How long the figures take to count, the cache aside (in-process, median of 5): under load
    the app keeps them 60 s once a count took DASHBOARD_FIGURES_CACHE_AFTER_MS or more."""
    period = period_parse(workspace=workspace, params={"period": "30d"})
    took = []
    with override_settings(DASHBOARD_FIGURES_CACHE_SECONDS=0):
        for _ in range(5):
            started = time.perf_counter()
            dashboard_stats(workspace=workspace, period=period)
            took.append((time.perf_counter() - started) * 1000)
    return (
        f"counted in {statistics.median(took):.0f} ms in-process without the cache; under load "
        f"kept {settings.DASHBOARD_FIGURES_CACHE_SECONDS} s once a count took "
        f"{settings.DASHBOARD_FIGURES_CACHE_AFTER_MS} ms or more"
    )


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


# --- Main -----------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-automation", action="store_true", help="skip the reminders run")
    parser.add_argument("--reminders", type=int, default=None, help="reminders to send")
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS,
        help="the Markdown file to write (the chart beside it, as <name>-latency.svg)",
    )
    args = parser.parse_args()

    wrk_path()  # installed, or exit before starting anything
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
    results_path = args.results.resolve()
    results_path.parent.mkdir(parents=True, exist_ok=True)
    chart = results_path.with_name(f"{results_path.stem.lower()}-latency.svg")
    text = report(
        chart=chart.name,
        info=machine(),
        database=connection.settings_dict["NAME"],
        sizes=sizes,
        scenarios=scenarios,
        pagination=pagination,
        deep=deep,
        race_counts=race_counts,
        create=create,
        reminders=reminders,
    )
    results_path.write_text(text)
    chart.write_text(svg([*scenarios, create]))
    print(f"\nwrote {results_path} and {chart}")


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
        *second_page(first, deep, api, offset),
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
        with override_settings(DASHBOARD_FIGURES_CACHE_SECONDS=0):  # every query counted
            probe_scenario(scenario, api_client, page_client)
    figures = next(s for s in scenarios if s.name.startswith("dashboard stats JSON"))
    figures.notes.append(counting_note(workspace))
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

"""The HTTP benchmark's report: the Markdown results file and the latency chart."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import subprocess
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import django
from django.db import connection
from harness import (
    CREATE_TYPE,
    PAGE_SIZE,
    RACE_CLIENTS,
    WORKERS,
    WRK_CONNECTIONS,
    WRK_DURATION,
    WRK_THREADS,
    WRK_WARMUP,
    Measure,
    wrk_path,
)


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


# A lookup table this small (all of a workspace's tags, say) is read whole by a hash join,
# rightly: only a sequential scan of a table the size of a list's rows misses an index.
SMALL_TABLE_ROWS = 1_000


def seq_scans(plan: str) -> list[str]:
    return [
        table
        for table, rows in re.findall(r"Seq Scan on (\w+) .*?rows=(\d+)", plan)
        if int(rows) > SMALL_TABLE_ROWS
    ]


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
        [wrk_path(), "--version"], capture_output=True, text=True, check=False
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


def second_page_lines(second: Scenario | None, deepest: Scenario, deep: int) -> list[str]:
    """Page 2 against the deep page: whether a page costs more the deeper it is, apart from
    what any page after the first costs (its seek) over the first."""
    if second is None:
        return []
    return [
        f"- Page 2 vs page {deep}: p50 {second.app.p50:.1f} ms vs {deepest.app.p50:.1f} ms, "
        f"{second.app.rps:.1f} vs {deepest.app.rps:.1f} req/s (page 2 over page {deep}: "
        f"{second.app.rps / deepest.app.rps:.2f}x)."
    ]


def report(
    *,
    info: dict[str, str],
    database: str,
    chart: str,
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
        f"(`manage.py seed_demo --bookings N`, database {database})",
        f"- **Server:** gunicorn, {WORKERS} sync workers, `--timeout 30` (the Dockerfile's "
        "command line), app and baseline alike, on loopback; psycopg pool per process, "
        "statements prepared on their fifth run (psycopg's default threshold, both); "
        f"`LOG_LEVEL={os.environ.get('LOG_LEVEL')}`; throttles raised for the run",
        f"- **Load:** wrk `-t{WRK_THREADS} -c{WRK_CONNECTIONS} -d{WRK_DURATION}` per scenario "
        f"after a {WRK_WARMUP} warm-up, load generator, server and PostgreSQL sharing the same "
        f"{os.cpu_count()} cores",
        f"- **Pagination of the lists:** {pagination}; pages of {PAGE_SIZE}",
        f"- **Chart:** latency by scenario, [{chart}]({chart})",
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
        *second_page_lines(by_name.get("bookings list, page 2"), deepest, deep),
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
    """What `who am I` serves, as a share of each list's baseline. It is no floor: its
    serializer costs more than a list's (make bench-layers measures an API view that reads
    nothing)."""
    floor = next((s for s in scenarios if s.name.startswith("floor: who am I")), None)
    lists = [s for s in scenarios if s.bare]
    if floor is None or not lists:
        return []
    shares = [floor.app.rps / s.bare.rps for s in lists]
    return [
        f"  - For comparison, who am I (the JWT, its user and memberships, the throttle, DRF, "
        f"the user and memberships serialized) serves {floor.app.rps:,.0f} req/s, "
        f"{min(shares):.2f} to {max(shares):.2f} of the lists' baselines. It is no floor: "
        "in-process it takes more CPU than a list (`make bench-layers` measures an API view "
        "that reads nothing)."
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

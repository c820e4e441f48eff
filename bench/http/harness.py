"""The HTTP benchmark's harness: the run's settings, the servers under gunicorn, and wrk.

Used by bench/http/run.py; the settings come from the environment (BENCH_*, WEB_CONCURRENCY).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
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
RESULTS = ROOT / "bench" / "RESULTS.md"  # the default; run.py --results writes elsewhere


# --- Processes ------------------------------------------------------------------------------


@functools.cache
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
        wrk_path(),
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

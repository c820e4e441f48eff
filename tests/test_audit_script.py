"""`make audit` (scripts/audit.py): a known vulnerability with a fixed release fails the run, one
without a fix is only listed, and a vulnerability database that cannot be reached (or a package
mirror that answers without advisories) skips the audit with a line saying so."""

from __future__ import annotations

import importlib.util
import io
import json
import subprocess
import urllib.error
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "audit.py"


@pytest.fixture
def audit():
    spec = importlib.util.spec_from_file_location("careops_audit_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def report(*vulns: dict) -> str:
    return json.dumps(
        {
            "dependencies": [
                {"name": "django", "version": "5.2.0", "vulns": list(vulns)},
                {"name": "nh3", "version": "0.3.8", "vulns": []},
            ],
            "fixes": [],
        }
    )


def pip_audit_answers(monkeypatch, audit, stdout: str, returncode: int = 1) -> None:
    monkeypatch.setattr(audit, "database_answers", lambda: (True, ""))
    monkeypatch.setattr(
        audit.subprocess,
        "run",
        lambda *a, **kw: subprocess.CompletedProcess(a, returncode, stdout=stdout, stderr=""),
    )


def test_a_vulnerability_with_a_fix_fails_the_audit(monkeypatch, audit, capsys):
    pip_audit_answers(monkeypatch, audit, report({"id": "PYSEC-1", "fix_versions": ["5.2.1"]}))

    assert audit.main() == 1
    assert "django 5.2.0: PYSEC-1 (fixed in 5.2.1)" in capsys.readouterr().out


def test_a_vulnerability_without_a_fix_is_listed_and_passes(monkeypatch, audit, capsys):
    pip_audit_answers(monkeypatch, audit, report({"id": "GHSA-2", "fix_versions": []}))

    assert audit.main() == 0
    out = capsys.readouterr().out
    assert "audit note: django 5.2.0: GHSA-2 (no fixed release yet)" in out
    assert "audit passed: 2 packages" in out


def test_pip_audit_failing_without_a_report_fails_the_audit(monkeypatch, audit, capsys):
    pip_audit_answers(monkeypatch, audit, "", returncode=2)

    assert audit.main() == 1
    assert "without a report" in capsys.readouterr().out


def test_an_unreachable_database_skips_the_audit_unless_it_is_required(monkeypatch, audit, capsys):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(audit.urllib.request, "urlopen", refuse)

    assert audit.main() == 0
    assert "audit skipped: vulnerability database unreachable" in capsys.readouterr().out
    monkeypatch.setenv("AUDIT_REQUIRED", "1")
    assert audit.main() == 1


def test_a_mirror_that_knows_no_advisory_counts_as_unreachable(monkeypatch, audit):
    """An index mirror may answer PyPI's JSON API with no advisories at all: pip-audit would pass
    everything. Django 3.2.0 has advisories; an answer without them is no database."""
    answer = io.BytesIO(json.dumps({"info": {}, "vulnerabilities": []}).encode())
    monkeypatch.setattr(audit.urllib.request, "urlopen", lambda *a, **kw: answer)

    reachable, why = audit.database_answers()

    assert not reachable
    assert "no advisory" in why

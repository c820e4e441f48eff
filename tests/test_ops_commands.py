"""Every manage.py command of ours, as an operator meets it: `--help` explains it, and bad
input ends the process with a non-zero status and one clear line on stderr (no traceback)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from django.core.management import get_commands
from django.db import connection

from careops.support import VIEW_APPS
from tests.processes import ROOT, env_with

OPS_COMMANDS = {
    "createworkspace",
    "seed_demo",
    "import_contacts",
    "export_contacts",
    "send_test_message",
    "dispatch_events",
    "send_due_reminders",
    "check_integrations",
    "workspace_export",
    "workspace_delete",
    "purge_events",
}


def ours() -> dict[str, str]:
    return {name: app for name, app in get_commands().items() if app in VIEW_APPS}


def manage(*args: str) -> subprocess.CompletedProcess:
    """The command in its own process, on the test database, as an operator runs it."""
    db = connection.settings_dict
    return subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env_with(
            DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"
        ),
    )


def test_every_ops_command_the_issue_names_exists():
    assert set(ours()) >= OPS_COMMANDS


@pytest.mark.parametrize("name", sorted(OPS_COMMANDS))
def test_each_command_explains_itself(name, capsys):
    from django.core.management import call_command

    with pytest.raises(SystemExit) as ended:
        call_command(name, "--help")

    assert ended.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage:") and f" {name}" in out.splitlines()[0]
    # More than argparse's boilerplate: a sentence on what it does.
    assert len(out.split("\n\n")[1].strip()) > 20


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "args",
    [
        ["export_contacts", "--workspace", "no-such-workspace"],
        ["workspace_export", "--workspace", "no-such-workspace", "--output", "never.zip"],
        ["workspace_delete", "--workspace", "no-such-workspace", "--yes"],
        ["send_test_message", "--workspace", "no-such-workspace", "--channel", "sms", "--to", "x"],
        ["purge_events", "--older-than", "-3"],
        ["seed_demo", "--bookings", "-1"],
    ],
    ids=lambda args: args[0],
)
def test_bad_input_exits_non_zero_with_one_clear_line(args):
    result = manage(*args)

    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "the operator is told what was wrong"

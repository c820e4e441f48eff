"""The operators' messaging commands, against the providers' stand-in: send_test_message proves
a workspace's providers send, check_integrations proves they accept their credentials without
sending anything."""

from __future__ import annotations

import base64
import contextlib
import io
import re
import socketserver
import threading

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError

from messaging.models import Channel
from messaging.tests.factories import IntegrationFactory, resend_on, sendgrid_on, twilio_on
from messaging.tests.stand_in import RESEND, SENDGRID

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore::anymail.exceptions.AnymailNotSupportedWarning"),
]

TWILIO_SEND = "/twilio/2010-04-01/Accounts/AC1/Messages.json"
TWILIO_ACCOUNT = "/twilio/2010-04-01/Accounts/AC1.json"


def run(name: str, *args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(name, *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def table(name: str, *args: str) -> str:
    """What the command printed on stdout, whether or not it then exited 1."""
    out = io.StringIO()
    with contextlib.suppress(CommandError):
        call_command(name, *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def rows(out: str, workspace: str = "") -> dict[str, tuple[str, ...]]:
    """check_integrations' table: {provider: (workspace, channel, result, detail)}, of one
    workspace if named."""
    cells = [tuple(re.split(r"\s{2,}", line)) for line in out.splitlines()[1:]]
    return {
        row[2]: (row[0], row[1], *row[3:])
        for row in cells
        if len(row) >= 4 and workspace in ("", row[0])
    }


def fails(name: str, *args: str) -> tuple[CommandError, str]:
    """The command's error (its exit status is 1) and what it printed before."""
    out = io.StringIO()
    with pytest.raises(CommandError) as caught:
        call_command(name, *args, stdout=out, stderr=io.StringIO())
    return caught.value, out.getvalue()


def sends_to(stand_in) -> list:
    """Every request that would have delivered a message (a check must make none)."""
    return [r for r in stand_in.requests if r.method == "POST"]


@pytest.mark.parametrize("command", ["send_test_message", "check_integrations"])
def test_each_command_explains_itself_with_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        call_command(command, "--help")

    assert exit_.value.code == 0
    assert "--workspace" in capsys.readouterr().out


# --- send_test_message ---------------------------------------------------------------------------


def test_a_test_email_goes_through_the_workspaces_first_provider_which_is_named(
    workspace_a, stand_in
):
    integration = resend_on(stand_in, workspace_a)

    out, _ = run(
        "send_test_message", "--workspace", "alpha-clinic", "--channel", "email",
        "--to", "ops@example.org",
    )  # fmt: skip

    assert f"through Resend (integration {integration.pk}) (provider: resend)" in out
    (request,) = stand_in.requests_to(RESEND)
    assert request.json["to"] == ["ops@example.org"]
    assert request.json["subject"] == "CareOps test email"
    integration.refresh_from_db()
    assert integration.last_success_at is not None


def test_a_failing_provider_falls_back_to_the_next_and_both_are_reported(workspace_a, stand_in):
    first = resend_on(stand_in, workspace_a)
    second = sendgrid_on(stand_in, workspace_a)
    stand_in.script(RESEND, (503, {"message": "down for maintenance"}))

    out, _ = run(
        "send_test_message", "--workspace", str(workspace_a.pk), "--channel", "email",
        "--to", "ops@example.org",
    )  # fmt: skip

    assert f"Resend (integration {first.pk}): failed: HTTP 503" in out
    assert f"through SendGrid (integration {second.pk})" in out
    assert len(stand_in.requests_to(SENDGRID)) == 1
    first.refresh_from_db()
    assert "HTTP 503" in first.last_error


def test_without_an_integration_the_platform_sender_is_used_and_said(workspace_a):
    out, _ = run(
        "send_test_message", "--workspace", "alpha-clinic", "--channel", "email",
        "--to", "ops@example.org",
    )  # fmt: skip

    assert "alpha-clinic has no active email integration: the platform's default" in out
    assert "through platform email (locmem)" in out
    (email,) = mail.outbox
    assert email.to == ["ops@example.org"]


def test_one_integration_can_be_tested_alone_by_sms(workspace_a, stand_in):
    first = twilio_on(stand_in, workspace_a, prefix="twilio")
    second = twilio_on(stand_in, workspace_a, prefix="twilio", priority=2)

    out, _ = run(
        "send_test_message", "--workspace", "alpha-clinic", "--channel", "sms",
        "--to", "+447700900555", "--integration", str(second.pk),
    )  # fmt: skip

    assert f"through Twilio (integration {second.pk}) (provider: twilio)" in out
    (request,) = stand_in.requests_to(TWILIO_SEND)
    assert request.form["To"] == "+447700900555"
    assert request.form["Body"] == "Test message from CareOps: twilio works."
    first.refresh_from_db()
    assert first.last_success_at is None


def test_a_refused_test_exits_non_zero_with_the_providers_reason(workspace_a, stand_in):
    integration = resend_on(stand_in, workspace_a)
    stand_in.script(RESEND, (401, {"message": "API key is invalid"}))

    error, _ = fails(
        "send_test_message", "--workspace", "alpha-clinic", "--channel", "email",
        "--to", "ops@example.org",
    )  # fmt: skip

    assert error.returncode == 1
    assert str(error).startswith("The test message was not sent: HTTP 401")
    assert "API key is invalid" in str(error)
    integration.refresh_from_db()
    assert integration.last_error.startswith("HTTP 401")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workspace", "nowhere"], 'No workspace has the slug or id "nowhere"'),
        (["--to", "not an address"], "Enter the email address to send to."),
        (["--channel", "sms", "--to", "tomorrow"], "Enter the number to text, in E.164"),
        (["--channel", "fax"], "invalid choice: 'fax'"),
        (["--integration", "999999"], "alpha-clinic has no integration 999999."),
    ],
)
def test_bad_input_exits_non_zero_with_a_clear_message(workspace_a, args, message):
    defaults = {"--workspace": "alpha-clinic", "--channel": "email", "--to": "ops@example.org"}
    given = dict(zip(args[::2], args[1::2], strict=True))
    argv = [part for pair in {**defaults, **given}.items() for part in pair]

    error, _ = fails("send_test_message", *argv)

    assert message in str(error)
    assert mail.outbox == []


def test_another_workspaces_integration_or_channel_is_refused(workspace_a, workspace_b, stand_in):
    theirs = resend_on(stand_in, workspace_b)
    sms = twilio_on(stand_in, workspace_a, prefix="twilio")
    base = ["--workspace", "alpha-clinic", "--to", "ops@example.org"]

    other, _ = fails("send_test_message", *base, "--channel", "email", "--integration", theirs.pk)
    wrong, _ = fails("send_test_message", *base, "--channel", "email", "--integration", sms.pk)

    assert f"alpha-clinic has no integration {theirs.pk}." in str(other)
    assert f"Integration {sms.pk} sends sms, not email: use --channel sms." in str(wrong)
    assert stand_in.requests == []


# --- check_integrations --------------------------------------------------------------------------


def test_every_active_integration_is_checked_without_sending_a_message(
    workspace_a, workspace_b, stand_in
):
    email = resend_on(stand_in, workspace_a)
    sms = twilio_on(stand_in, workspace_a, prefix="twilio")
    theirs = sendgrid_on(stand_in, workspace_b)
    IntegrationFactory(workspace=workspace_b, provider="resend", is_active=False, priority=9)

    out, err = run("check_integrations")

    lines = out.splitlines()
    assert lines[0].split() == ["WORKSPACE", "CHANNEL", "PROVIDER", "RESULT", "DETAIL"]
    assert len(lines) == 1 + 5 + 1  # header, 2 platform senders + 3 integrations, summary
    table = rows(out)
    assert table[f"Resend (integration {email.pk})"] == (
        "alpha-clinic",
        "email",
        "ok",
        "key accepted",
    )
    assert table[f"Twilio (integration {sms.pk})"] == (
        "alpha-clinic",
        "sms",
        "ok",
        "account active",
    )
    assert table[f"SendGrid (integration {theirs.pk})"] == (
        "bravo-salon",
        "email",
        "ok",
        "key accepted, may send mail",
    )
    assert table["platform email (locmem)"] == ("(platform)", "email", "ok", "nothing to check")
    assert table["platform SMS (console)"] == ("(platform)", "sms", "ok", "nothing to check")
    assert lines[-1] == "All 5 provider checks passed."
    assert "5/5 providers" in err  # progress
    assert sends_to(stand_in) == []
    assert [r.path for r in stand_in.requests if r.path.startswith("/resend")] == [
        "/resend/domains"
    ]
    assert stand_in.requests_to("/resend/domains")[0].headers["Authorization"] == (
        "Bearer re_live_key_1234"
    )
    assert len(stand_in.requests_to(TWILIO_ACCOUNT)) == 1
    for integration in (email, sms, theirs):
        integration.refresh_from_db()
        # Nothing was sent: the pages' "last success" (a message went through) is left alone.
        assert (integration.last_success_at, integration.last_error) == (None, "")


def test_a_refused_credential_is_reported_recorded_and_exits_1(workspace_a, stand_in):
    sms = twilio_on(stand_in, workspace_a, prefix="twilio")
    email = resend_on(stand_in, workspace_a)
    stand_in.script(
        TWILIO_ACCOUNT, (401, {"code": 20003, "message": "Authenticate", "status": 401})
    )

    error, out = fails("check_integrations", "--workspace", "alpha-clinic")

    assert error.returncode == 1
    assert str(error) == "1 of 2 provider checks failed."
    assert rows(out)[f"Twilio (integration {sms.pk})"] == (
        "alpha-clinic",
        "sms",
        "FAILED",
        "HTTP 401 error 20003: Unable to fetch record: Authenticate",
    )
    assert "(platform)" not in out  # the workspace has its own provider on both channels
    sms.refresh_from_db()
    email.refresh_from_db()
    assert "error 20003" in sms.last_error
    assert sms.last_error_at is not None
    assert email.last_error == ""


def test_a_resend_key_limited_to_sending_passes(workspace_a, stand_in):
    resend_on(stand_in, workspace_a)
    stand_in.script(
        "/resend/domains",
        (
            401,
            {
                "statusCode": 401,
                "name": "restricted_api_key",
                "message": "This API key is restricted to only send emails",
            },
        ),
    )

    out, _ = run("check_integrations", "--workspace", "alpha-clinic")

    (row,) = rows(out, "alpha-clinic").values()
    assert row == ("alpha-clinic", "email", "ok", "key accepted (sending access only)")


@pytest.mark.parametrize(
    ("provider", "credentials", "path", "answer", "shown"),
    [
        ("resend", {"api_key": "re_x"}, "/esp/domains", (403, {"message": "API key is invalid"}),
         ("FAILED", "HTTP 403")),
        ("sendgrid", {"api_key": "SG.x"}, "/esp/scopes", (200, {"scopes": ["stats.read"]}),
         ("FAILED", "the key may not send mail (no mail.send scope)")),
        ("mailgun", {"api_key": "key-x", "sender_domain": "mg.alpha.example"},
         "/esp/domains/mg.alpha.example", None, ("ok", "key accepted, sending domain active")),
        ("mailgun", {"api_key": "key-x", "sender_domain": "mg.alpha.example"},
         "/esp/domains/mg.alpha.example",
         (200, {"domain": {"name": "mg.alpha.example", "state": "unverified"}}),
         ("FAILED", "the sending domain is unverified")),
        ("mailgun", {"api_key": "key-x", "sender_domain": "mg.alpha.example"},
         "/esp/domains/mg.alpha.example", (401, {"message": "Invalid private key"}),
         ("FAILED", "HTTP 401")),
        ("postmark", {"api_key": "pm-token"}, "/esp/server", None,
         ("ok", "server token accepted (Stand-in server)")),
    ],
)  # fmt: skip
def test_each_email_provider_is_asked_what_it_can_answer_without_sending(
    workspace_a, stand_in, provider, credentials, path, answer, shown
):
    IntegrationFactory(
        workspace=workspace_a,
        provider=provider,
        channel=Channel.EMAIL,
        credentials={**credentials, "api_url": stand_in.url + "/esp/"},
    )
    if answer:
        stand_in.script(path, answer)

    out = table("check_integrations", "--workspace", "alpha-clinic")

    assert len(stand_in.requests_to(path)) == 1
    assert sends_to(stand_in) == []
    (row,) = rows(out, "alpha-clinic").values()
    assert row[2] == shown[0]
    assert row[3].startswith(shown[1])


def test_unreadable_credentials_fail_the_check_without_calling_the_provider(workspace_a):
    integration = IntegrationFactory(
        workspace=workspace_a, provider="resend", channel=Channel.EMAIL, credentials=None
    )

    _, out = fails("check_integrations", "--workspace", "alpha-clinic")

    (row,) = rows(out, "alpha-clinic").values()
    assert row[2:] == ("FAILED", "the credentials cannot be read: enter them again")
    integration.refresh_from_db()
    assert integration.last_error == "the credentials cannot be read: enter them again"


def test_a_console_integration_where_console_is_off_fails(workspace_a, settings):
    settings.MESSAGING_ALLOW_CONSOLE = False
    IntegrationFactory(workspace=workspace_a, provider="console", channel=Channel.SMS)

    _, out = fails("check_integrations", "--workspace", "alpha-clinic")

    (row,) = rows(out, "alpha-clinic").values()
    assert row[2:] == ("FAILED", "console providers are disabled here (MESSAGING_ALLOW_CONSOLE)")


# --- The platform's SMTP server ------------------------------------------------------------------


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for a login: greets, offers AUTH PLAIN, checks the one password."""

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 stand-in ESMTP")
        for raw in self.rfile:
            command = raw.decode().strip()
            verb = command.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-stand-in")
                self.reply("250 AUTH PLAIN")
            elif verb == "AUTH":
                user, password = base64.b64decode(command.split()[-1]).split(b"\0")[1:]
                accepted = (user, password) == (b"ops", b"right")
                self.reply("235 accepted" if accepted else "535 5.7.8 bad credentials")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("250 ok")


@pytest.fixture
def smtp_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("password", "shown"),
    [
        ("right", ("ok", "SMTP 127.0.0.1:{port} accepted the login")),
        ("wrong", ("FAILED", "SMTP 127.0.0.1:{port}: SMTPAuthenticationError: (535")),
    ],
)
def test_the_platform_smtp_server_is_logged_in_to(
    workspace_a, settings, smtp_server, password, shown
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", smtp_server
    settings.EMAIL_HOST_USER, settings.EMAIL_HOST_PASSWORD = "ops", password
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False

    out = table("check_integrations")

    row = rows(out)["platform email (smtp)"]
    assert row[2] == shown[0]
    assert row[3].startswith(shown[1].format(port=smtp_server))


def test_the_platform_twilio_account_is_checked_too(workspace_a, stand_in, settings):
    settings.SMS_DEFAULT_PROVIDER = "twilio"
    settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN = "AC_platform", "tok"
    settings.TWILIO_API_BASE_URL = stand_in.url + "/platform"

    out, _ = run("check_integrations", "--workspace", "alpha-clinic")

    assert rows(out)["platform SMS (twilio)"] == ("(platform)", "sms", "ok", "account active")
    assert len(stand_in.requests_to("/platform/2010-04-01/Accounts/AC_platform.json")) == 1


def test_checking_an_unknown_workspace_exits_non_zero(db):
    error, _ = fails("check_integrations", "--workspace", "nowhere")

    assert error.returncode == 1
    assert str(error) == 'No workspace has the slug or id "nowhere".'

"""A local HTTP stand-in for the providers' APIs (Resend, SendGrid, Mailgun, Postmark, Twilio).

The real client libraries (django-anymail, twilio) talk to it over HTTP on 127.0.0.1: it records
every request, and answers each path with the responses scripted for it, in order, then 200
with a body every client accepts as success (a fresh id under each provider's key). The read-only
calls `check()` makes (messaging.providers) are answered as a healthy account would: Twilio's
account (active), Resend's domains, SendGrid's scopes (mail.send), Mailgun's domain (active),
Postmark's server.

    server = StandIn().start()
    server.script("/resend/emails", (503, {"message": "down"}))
    ...
    server.requests_to("/resend/emails")[0].json["to"]
    server.stop()

A scripted answer may also be an `Answer`: one that comes late (`delay`, longer than the
client's timeout: the provider took the message, the client gave up waiting), or that is not
JSON (`raw`), or that is cut short (`truncated`: the connection closes mid-body).

Like Resend, the stand-in honours the Idempotency-Key header: a key it already accepted (2xx)
is answered with the first answer again (whole and readable: what the provider meant to say if
the first came garbled), and nothing more is sent. `sent_to(path)` lists what
the provider took and would deliver: every 2xx, late or not, but not those repeats.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    query: dict[str, list[str]] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body or b"null")

    @property
    def form(self) -> dict[str, str]:
        """An urlencoded body (Twilio's), one value per key."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass(frozen=True)
class Answer:
    """A scripted answer beyond (status, JSON body): late, not JSON, or cut short."""

    status: int = 200
    body: Any = None  # JSON; None: the usual success body for a 2xx
    raw: bytes | None = None  # sent as is instead of a JSON body
    delay: float = 0  # seconds to wait before answering
    truncated: bool = False  # announce the whole body, send half of it, close


class StandIn:
    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.accepted: list[Recorded] = []
        self._idempotent: dict[str, tuple[int, bytes]] = {}
        self._scripts: dict[str, deque] = defaultdict(deque)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the stand-in first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def script(self, path: str, *responses: tuple[int, Any] | Answer) -> None:
        """Answer the next requests to `path` with these (status, JSON body) pairs or Answers,
        in order."""
        with self._lock:
            self._scripts[path].extend(responses)

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def sent_to(self, path: str) -> list[Recorded]:
        """The requests to `path` the provider took (2xx), repeats of a known
        Idempotency-Key left out: what the recipients would get."""
        return [r for r in self.accepted if r.path == path]

    def _success_body(self) -> dict[str, Any]:
        n = next(self._ids)
        return {
            "id": f"stand-in-{n}",  # Resend, Mailgun
            "message": "Queued",
            "sid": f"SM{n:032x}",  # Twilio
            "status": "queued",
            "MessageID": f"pm-{n}",  # Postmark
            "ErrorCode": 0,
            "Message": "OK",
        }

    def _check_body(self, method: str, path: str) -> dict[str, Any] | None:
        """The answer to one of the providers' read-only checks, or None for any other call."""
        if method != "GET":
            return None
        if account := re.search(r"/2010-04-01/Accounts/([^/]+)\.json$", path):
            sid = account.group(1)
            return {"sid": sid, "friendly_name": "Stand-in", "status": "active", "type": "Full"}
        if domain := re.search(r"/domains/([^/]+)$", path):  # Mailgun
            return {"domain": {"name": domain.group(1), "state": "active"}}
        if path.endswith("/domains"):  # Resend
            return {"object": "list", "data": [{"name": "alpha.example", "status": "verified"}]}
        if path.endswith("/scopes"):  # SendGrid
            return {"scopes": ["mail.send"]}
        if path.endswith("/server"):  # Postmark
            return {"ID": 1, "Name": "Stand-in server"}
        return None

    def _answer(self, method: str, path: str) -> Answer:
        with self._lock:
            queue = self._scripts.get(path)
            scripted = queue.popleft() if queue else None
        if isinstance(scripted, Answer):
            if scripted.body is None and scripted.raw is None and scripted.status < 300:
                return replace(scripted, body=self._success_body())
            return scripted
        if scripted is not None:
            return Answer(*scripted)
        body = self._check_body(method, path)
        return Answer(200, body if body is not None else self._success_body())

    def _respond(self, recorded: Recorded) -> tuple[Answer, bytes]:
        """The answer to a request and its body; a 2xx to anything but a check is a message
        the provider took."""
        key = recorded.headers.get("Idempotency-Key", "")
        with self._lock:
            if key and key in self._idempotent:
                status, payload = self._idempotent[key]
                return Answer(status), payload
        answer = self._answer(recorded.method, recorded.path)
        if answer.raw is not None:
            payload = answer.raw
        else:
            payload = b"" if answer.body is None else json.dumps(answer.body).encode()
        if recorded.method != "GET" and 200 <= answer.status < 300:
            readable = answer.raw is None and not answer.truncated and "id" in (answer.body or {})
            remembered = payload if readable else json.dumps(self._success_body()).encode()
            with self._lock:
                self.accepted.append(recorded)
                if key:
                    self._idempotent[key] = (answer.status, remembered)
        return answer, payload

    def start(self) -> StandIn:
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                parts = urlsplit(self.path)
                with stand_in._lock:
                    stand_in.requests.append(
                        Recorded(
                            method=self.command,
                            path=parts.path,
                            headers=dict(self.headers.items()),
                            body=self.rfile.read(length),
                            query=parse_qs(parts.query),
                        )
                    )
                    recorded = stand_in.requests[-1]
                answer, payload = stand_in._respond(recorded)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload[: len(payload) // 2] if answer.truncated else payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (its timeout): as a provider sees it
                if answer.truncated:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_DELETE = _handle

            def log_message(self, format, *args):  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# Where the stand-in takes each provider's send, under the prefixes the factories' resend_on,
# sendgrid_on and twilio_on give the integrations.
RESEND = "/resend/emails"
SENDGRID = "/sendgrid/v3/mail/send"


def twilio_path(prefix: str = "twilio-a", sid: str = "AC1") -> str:
    return f"/{prefix}/2010-04-01/Accounts/{sid}/Messages.json"

"""A local webhook receiver for tests: a real HTTP server on 127.0.0.1 that records every
request and answers with the statuses (and delays) scripted for it, in order, then 204.

    receiver = Receiver().start()
    receiver.script(500, Reply(200, delay=2))
    ...receiver.requests[0].json["type"], receiver.requests[0].headers["CareOps-Signature"]
    receiver.stop()
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


@dataclass(frozen=True)
class Reply:
    status: int = 204
    delay: float = 0  # seconds before answering: longer than the sender's timeout, a timeout
    body: bytes = b""
    location: str = ""


class Receiver:
    def __init__(self) -> None:
        self.requests: list[Received] = []
        self._replies: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/hooks/careops"

    def script(self, *replies: int | Reply) -> None:
        with self._lock:
            self._replies.extend(r if isinstance(r, Reply) else Reply(r) for r in replies)

    def _next(self) -> Reply:
        with self._lock:
            return self._replies.popleft() if self._replies else Reply()

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.requests.append(
                        Received("POST", self.path, dict(self.headers.items()), body)
                    )
                reply = receiver._next()
                if reply.delay:
                    time.sleep(reply.delay)
                try:
                    self.send_response(reply.status)
                    if reply.location:
                        self.send_header("Location", reply.location)
                    self.send_header("Content-Length", str(len(reply.body)))
                    self.end_headers()
                    self.wfile.write(reply.body)
                except OSError:  # the sender gave up waiting and closed the connection
                    pass

            def log_message(self, *args) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

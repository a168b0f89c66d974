"""A real receiving HTTP server on 127.0.0.1 for outbound webhook tests: it verifies every
delivery's signature the way the README tells merchants to, and can be scripted to fail
(500), hang past the sender's read timeout, or be stopped (connections refused)."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOLERANCE_S = 300


def verify_signature(secret: str, headers: dict[str, str], body: bytes, *, now: datetime) -> bool:
    """What a merchant's receiver does: a recent timestamp, and HMAC-SHA256 over
    "<timestamp>.<raw body>" matching one of the signatures, compared in constant time
    (hmac.compare_digest), so timing reveals nothing about the expected value."""
    timestamp = headers.get("X-Loyalty-Timestamp", "")
    if not timestamp.isdigit() or abs(now.timestamp() - int(timestamp)) > TOLERANCE_S:
        return False
    expected = (
        "sha256="
        + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    )
    candidates = headers.get("X-Loyalty-Signature", "").split(",")
    return any(hmac.compare_digest(expected.encode(), c.strip().encode()) for c in candidates)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified: dict[str, bool]  # secret -> whether it verified


class Receiver:
    def __init__(self, clock: Callable[[], datetime], *, hang_s: float = 2.0) -> None:
        self.clock = clock
        self.hang_s = hang_s
        self.secrets: list[str] = []
        self.script: deque[Any] = deque()  # 500, "hang"; empty: answer 204
        self.received: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()}
                verified = {
                    s: verify_signature(s, headers, body, now=receiver.clock())
                    for s in receiver.secrets
                }
                receiver.received.append(Received(headers, body, verified))
                action = receiver.script.popleft() if receiver.script else 204
                if action == "hang":
                    time.sleep(receiver.hang_s)
                    action = 204
                if not any(verified.values()):
                    action = 401
                self.send_response(action)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self.port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Close the socket: connections to the port are refused until `start()`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

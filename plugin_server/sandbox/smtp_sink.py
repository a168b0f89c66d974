"""A local SMTP server that keeps what it is sent (development and tests only).

Built on aiosmtpd (a maintained asyncio SMTP server; the stdlib's smtpd is gone since
Python 3.12), listening on 127.0.0.1 only. `refuse(n)` makes the next n messages fail
with a temporary 451 answer, so retries can be exercised against a real server.
"""

from __future__ import annotations

import socket
import threading
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


@dataclass
class SinkHandler:
    messages: list[EmailMessage] = field(default_factory=list)
    refusals: int = 0
    refusal: str = "451 4.3.0 Try again later"
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        with self.lock:
            if self.refusals > 0:
                self.refusals -= 1
                return self.refusal
            raw = envelope.original_content or envelope.content or b""
            data = raw if isinstance(raw, bytes) else raw.encode()
            message = message_from_bytes(data, policy=policy.default)
            assert isinstance(message, EmailMessage)
            self.messages.append(message)
        return "250 OK"


class SmtpSink:
    """`with SmtpSink() as sink:` serves on 127.0.0.1 (a free port unless given);
    `sink.url` is the SMTP_URL to use and `sink.messages` what arrived."""

    def __init__(self, port: int = 0) -> None:
        self.handler = SinkHandler()
        if port == 0:
            # aiosmtpd checks its server by connecting to the configured port, so it
            # needs a real one: ask the OS for a free port.
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
        self._port = port
        self._controller = Controller(self.handler, hostname="127.0.0.1", port=port)

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def refuse(self, count: int, answer: str = "451 4.3.0 Try again later") -> None:
        """Answer the next `count` messages with `answer` (a temporary failure by default)."""
        with self.handler.lock:
            self.handler.refusals, self.handler.refusal = count, answer

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> SmtpSink:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

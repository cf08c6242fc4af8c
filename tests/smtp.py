"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, keeping every
message it accepts so a test can read what a patient would receive::

    with SmtpSink() as sink:
        settings = Settings(..., smtp_host=sink.host, smtp_port=sink.port, smtp_security="none")
        ...send...
        assert sink.recipients() == ["p0@example.org"]

``refuse`` lists addresses answered "550 no such user"; ``delay`` slows every message
down (so that concurrent senders really overlap).
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.servers import free_port


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        if address.lower() in self.sink.refuse:
            return "550 5.1.1 No such user here"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.sink.delay:
            await asyncio.sleep(self.sink.delay)
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.sink.lock:
            self.sink.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpSink:
    def __init__(self, *, refuse: tuple[str, ...] = (), delay: float = 0.0) -> None:
        self.host = "127.0.0.1"
        self.port = free_port()
        self.refuse = {a.lower() for a in refuse}
        self.delay = delay
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()
        self.running = False
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port)

    def start(self) -> SmtpSink:
        self._controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        """Stop answering (idempotent): the port refuses connections afterwards."""
        if self.running:
            self._controller.stop()
            self.running = False

    def __enter__(self) -> SmtpSink:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def recipients(self) -> list[str]:
        with self.lock:
            return sorted(str(m["To"]) for m in self.messages)

    def bodies(self) -> list[str]:
        with self.lock:
            return [m.get_body(preferencelist=("plain",)).get_content() for m in self.messages]  # type: ignore[union-attr]

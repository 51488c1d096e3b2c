"""A real SMTP server for tests: aiosmtpd on 127.0.0.1 and a free port, keeping what it receives,
and the settings pointed at it for the duration of a test."""

from __future__ import annotations

import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, Session
from pydantic import SecretStr

from apex_mediation.settings import Settings

LINK = re.compile(r"https?://\S+")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Mailbox:
    port: int
    messages: list[EmailMessage] = field(default_factory=list)
    envelopes: list[tuple[str, list[str]]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content or b""
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        with self._lock:
            self.messages.append(parsed)
            self.envelopes.append((envelope.mail_from or "", list(envelope.rcpt_tos)))
        return "250 Message accepted for delivery"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if m["To"] == address]

    def link_to(self, address: str) -> str:
        """The path of the (only) link in the last message to `address`."""
        found = self.to(address)
        assert found, f"no email to {address}; got {[m['To'] for m in self.messages]}"
        body = str(found[-1].get_content())
        links: list[str] = LINK.findall(body)
        assert len(links) == 1, body
        return "/" + links[0].split("/", 3)[3]


def _authenticator(mailbox: Mailbox, user: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        login = data.login.decode() if isinstance(data.login, bytes) else str(data.login)
        secret = data.password.decode() if isinstance(data.password, bytes) else str(data.password)
        ok = login == user and secret == password
        if ok:
            mailbox.logins.append(login)
        return AuthResult(success=ok)

    return check


@contextmanager
def running_mailbox(auth: tuple[str, str] | None = None) -> Iterator[Mailbox]:
    mailbox = Mailbox(port=free_port())
    extra: dict[str, Any] = {}
    if auth:
        extra = {
            "auth_required": True,
            "auth_require_tls": False,
            "authenticator": _authenticator(mailbox, *auth),
        }
    controller = Controller(mailbox, hostname="127.0.0.1", port=mailbox.port, **extra)
    controller.start()
    try:
        yield mailbox
    finally:
        controller.stop()


@contextmanager
def mail_to(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, auth: tuple[str, str] | None = None
) -> Iterator[Mailbox]:
    """A mailbox, with APEX_SMTP_URL pointing at it while the context lasts."""
    with running_mailbox(auth) as mailbox:
        credentials = f"{auth[0]}:{auth[1]}@" if auth else ""
        url = f"smtp://{credentials}127.0.0.1:{mailbox.port}"
        monkeypatch.setattr(settings, "smtp_url", SecretStr(url))
        yield mailbox

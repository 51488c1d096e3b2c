"""Email over SMTP, configured by `APEX_SMTP_URL` and `APEX_MAIL_FROM`.

`smtp://user:pass@host:port` sends in the clear (local relays), `smtp+starttls://…` or
`smtp://…?starttls=true` upgrades with STARTTLS and `smtps://…` uses implicit TLS. aiosmtplib
talks to the server on the event loop itself.

Without `APEX_SMTP_URL`, development and tests write each message to the log (links included, so
a local set-up works without a mail server); production refuses to pretend and raises
`MailNotConfigured`, which `deliver` logs as an error.
"""

from __future__ import annotations

import logging
import re
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib

from apex_mediation.settings import Settings

log = logging.getLogger(__name__)

Security = Literal["none", "starttls", "tls"]
Delivery = Literal["sent", "logged", "failed"]
_SCHEMES: dict[str, tuple[Security, int]] = {
    "smtp": ("none", 25),
    "smtp+starttls": ("starttls", 587),
    "smtps": ("tls", 465),
}
_TRUE = frozenset({"1", "true", "yes", "on"})
_HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9-]*")
# Set by `build_message` itself: extra headers may not replace them.
_OWN_HEADERS = frozenset({"from", "to", "cc", "bcc", "subject", "date", "message-id", "sender"})


class MailError(RuntimeError):
    """The message could not be handed to the mail server."""


class MailNotConfigured(MailError):
    """Production without `APEX_SMTP_URL`: nothing can be sent."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str
    port: int
    security: Security
    username: str | None = None
    password: str | None = None
    timeout_s: float = 10.0


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    # Set: the message is multipart/alternative, the text first (clients show the last they can).
    html: str | None = None
    # List-Unsubscribe and friends; addressing headers are refused (see _OWN_HEADERS).
    headers: Mapping[str, str] = field(default_factory=dict)


def parse_smtp_url(url: str) -> SmtpConfig:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in _SCHEMES:
        raise ValueError(f"APEX_SMTP_URL must start with {', '.join(s + '://' for s in _SCHEMES)}")
    if not parts.hostname:
        raise ValueError("APEX_SMTP_URL has no host")
    security, default_port = _SCHEMES[scheme]
    query = {k.lower(): v[-1].lower() for k, v in parse_qs(parts.query).items()}
    if security == "none" and query.get("starttls") in _TRUE:
        security = "starttls"
    timeout = float(query["timeout"]) if "timeout" in query else 10.0
    return SmtpConfig(
        host=parts.hostname,
        port=parts.port or default_port,
        security=security,
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        timeout_s=timeout,
    )


def _one_line(value: str) -> str:
    """Header values never carry line breaks (no header injection through names)."""
    return " ".join(value.split())


def build_message(sender: str, email: Email) -> EmailMessage:
    message = EmailMessage()
    message["From"] = _one_line(sender)
    message["To"] = _one_line(email.to)
    message["Subject"] = _one_line(email.subject)
    message["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    message["Message-ID"] = make_msgid(domain=domain)
    for name, value in email.headers.items():
        if not _HEADER_NAME.fullmatch(name) or name.lower() in _OWN_HEADERS:
            raise ValueError(f"{name!r} cannot be set as an extra header")
        message[name] = _one_line(value)
    message.set_content(email.text)
    if email.html is not None:
        message.add_alternative(email.html, subtype="html")
    return message


async def _send_smtp(config: SmtpConfig, message: EmailMessage) -> None:
    await aiosmtplib.send(
        message,
        sender=parseaddr(str(message["From"]))[1],
        recipients=[parseaddr(str(message["To"]))[1]],
        hostname=config.host,
        port=config.port,
        username=config.username,
        password=config.password if config.username else None,
        # start_tls=None would upgrade opportunistically; smtp:// means exactly no TLS.
        use_tls=config.security == "tls",
        start_tls=config.security == "starttls",
        tls_context=ssl.create_default_context(),
        timeout=config.timeout_s,
    )


async def send(settings: Settings, email: Email) -> bool:
    """Send `email`: True once the server accepted it, False when it was only logged
    (no SMTP outside production). Raises MailNotConfigured or MailError."""
    message = build_message(settings.mail_from, email)
    if settings.smtp_url is None:
        if settings.is_production:
            raise MailNotConfigured("APEX_SMTP_URL is not set; no email can be sent")
        log.warning("APEX_SMTP_URL is not set; this email was not sent:\n%s", message.as_string())
        return False
    try:
        config = parse_smtp_url(settings.smtp_url.get_secret_value())
        await _send_smtp(config, message)
    except (ValueError, OSError, aiosmtplib.SMTPException) as exc:
        raise MailError(f"sending to the mail server failed: {exc}") from exc
    return True


async def deliver(settings: Settings, email: Email) -> Delivery:
    """`send` without raising (background tasks, forms): failures are logged as errors."""
    try:
        return "sent" if await send(settings, email) else "logged"
    except MailError as exc:
        log.error("email %r was not sent: %s", _one_line(email.subject), exc)
        return "failed"
    except Exception:  # a message that cannot even be built: the form's work is already saved
        log.exception("email %r could not be built", _one_line(email.subject))
        return "failed"

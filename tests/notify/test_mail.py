"""The SMTP sender against a real local SMTP server (aiosmtpd), and what happens without one."""

from __future__ import annotations

import logging

import pytest

from apex_mediation.notify import mail, messages
from apex_mediation.notify.mail import Email, MailNotConfigured, parse_smtp_url
from apex_mediation.settings import Settings
from tests.mailbox import free_port, running_mailbox


def _settings(**values: str) -> Settings:
    return Settings(APEX_ENV=values.pop("env", "development"), **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "host", "port", "security", "user", "password"),
    [
        ("smtp://mail.example.com", "mail.example.com", 25, "none", None, None),
        ("smtp://u%40x:p%2Fw@relay:2525", "relay", 2525, "none", "u@x", "p/w"),
        ("smtp://relay:587?starttls=true", "relay", 587, "starttls", None, None),
        ("smtp+starttls://a:b@relay", "relay", 587, "starttls", "a", "b"),
        ("smtps://a:b@relay", "relay", 465, "tls", "a", "b"),
    ],
)
def test_smtp_urls(
    url: str, host: str, port: int, security: str, user: str | None, password: str | None
) -> None:
    config = parse_smtp_url(url)
    assert (config.host, config.port, config.security) == (host, port, security)
    assert (config.username, config.password) == (user, password)


@pytest.mark.parametrize("url", ["http://relay", "smtp://", "smtp:///nohost"])
def test_bad_smtp_urls(url: str) -> None:
    with pytest.raises(ValueError, match="APEX_SMTP_URL"):
        parse_smtp_url(url)


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_sends_through_a_real_server_with_login() -> None:
    with running_mailbox(auth=("apex", "s3cret pass")) as box:
        settings = _settings(
            APEX_SMTP_URL=f"smtp://apex:s3cret%20pass@127.0.0.1:{box.port}",
            APEX_MAIL_FROM="Apex <noreply@apex.example>",
        )
        email = messages.password_reset("who@example.com", "http://x/password-reset/t", 60)
        assert await mail.send(settings, email) is True
    assert box.logins == ["apex"]
    [message] = box.messages
    assert message["To"] == "who@example.com"
    assert message["From"] == "Apex <noreply@apex.example>"
    assert message["Message-ID"].endswith("@apex.example>")
    assert "http://x/password-reset/t" in message.get_content()
    assert box.envelopes == [("noreply@apex.example", ["who@example.com"])]


async def test_header_injection_is_flattened() -> None:
    with running_mailbox() as box:
        settings = _settings(APEX_SMTP_URL=f"smtp://127.0.0.1:{box.port}")
        email = messages.invitation(
            "a@example.com",
            "http://x/invitations/t",
            publisher="Evil\r\nBcc: victim@example.com",
            role="member",
            inviter=None,
            valid_days=7,
        )
        assert await mail.send(settings, email)
    [message] = box.messages
    assert message["Bcc"] is None
    assert box.envelopes[0][1] == ["a@example.com"]


async def test_without_smtp_development_logs_the_message(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="apex_mediation.notify.mail")
    email = Email("dev@example.com", "Hello", "the link: http://x/y")
    assert await mail.deliver(_settings(), email) == "logged"
    assert "http://x/y" in caplog.text


async def test_without_smtp_production_refuses(caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(env="production")
    email = Email("prod@example.com", "Hello", "text")
    with pytest.raises(MailNotConfigured):
        await mail.send(settings, email)
    caplog.set_level(logging.ERROR, logger="apex_mediation.notify.mail")
    assert await mail.deliver(settings, email) == "failed"
    assert "not sent" in caplog.text and "text" not in caplog.text.split("not sent")[1]


async def test_an_unreachable_server_is_a_logged_failure(caplog: pytest.LogCaptureFixture) -> None:
    settings = _settings(APEX_SMTP_URL=f"smtp://127.0.0.1:{free_port()}?timeout=2")
    caplog.set_level(logging.ERROR, logger="apex_mediation.notify.mail")
    assert await mail.deliver(settings, Email("x@example.com", "Hi", "body")) == "failed"
    assert "was not sent" in caplog.text


async def test_html_makes_a_multipart_alternative_with_extra_headers() -> None:
    with running_mailbox() as box:
        settings = _settings(APEX_SMTP_URL=f"smtp://127.0.0.1:{box.port}")
        email = Email(
            "both@example.com",
            "Both",
            "plain words",
            html="<p>rich words</p>",
            headers={"List-Unsubscribe": "<https://x/u?t=1>", "List-Id": "News\r\nBcc: a@b.c"},
        )
        assert await mail.send(settings, email)
    [message] = box.messages
    assert message.get_content_type() == "multipart/alternative"
    parts = [part.get_content_type() for part in message.iter_parts()]
    assert parts == ["text/plain", "text/html"]  # clients show the last one they can
    assert message["List-Unsubscribe"] == "<https://x/u?t=1>"
    assert message["List-Id"] == "News Bcc: a@b.c" and message["Bcc"] is None


@pytest.mark.parametrize("name", ["To", "bcc", "Subject", "X Bad", ""])
def test_extra_headers_cannot_replace_addressing(name: str) -> None:
    with pytest.raises(ValueError, match="extra header"):
        mail.build_message("a@example.com", Email("b@example.com", "s", "t", headers={name: "x"}))

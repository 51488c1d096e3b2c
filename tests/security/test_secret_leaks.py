"""No secret reaches a log line, a response body or a response header.

A scenario runs with known secret values — a user's password, an API key, network account
credentials, the platform secret, the Stripe secret key and webhook secret, the OpenAI key and
the SMTP password in Settings — through signup, login (right and wrong), key creation, reporting
calls, network account creation and change, payments, a Stripe webhook, AI calls, invitation
emails and errors. Logging runs at its most verbose (APEX_LOG_LEVEL=DEBUG, JSON), and every
record of every logger is kept: as the app's own JSON line on stdout, as text with its traceback,
and as the raw record with its arguments. So is every answer's headers and body. Each is
searched for every secret as it is and in the encodings that hide it from a plain search:
URL-encoded and base64 (at each of its three alignments, so inside a longer base64 blob too).

The one answer allowed to hold a secret is the one that hands it out: the API key in its own
creation response.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import logging
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from urllib.parse import quote, quote_plus

import httpx
import pytest
import structlog
from fastapi import FastAPI
from pydantic import SecretStr

from apex_mediation.ai.features import Feature
from apex_mediation.ai.runtime import AiRuntime
from apex_mediation.demo.fake_stripe import FakeStripe
from apex_mediation.observability.logging import configure_logging
from apex_mediation.services import Services
from tests.conftest import PHONE_BROWSER
from tests.fake_openai import FakeOpenAI
from tests.mailbox import free_port, running_mailbox
from tests.security.world import live_stripe, swapped_runtime


def encodings(secret: str) -> set[str]:
    """The secret and the forms an encoder could turn it into."""
    raw = secret.encode()
    found = {secret, quote(secret), quote(secret, safe=""), quote_plus(secret)}
    for align in range(3):
        # base64 of the secret after `align` other bytes: keep only the characters made of the
        # secret's bytes alone, which any base64 text holding the secret at that alignment has.
        encoded = base64.b64encode(bytes(align) + raw).decode()
        first = -(-align // 3)  # groups that mix in the bytes before the secret
        last = (align + len(raw)) // 3  # groups made only of the secret's bytes end here
        chunk = encoded[first * 4 : last * 4]
        if len(chunk) >= 8:
            found |= {chunk, chunk.translate(str.maketrans("+/", "-_"))}
    return found


@dataclass
class Seen:
    """Everything the scenario produced that someone other than the server could read."""

    logs: list[str] = field(default_factory=list)
    answers: list[tuple[str, str]] = field(default_factory=list)  # (request, headers + body)
    allowed: dict[str, str] = field(default_factory=dict)  # secret -> the request that may hold it

    def leaks(self, named: dict[str, str]) -> list[str]:
        found = []
        for name, secret in named.items():
            forms = encodings(secret)
            for line in self.logs:
                hit = next((form for form in forms if form in line), None)
                if hit:
                    found.append(f"{name} ({hit!r}) in a log line: {line[:300]}")
            for request, text in self.answers:
                hit = next((form for form in forms if form in text), None)
                if hit and self.allowed.get(secret) != request:
                    found.append(f"{name} ({hit!r}) in the answer to {request}: {text[:300]}")
        return found


class CaptureHandler(logging.Handler):
    def __init__(self, seen: Seen) -> None:
        super().__init__(logging.DEBUG)
        self.seen = seen
        self.text = logging.Formatter("%(name)s %(levelname)s %(message)s")
        # The processors the app's structlog configuration runs, applied to standard records.
        self.json = structlog.stdlib.ProcessorFormatter(
            processor=structlog.processors.JSONRenderer(),
            foreign_pre_chain=[
                structlog.contextvars.merge_contextvars,
                structlog.processors.add_log_level,
                structlog.processors.TimeStamper(fmt="iso", utc=True),
                structlog.processors.format_exc_info,
            ],
        )

    def emit(self, record: logging.LogRecord) -> None:
        fields = {k: v for k, v in vars(record).items() if k not in ("exc_info", "msg", "args")}
        self.seen.logs += [
            self.text.format(record),
            self.json.format(record),
            f"{record.msg!r} {record.args!r} {json.dumps(fields, default=repr)}",
        ]


@contextlib.contextmanager
def every_log_line(seen: Seen, settings_level: str, settings_json: bool) -> Iterator[None]:
    """The app's logging at its most verbose (APEX_LOG_LEVEL=DEBUG, JSON), every record of every
    logger kept in `seen` besides; the app's own JSON lines go to stdout, which the test reads.
    Put back as it was afterwards."""
    handler = CaptureHandler(seen)
    root = logging.getLogger()
    loggers = [root] + [
        logger
        for logger in logging.root.manager.loggerDict.values()
        if isinstance(logger, logging.Logger)
    ]
    saved = [(logger, logger.level, logger.disabled) for logger in loggers]
    configure_logging("DEBUG", True)
    for logger in loggers:
        logger.disabled = False
        if logger is root or not logger.propagate:
            logger.addHandler(handler)
    try:
        yield
    finally:
        configure_logging(settings_level, settings_json)
        for logger, level, disabled in saved:
            logger.setLevel(level)
            logger.disabled = disabled
            logger.removeHandler(handler)


def _token(prefix: str) -> str:
    # Characters that URL-encoding changes, so that an encoded copy differs from the raw one.
    return f"{prefix}-{secrets.token_hex(10)}/+={secrets.token_hex(4)}"


@dataclass
class Secrets:
    password: str = field(default_factory=lambda: _token("password"))
    credential: str = field(default_factory=lambda: _token("credential"))
    new_credential: str = field(default_factory=lambda: _token("credential2"))
    smtp_password: str = field(default_factory=lambda: _token("smtp"))
    slack: str = field(default_factory=lambda: secrets.token_hex(16))
    api_key: str = ""  # issued by the server during the scenario
    platform: str = ""
    stripe_key: str = ""
    stripe_webhook: str = ""
    openai_key: str = ""

    def named(self) -> dict[str, str]:
        return {name: value for name, value in vars(self).items() if value}


@pytest.fixture
async def fakes(
    app: FastAPI, services: Services, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[FakeStripe, FakeOpenAI]]:
    async with live_stripe(app, services, monkeypatch) as stripe, FakeOpenAI.running() as openai:
        yield stripe, openai


@pytest.fixture
async def configured(
    app: FastAPI,
    services: Services,
    fakes: tuple[FakeStripe, FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[Secrets]:
    """The app's settings holding every kind of secret, with Stripe and OpenAI live (fakes)."""
    stripe, openai = fakes
    values = Secrets(stripe_key=stripe.api_key, stripe_webhook=stripe.webhook_secret)
    values.openai_key = openai.api_key
    settings = services.settings
    assert settings.secret_key is not None
    values.platform = settings.secret_key.get_secret_value()
    monkeypatch.setattr(settings, "openai_api_key", SecretStr(openai.api_key))
    monkeypatch.setattr(settings, "openai_base_url", openai.base_url)
    hook = f"http://127.0.0.1:{free_port()}/services/T0/B0/{values.slack}"
    monkeypatch.setattr(settings, "slack_webhook_url", SecretStr(hook))
    async with swapped_runtime(app, "ai", AiRuntime.start(services)):
        yield values


@dataclass
class Browser:
    """A client whose every answer is kept, with the request it answered."""

    http: httpx.AsyncClient
    seen: Seen
    headers: dict[str, str] = field(default_factory=dict)

    async def send(self, method: str, url: str, **kwargs: object) -> httpx.Response:
        headers = {**self.headers, **kwargs.pop("headers", {})}  # type: ignore[dict-item]
        response = await self.http.request(method, url, headers=headers, **kwargs)  # type: ignore[arg-type]
        shown = "\n".join(f"{k}: {v}" for k, v in response.headers.multi_items())
        body = response.content.decode("utf-8", "replace")
        self.seen.answers.append((f"{method} {url}", f"{shown}\n\n{body}"))
        return response


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://testserver",
        headers={"User-Agent": PHONE_BROWSER},
    )


async def _scenario(
    app: FastAPI,
    services: Services,
    values: Secrets,
    fakes: tuple[FakeStripe, FakeOpenAI],
    seen: Seen,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stripe, openai = fakes
    email = f"leaks-{secrets.token_hex(4)}@example.com"
    async with _client(app) as http, _client(app) as stranger_http:
        owner, stranger = Browser(http, seen), Browser(stranger_http, seen)
        signup = await owner.send(
            "POST",
            "/api/v1/auth/signup",
            json={"email": email, "password": values.password, "publisherName": "Leaky"},
        )
        assert signup.status_code == 201, signup.text
        owner.headers["X-CSRF-Token"] = signup.json()["csrfToken"]
        # Wrong credentials, a password typed into the email field, then the right ones.
        for body in (
            {"email": email, "password": values.password + "x"},
            {"email": values.password, "password": values.password},
            {"email": email, "password": values.password},
        ):
            await stranger.send("POST", "/api/v1/auth/login", json=body)
        # The console's form shows back what this browser typed in the email field (the page is
        # not cached): the one answer that may hold the password.
        await stranger.send(
            "POST", "/login", data={"email": values.password, "password": values.password}
        )
        seen.allowed[values.password] = "POST /login"
        logged_in = await owner.send(
            "POST", "/api/v1/auth/login", json={"email": email, "password": values.password}
        )
        assert logged_in.status_code == 200
        owner.headers["X-CSRF-Token"] = logged_in.json()["csrfToken"]

        issued = await owner.send(
            "POST",
            "/api/v1/api-keys",
            json={"name": "leak test", "scopes": ["management", "reporting"]},
        )
        assert issued.status_code == 201
        values.api_key = issued.json()["key"]
        seen.allowed[values.api_key] = "POST /api/v1/api-keys"
        keyed = Browser(stranger_http, seen, {"Authorization": f"Bearer {values.api_key}"})

        for url in (
            "/api/v1/reporting/overview",
            "/api/v1/reporting/timeseries?granularity=hour",
            "/api/v1/reporting/export.csv?report=adapters",
            f"/api/v1/reporting/overview?api_key={quote(values.api_key)}",
            "/api/v1/reporting/overview?startDate=not-a-date",
        ):
            assert (await keyed.send("GET", url)).status_code in (200, 400)
        for wrong in (f"Bearer {values.api_key}x", f"Basic {values.api_key}", values.api_key):
            answer = await stranger.send(
                "GET", "/api/v1/reporting/overview", headers={"Authorization": wrong}
            )
            assert answer.status_code == 401

        created = await keyed.send(
            "POST",
            "/api/v1/network-accounts",
            json={
                "network": "openrtb",
                "name": "bidder",
                "credentials": {"auth_header": "X-Api-Key", "auth_token": values.credential},
            },
        )
        assert created.status_code == 201, created.text
        account = f"/api/v1/network-accounts/{created.json()['id']}"
        await keyed.send("GET", account)
        await keyed.send("GET", "/api/v1/network-accounts")
        changed = await keyed.send(
            "PATCH",
            account,
            json={"credentials": {"auth_header": "X-Api-Key", "auth_token": values.new_credential}},
        )
        assert changed.status_code == 200
        refused = await keyed.send(
            "PATCH",
            account,
            json={
                "credentials": {
                    "auth_header": "X-Api-Key",
                    "auth_token": values.credential + "\r\nX-Injected: 1",
                }
            },
        )
        assert refused.status_code == 400
        await keyed.send(
            "POST",
            "/api/v1/network-accounts",
            json={"network": "admob", "name": "x", "credentials": {"app_id": values.credential}},
        )

        link = await owner.send("POST", "/api/v1/billing/payment-method")
        assert link.status_code == 200, link.text
        await owner.send("GET", "/api/v1/billing/summary")
        payload, signature = stripe.signed_event(
            "customer.updated", {"id": "cus_leaks", "object": "customer"}
        )
        hooks = Browser(stranger_http, seen)
        for sent in (signature, signature[:-4] + "beef", f"t=1,v1={values.stripe_webhook}"):
            await hooks.send(
                "POST",
                "/api/v1/billing/stripe/webhook",
                content=payload,
                headers={"Stripe-Signature": sent, "Content-Type": "application/json"},
            )
        await _ai_calls(app, services, openai, monkeypatch)
        with running_mailbox(auth=("apex", values.smtp_password)) as mailbox:
            smtp = f"smtp://apex:{quote(values.smtp_password, safe='')}@127.0.0.1:{mailbox.port}"
            monkeypatch.setattr(services.settings, "smtp_url", SecretStr(smtp))
            invited = await owner.send(
                "POST", "/settings/invitations", data={"email": "a@example.com", "role": "member"}
            )
            assert invited.status_code == 303 and mailbox.to("a@example.com")
        closed = f"smtp://apex:{quote(values.smtp_password, safe='')}@127.0.0.1:{free_port()}"
        monkeypatch.setattr(services.settings, "smtp_url", SecretStr(closed))
        await owner.send(
            "POST", "/settings/invitations", data={"email": "b@example.com", "role": "member"}
        )
        await owner.send("DELETE", f"/api/v1/api-keys/{issued.json()['id']}")
        assert (await keyed.send("GET", "/api/v1/reporting/overview")).status_code == 401


async def _ai_calls(
    app: FastAPI, services: Services, openai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One AI call that works and one that the service refuses, through the app's gateway."""
    for flag in ("enable_ai_automation", "enable_sales_ai_optimization"):
        monkeypatch.setattr(services.settings, flag, True)
    gateway = app.state.ai.gateway
    now = dt.datetime(2300, 1, 15, tzinfo=dt.UTC)  # a month of its own for the budget
    messages = [{"role": "user", "content": "summarise"}]
    await gateway.complete(Feature.SALES, messages, max_tokens=20, now=now)
    openai.fail_next(1, status=401)
    with contextlib.suppress(Exception):
        await gateway.complete(Feature.SALES, messages, max_tokens=20, now=now)


# The local mail server checks the SMTP password without TLS, as only a test server may.
@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
async def test_no_secret_reaches_logs_or_answers(
    app: FastAPI,
    services: Services,
    configured: Secrets,
    fakes: tuple[FakeStripe, FakeOpenAI],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seen = Seen()
    settings = services.settings
    with every_log_line(seen, settings.log_level, settings.log_json):
        await _scenario(app, services, configured, fakes, seen, monkeypatch)
    printed = capsys.readouterr()
    seen.logs += (printed.out + printed.err).splitlines()
    assert len(seen.answers) >= 30
    assert any('"request_id"' in line for line in printed.out.splitlines()), "no JSON log line"
    assert not seen.leaks(configured.named()), "\n".join(seen.leaks(configured.named()))


def test_encodings_find_a_secret_inside_longer_encoded_text() -> None:
    secret = "k3y/+=" + uuid.uuid4().hex
    for before in (b"", b"u", b"us", b"user:"):
        blob = base64.b64encode(before + secret.encode() + b"!tail").decode()
        assert any(form in blob for form in encodings(secret)), before
    assert any(form in quote_plus(f"x={secret}") for form in encodings(secret))
    assert not any(
        form in base64.b64encode(b"unrelated " * 5).decode() for form in encodings(secret)
    )

"""Outbox fixtures: a migrated database of the notification tests' own (the dispatcher takes
every due row, so these tests must not share the outbox with the rest of the suite), users in
it, a flaky SMTP server and a stand-in for Slack's incoming webhooks."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope, Session
from pydantic import SecretStr
from sqlalchemy import delete, select

from apex_mediation.accounts import notifications, publishers
from apex_mediation.accounts.identity import Actor
from apex_mediation.db import migrate
from apex_mediation.db.models import Membership, NotificationOutbox, User
from apex_mediation.notify.outbox import DispatchCounts, dispatch_due
from apex_mediation.settings import Settings
from apex_mediation.stores.postgres import Postgres, open_postgres
from tests.conftest import create_database, drop_database
from tests.mailbox import Mailbox, free_port


@pytest.fixture(scope="session")
def outbox_url(pg_admin_url: str) -> Iterator[str]:
    url = create_database(pg_admin_url, "apex_notify")
    migrate.upgrade(url)
    yield url
    drop_database(pg_admin_url, url)


@pytest.fixture(scope="session")
async def outbox_db(outbox_url: str, settings: Settings) -> AsyncIterator[Postgres]:
    postgres = await open_postgres(outbox_url, settings.postgres_dir, pool_size=4)
    yield postgres
    await postgres.close()


@pytest.fixture
async def pg(outbox_db: Postgres) -> Postgres:
    """The notification database with an empty outbox."""
    async with outbox_db.session() as session:
        await session.execute(delete(NotificationOutbox))
        await session.commit()
    return outbox_db


@dataclass
class FlakyMailbox(Mailbox):
    """A mailbox that answers 451 (try again later) to the next `refuse` messages."""

    refuse: int = 0
    refused: int = field(default=0)

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:
        if self.refused < self.refuse:
            self.refused += 1
            return "451 4.3.0 Mailbox busy, try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture
def mailbox() -> Iterator[FlakyMailbox]:
    box = FlakyMailbox(port=free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


def with_smtp(settings: Settings, url: str, **updates: Any) -> Settings:
    return settings.model_copy(update={"smtp_url": SecretStr(url), **updates})


@pytest.fixture
def mail_settings(settings: Settings, mailbox: FlakyMailbox) -> Settings:
    url = f"smtp://127.0.0.1:{mailbox.port}?timeout=3"
    return with_smtp(settings, url, public_url="https://apex.example")


@dataclass
class SlackStandIn:
    """Slack's incoming webhook on 127.0.0.1: answers 500 to the next `fail` posts."""

    url: str
    received: list[dict[str, Any]] = field(default_factory=list)
    fail: int = 0
    calls: int = 0


@pytest.fixture
async def slack_hook() -> AsyncIterator[SlackStandIn]:
    secret_path = f"/services/T000/B000/{secrets.token_hex(12)}"
    port = free_port()
    hook = SlackStandIn(url=f"http://127.0.0.1:{port}{secret_path}")

    async def receive(request: web.Request) -> web.Response:
        hook.calls += 1
        if hook.fail > 0:
            hook.fail -= 1
            return web.Response(status=500, text="internal_error")
        hook.received.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post(secret_path, receive)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    yield hook
    await runner.cleanup()


async def new_user(
    pg: Postgres, *, publisher_id: uuid.UUID | None = None, role: str = "owner", **prefs: bool
) -> tuple[uuid.UUID, str, uuid.UUID]:
    """A user (with a publisher of their own unless one is given) and their preferences."""
    email = f"n-{secrets.token_hex(5)}@example.com"
    async with pg.session() as session:
        if publisher_id is None:
            created = await publishers.create_publisher(
                session, name="Notify Co", owner_email=email, owner_password="notify-password-1"
            )
            user_id, publisher_id = created.owner.id, created.publisher.id
        else:
            user_id = uuid.uuid4()
            session.add(User(id=user_id, email=email, password_hash="!"))
            await session.flush()
            session.add(Membership(user_id=user_id, publisher_id=publisher_id, role=role))
        if prefs:
            me = Actor(kind="user", id=str(user_id), publisher_id=None)
            chosen = notifications.Preferences(**prefs)
            await notifications.save_preferences(session, me, chosen)
        await session.commit()
    return user_id, email, publisher_id


async def row(pg: Postgres, message_id: uuid.UUID | None) -> NotificationOutbox:
    assert message_id is not None
    async with pg.session() as session:
        found = await session.scalar(
            select(NotificationOutbox).where(NotificationOutbox.id == message_id)
        )
    assert found is not None
    return found


async def dispatch(pg: Postgres, settings: Settings, later: float = 0) -> DispatchCounts:
    """One dispatcher run, `later` seconds from now (past every backoff it should outwait)."""
    now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=later)
    return await dispatch_due(pg, settings, now=now)

"""The email outbox against a real SMTP server (aiosmtpd): queueing, delivery, retries with
backoff, the dead letter, preferences checked at send time, and concurrent dispatchers."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import uuid

import jinja2
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text

from apex_mediation.accounts import notifications
from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import NotificationOutbox
from apex_mediation.notify import outbox
from apex_mediation.services import Services
from apex_mediation.settings import Environment, Settings
from apex_mediation.stores.postgres import Postgres
from tests.mailbox import LINK, free_port
from tests.notify.conftest import FlakyMailbox, dispatch, new_user, row, with_smtp

NEWS = {
    "headline": "Bidding for CTV",
    "summary": "Apps on TVs <now> bid & win.",
    "url": "https://apex.example/blog/ctv",
}


async def queue_news(
    pg: Postgres,
    settings: Settings,
    to: str,
    user_id: uuid.UUID | None,
    *,
    category: str = "product",
    transactional: bool = False,
    dedupe_key: str | None = None,
) -> uuid.UUID | None:
    async with pg.session() as session:
        queued = await outbox.enqueue_email(
            session,
            settings,
            template="product/announcement",
            context=NEWS,
            category=category,
            to=to,
            user_id=user_id,
            transactional=transactional,
            dedupe_key=dedupe_key,
        )
        await session.commit()
    return queued


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_queued_email_arrives_as_text_and_html_with_one_click_unsubscribe(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox
) -> None:
    user_id, email, _ = await new_user(pg, product=True)
    sent_before = sample("notifications_sent_total", channel="email", category="product")
    queued = await queue_news(pg, mail_settings, email, user_id)

    assert await dispatch(pg, mail_settings) == outbox.DispatchCounts(sent=1)

    [message] = mailbox.to(email)
    assert message["Subject"] == "Bidding for CTV"
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None and html is not None
    text_body, html_body = str(plain.get_content()), str(html.get_content())
    assert "Apps on TVs <now> bid & win." in text_body  # text is not escaped
    assert "Apps on TVs &lt;now&gt; bid &amp; win." in html_body  # HTML is
    links = [link for link in LINK.findall(text_body) if "/notifications/unsubscribe" in link]
    assert len(links) == 1 and links[0].startswith("https://apex.example/notifications/")
    assert f'href="{links[0]}"' in html_body
    assert message["List-Unsubscribe"] == f"<{links[0]}>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    stored = await row(pg, queued)
    assert (stored.status, stored.attempts, stored.last_error) == ("sent", 0, None)
    assert stored.sent_at is not None and stored.body_html is not None
    after = sample("notifications_sent_total", channel="email", category="product")
    assert after == sent_before + 1
    assert sample("outbox_pending") == 0


async def test_queueing_renders_now_and_a_missing_variable_fails_the_caller(
    pg: Postgres, settings: Settings
) -> None:
    async with pg.session() as session:
        with pytest.raises(jinja2.UndefinedError, match="summary"):
            await outbox.enqueue_email(
                session,
                settings,
                template="product/announcement",
                context={"headline": "x", "url": "https://x"},
                category="product",
                to="a@example.com",
            )
        with pytest.raises(ValueError, match="unknown category"):
            await outbox.enqueue_email(
                session,
                settings,
                template="product/announcement",
                context=NEWS,
                category="weekly",
                to="a@example.com",
            )
        with pytest.raises(ValueError, match="not an email address"):
            await outbox.enqueue_email(
                session,
                settings,
                template="product/announcement",
                context=NEWS,
                category="product",
                to="a@example.com\nBcc: b@example.com",
            )


async def test_a_dedupe_key_queues_once(pg: Postgres, settings: Settings) -> None:
    first = await queue_news(pg, settings, "d@example.com", None, dedupe_key="news:ctv")
    again = await queue_news(pg, settings, "d@example.com", None, dedupe_key="news:ctv")
    assert first is not None and again is None
    async with pg.session() as session:
        count = await session.scalar(
            select(func.count()).where(NotificationOutbox.dedupe_key == "news:ctv")
        )
    assert count == 1


async def test_a_refusing_server_is_retried_with_backoff_then_delivered(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox
) -> None:
    mailbox.refuse = 2
    queued = await queue_news(pg, mail_settings, "retry@example.com", None)
    started = dt.datetime.now(dt.UTC)

    assert await dispatch(pg, mail_settings) == outbox.DispatchCounts(retried=1)
    first = await row(pg, queued)
    assert (first.status, first.attempts) == ("pending", 1)
    assert first.last_error is not None and "451" in first.last_error
    wait = (first.next_attempt_at - started).total_seconds()
    assert 24 <= wait <= 37  # 30 s ± 20 % jitter

    assert await dispatch(pg, mail_settings) == outbox.DispatchCounts()  # not due yet
    assert await dispatch(pg, mail_settings, later=40) == outbox.DispatchCounts(retried=1)
    second = await row(pg, queued)
    assert second.attempts == 2
    assert (second.next_attempt_at - first.next_attempt_at).total_seconds() >= 40

    assert await dispatch(pg, mail_settings, later=200) == outbox.DispatchCounts(sent=1)
    assert len(mailbox.to("retry@example.com")) == 1
    assert (await row(pg, queued)).status == "sent"


def test_backoff_doubles_and_is_capped_at_an_hour() -> None:
    waits = [outbox.backoff(n).total_seconds() for n in range(1, 12)]
    assert 24 <= waits[0] <= 36 and 48 <= waits[1] <= 72 and 96 <= waits[2] <= 144
    assert all(w <= 3600 for w in waits) and waits[-1] >= 2880


async def test_a_message_that_keeps_failing_goes_to_the_dead_letter_and_can_be_requeued(
    pg: Postgres, settings: Settings, mailbox: FlakyMailbox
) -> None:
    closed = f"smtp://apex:hunter2-smtp-pass@127.0.0.1:{free_port()}?timeout=2"
    down = with_smtp(settings, closed, outbox_max_attempts=3)
    dead_before = sample("notifications_dead_total", channel="email")
    queued = await queue_news(pg, down, "dead@example.com", None)

    assert await dispatch(pg, down) == outbox.DispatchCounts(retried=1)
    assert await dispatch(pg, down, later=3600) == outbox.DispatchCounts(retried=1)
    assert await dispatch(pg, down, later=7200) == outbox.DispatchCounts(dead=1)
    dead = await row(pg, queued)
    assert (dead.status, dead.attempts) == ("dead", 3) and dead.dead_at is not None
    assert dead.last_error is not None and "127.0.0.1" in dead.last_error
    assert "hunter2" not in dead.last_error
    assert sample("notifications_dead_total", channel="email") == dead_before + 1
    assert await dispatch(pg, down, later=90_000) == outbox.DispatchCounts()  # stays dead

    async with pg.session() as session:
        [listed] = await outbox.list_dead(session)
        assert (listed.id, listed.recipient, listed.attempts) == (queued, "dead@example.com", 3)
        assert await outbox.requeue_dead(session, [uuid.uuid4()]) == 0
        assert await outbox.requeue_dead(session, [listed.id]) == 1
        await session.commit()
    requeued = await row(pg, queued)
    assert (requeued.status, requeued.attempts, requeued.dead_at) == ("pending", 0, None)

    working = with_smtp(settings, f"smtp://127.0.0.1:{mailbox.port}")
    assert await dispatch(pg, working) == outbox.DispatchCounts(sent=1)
    assert len(mailbox.to("dead@example.com")) == 1


async def test_requeue_all(pg: Postgres, settings: Settings) -> None:
    async with pg.session() as session:
        for n in range(3):
            queued = await outbox.enqueue_email(
                session,
                settings,
                template="product/announcement",
                context=NEWS,
                category="product",
                to=f"all{n}@example.com",
            )
            status = "dead" if n < 2 else "sent"
            await session.execute(
                text("UPDATE notification_outbox SET status = :s WHERE id = :id"),
                {"s": status, "id": queued},
            )
        assert await outbox.requeue_dead(session, "all") == 2
        assert await outbox.list_dead(session) == []


async def test_an_unsubscribe_since_queueing_suppresses_the_message(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox
) -> None:
    user_id, email, _ = await new_user(pg, product=True)
    queued = await queue_news(pg, mail_settings, email, user_id)
    async with pg.session() as session:
        me = Actor(kind="user", id=str(user_id), publisher_id=None)
        await notifications.save_preferences(session, me, notifications.Preferences(product=False))
        await session.commit()

    assert await dispatch(pg, mail_settings) == outbox.DispatchCounts(suppressed=1)
    stored = await row(pg, queued)
    assert stored.status == "suppressed" and stored.sent_at is None
    assert stored.last_error == "the recipient turned product emails off"
    assert mailbox.to(email) == []


async def test_marketing_is_opt_in_and_transactional_mail_ignores_preferences(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox
) -> None:
    user_id, email, _ = await new_user(pg, billing=False)
    marketing = await queue_news(pg, mail_settings, email, user_id, category="marketing")
    receipt = await queue_news(
        pg, mail_settings, email, user_id, category="billing", transactional=True
    )

    assert await dispatch(pg, mail_settings) == outbox.DispatchCounts(sent=1, suppressed=1)
    assert (await row(pg, marketing)).status == "suppressed"
    assert (await row(pg, receipt)).status == "sent"
    [message] = mailbox.to(email)
    assert message["List-Unsubscribe"] is None
    assert "unsubscribe" not in message.as_string()


async def test_account_mail_is_always_transactional(pg: Postgres, settings: Settings) -> None:
    user_id, email, _ = await new_user(pg)
    queued = await queue_news(pg, settings, email, user_id, category="account")
    stored = await row(pg, queued)
    assert stored.transactional and "unsubscribe" not in stored.body_text


async def test_without_smtp_development_logs_and_production_retries(
    pg: Postgres, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="apex_mediation.notify.mail")
    dev = settings.model_copy(update={"smtp_url": None})
    logged = await queue_news(pg, dev, "log@example.com", None)
    assert await dispatch(pg, dev) == outbox.DispatchCounts(sent=1)
    stored = await row(pg, logged)
    assert stored.status == "sent" and stored.last_error is not None
    assert "written to the log" in stored.last_error
    assert "Bidding for CTV" in caplog.text

    prod = settings.model_copy(update={"smtp_url": None, "env": Environment.PRODUCTION})
    refused = await queue_news(pg, prod, "prod@example.com", None)
    assert await dispatch(pg, prod) == outbox.DispatchCounts(retried=1)
    stored = await row(pg, refused)
    assert stored.last_error is not None and "APEX_SMTP_URL is not set" in stored.last_error
    assert (stored.status, stored.attempts) == ("pending", 1)


async def test_notify_publisher_mails_owners_and_admins_who_want_it(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox
) -> None:
    owner_id, owner, publisher_id = await new_user(pg)
    admin_id, admin, _ = await new_user(pg, publisher_id=publisher_id, role="admin", alerts=False)
    _, member, _ = await new_user(pg, publisher_id=publisher_id, role="member")
    context = {"title": "Fill dropped", "detail": "Fill fell under 20 % for 30 minutes."}

    async def send(transactional: bool = False, key: str = "fill:1") -> list[uuid.UUID]:
        async with pg.session() as session:
            queued = await outbox.notify_publisher(
                session,
                mail_settings,
                publisher_id,
                template="alerts/operator_alert",
                context=context,
                category="alerts",
                transactional=transactional,
                dedupe_key=key,
            )
            await session.commit()
        return queued

    [only] = await send()
    assert await send() == []  # the same event again: already queued
    assert len(await send(transactional=True, key="fill:urgent")) == 2  # ignores preferences
    stored = await row(pg, only)
    assert (stored.recipient, stored.user_id, stored.publisher_id) == (
        owner,
        owner_id,
        publisher_id,
    )
    assert stored.dedupe_key == f"fill:1:{owner_id}"

    assert await dispatch(pg, mail_settings) == outbox.DispatchCounts(sent=3)
    assert len(mailbox.to(owner)) == 2 and len(mailbox.to(admin)) == 1
    assert mailbox.to(member) == []
    [to_admin] = mailbox.to(admin)
    assert to_admin["List-Unsubscribe"] is None  # transactional
    async with pg.session() as session:
        queued_for = await session.scalars(select(NotificationOutbox.user_id))
        assert sorted(map(str, queued_for)) == sorted(map(str, [owner_id, owner_id, admin_id]))


async def test_concurrent_dispatchers_send_each_message_once(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox
) -> None:
    queued = [await queue_news(pg, mail_settings, f"c{n}@example.com", None) for n in range(12)]

    runs = await asyncio.gather(*(dispatch(pg, mail_settings) for _ in range(3)))

    assert sum(run.sent for run in runs) == 12
    recipients = sorted(str(m["To"]) for m in mailbox.messages)
    assert recipients == sorted(f"c{n}@example.com" for n in range(12))
    assert {(await row(pg, q)).status for q in queued} == {"sent"}


async def test_a_row_locked_by_another_dispatcher_is_skipped(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox
) -> None:
    busy = await queue_news(pg, mail_settings, "busy@example.com", None)
    free = await queue_news(pg, mail_settings, "free@example.com", None)
    async with pg.session() as other_worker:  # mid-send elsewhere: holds the row's lock
        await other_worker.execute(
            select(NotificationOutbox.id).where(NotificationOutbox.id == busy).with_for_update()
        )
        assert await dispatch(pg, mail_settings) == outbox.DispatchCounts(sent=1)
    assert [m["To"] for m in mailbox.messages] == ["free@example.com"]
    assert (await row(pg, busy)).status == "pending" and (await row(pg, free)).status == "sent"
    assert await dispatch(pg, mail_settings) == outbox.DispatchCounts(sent=1)


async def test_the_dispatcher_loop_sends_in_the_background(
    pg: Postgres, mail_settings: Settings, mailbox: FlakyMailbox, services: Services
) -> None:
    fast = mail_settings.model_copy(update={"outbox_interval_s": 0.05})
    loop = outbox.dispatcher_loop(dataclasses.replace(services, settings=fast, postgres=pg))
    queued = await queue_news(pg, fast, "loop@example.com", None)
    loop.start()
    try:
        for _ in range(100):
            if mailbox.to("loop@example.com"):
                break
            await asyncio.sleep(0.05)
    finally:
        await loop.stop()
    assert len(mailbox.to("loop@example.com")) == 1
    assert (await row(pg, queued)).status == "sent"

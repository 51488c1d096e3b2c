"""Slack through the outbox, against a local stand-in for Slack's incoming webhooks."""

from __future__ import annotations

import uuid

import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from apex_mediation.notify import outbox
from apex_mediation.settings import Settings
from apex_mediation.stores.postgres import Postgres
from tests.mailbox import free_port
from tests.notify.conftest import SlackStandIn, dispatch, row

ALERT = {"title": "Fill dropped <50%", "detail": "AdMob & Meta stopped answering."}


def hooked(settings: Settings, url: str | None) -> Settings:
    return settings.model_copy(update={"slack_webhook_url": SecretStr(url) if url else None})


async def queue_alert(pg: Postgres, settings: Settings, key: str | None = None) -> uuid.UUID:
    async with pg.session() as session:
        queued = await outbox.enqueue_slack(
            session, settings, template="alerts/operator_alert", context=ALERT, dedupe_key=key
        )
        await session.commit()
    assert queued is not None
    return queued


async def test_an_alert_is_posted_to_the_webhook(
    pg: Postgres, settings: Settings, slack_hook: SlackStandIn
) -> None:
    configured = hooked(settings, slack_hook.url)
    before = REGISTRY.get_sample_value(
        "notifications_sent_total", {"channel": "slack", "category": "alerts"}
    )
    queued = await queue_alert(pg, configured)

    assert await dispatch(pg, configured) == outbox.DispatchCounts(sent=1)
    assert slack_hook.received == [
        {
            "text": "*[Apex alert] Fill dropped &lt;50%*\n"
            "Fill dropped &lt;50%\n\nAdMob &amp; Meta stopped answering."
        }
    ]
    stored = await row(pg, queued)
    assert (stored.status, stored.recipient, stored.body_html) == ("sent", "operator", None)
    secret_path = slack_hook.url.rsplit("/", 1)[1]
    assert all(secret_path not in str(v) for v in vars(stored).values())
    after = REGISTRY.get_sample_value(
        "notifications_sent_total", {"channel": "slack", "category": "alerts"}
    )
    assert after == (before or 0) + 1


async def test_a_failing_webhook_is_retried_and_the_url_never_stored(
    pg: Postgres, settings: Settings, slack_hook: SlackStandIn
) -> None:
    configured = hooked(settings, slack_hook.url)
    slack_hook.fail = 2
    queued = await queue_alert(pg, configured)

    assert await dispatch(pg, configured) == outbox.DispatchCounts(retried=1)
    failed = await row(pg, queued)
    assert failed.last_error == "SlackError: Slack answered 500: internal_error"
    assert await dispatch(pg, configured, later=40) == outbox.DispatchCounts(retried=1)
    assert await dispatch(pg, configured, later=200) == outbox.DispatchCounts(sent=1)
    assert slack_hook.calls == 3 and len(slack_hook.received) == 1
    assert (await row(pg, queued)).attempts == 2


async def test_an_unreachable_webhook_is_reported_without_its_url(
    pg: Postgres, settings: Settings
) -> None:
    url = f"http://127.0.0.1:{free_port()}/services/T1/B1/very-secret-token"
    configured = hooked(settings, url)
    queued = await queue_alert(pg, configured)
    assert await dispatch(pg, configured) == outbox.DispatchCounts(retried=1)
    stored = await row(pg, queued)
    assert stored.last_error == "SlackError: Slack webhook unreachable (ConnectError)"


async def test_without_a_webhook_slack_messages_are_suppressed(
    pg: Postgres, settings: Settings
) -> None:
    unset = hooked(settings, None)
    queued = await queue_alert(pg, unset, key="alert:fill:1")
    async with pg.session() as session:
        again = await outbox.enqueue_slack(
            session,
            unset,
            template="alerts/operator_alert",
            context=ALERT,
            dedupe_key="alert:fill:1",
        )
    assert again is None
    assert await dispatch(pg, unset) == outbox.DispatchCounts(suppressed=1)
    stored = await row(pg, queued)
    assert (stored.status, stored.last_error) == ("suppressed", "APEX_SLACK_WEBHOOK_URL is not set")


async def test_an_unknown_target_fails_when_queued(pg: Postgres, settings: Settings) -> None:
    async with pg.session() as session:
        with pytest.raises(ValueError, match="unknown Slack target 'finance'"):
            await outbox.enqueue_slack(
                session, settings, template="alerts/operator_alert", context=ALERT, target="finance"
            )

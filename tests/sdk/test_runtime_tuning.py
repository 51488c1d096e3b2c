"""The serving process follows the run-time knobs: a value stored in PostgreSQL reaches the
exchange's breakers and latency caps and the creative cache's TTL at the next refresh; the
creative URL counts what it served and what had expired."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import parse_qs, urlsplit

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import delete

from apex_mediation.accounts.identity import Actor
from apex_mediation.db.models import RuntimeSetting
from apex_mediation.sdk.beacons import creative_key
from apex_mediation.services import Services
from apex_mediation.tuning import knobs
from apex_mediation.tuning import settings as runtime_settings
from tests.sdk.conftest import Market
from tests.sdk.test_mobile_auction import ios_body

OPERATOR = Actor(kind="user", id="operator-9", publisher_id=None, is_platform_operator=True)


@pytest.fixture
async def tuned(market: Market, services: Services) -> AsyncIterator[Market]:
    """Knobs set away from their defaults for one test, then back to the defaults."""
    wanted = {
        knobs.CREATIVE_TTL.key: 120,
        knobs.BREAKER_THRESHOLD.key: 3,
        knobs.BREAKER_COOLDOWN.key: 30,
        knobs.LATENCY_MARGIN.key: 200,
    }
    async with services.postgres.session() as session:
        for key, value in wanted.items():
            await runtime_settings.set_value(session, OPERATOR, key, value, reason="test")
        await session.commit()
    try:
        yield market
    finally:
        async with services.postgres.session() as session:
            await session.execute(delete(RuntimeSetting))
            await session.commit()
        await market.app.state.auction.tuning.refresh()


def _lookups(result: str) -> float:
    return REGISTRY.get_sample_value("sdk_creative_lookups_total", {"result": result}) or 0.0


async def test_stored_values_reach_the_exchange_and_the_creative_cache(
    tuned: Market, services: Services
) -> None:
    runtime = tuned.app.state.auction
    exchange = runtime.exchange
    exchange.breakers.get("existing-before-the-change")
    assert await runtime.tuning.refresh() is True
    assert (exchange.breakers.failure_threshold, exchange.breakers.cooldown_s) == (3, 30)
    assert exchange.breakers.get("existing-before-the-change").failure_threshold == 3
    assert exchange.latency.margin == 2.0
    assert runtime.creative_ttl_s == 120
    assert await runtime.tuning.refresh() is False  # nothing changed since

    placement = await tuned.placement(bidding=[tuned.line("high")])
    body = (await tuned.post("/v1/auction", ios_body(placement))).json()
    token = parse_qs(urlsplit(body["creative_url"]).query)["token"][0]
    claims = runtime.signer.verify(token)
    key = services.cache.prefix + creative_key(claims.auction_id, claims.bid_id)
    expires_at = services.cache._entries[key].expires_at  # the cache's own deadline
    assert expires_at is not None and 100 < expires_at - time.monotonic() <= 120

    served, expired = _lookups("served"), _lookups("expired")
    async with tuned.make_client() as http:
        assert (await http.get("/v1/creative", params={"token": token})).status_code == 200
        await services.cache.delete(creative_key(claims.auction_id, claims.bid_id))
        gone = await http.get("/v1/creative", params={"token": token})
    assert gone.status_code == 410 and gone.json()["error"]["name"] == "AD_EXPIRED"
    assert (_lookups("served") - served, _lookups("expired") - expired) == (1.0, 1.0)

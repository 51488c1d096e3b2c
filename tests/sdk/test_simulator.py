"""The traffic simulator drives real auctions and beacons through the public endpoints."""

from __future__ import annotations

from apex_mediation.demo.simulator import Behaviour, Simulator
from tests.sdk.conftest import Market


async def test_simulated_installs_request_show_click_and_complete(market: Market) -> None:
    rewarded = await market.placement("rewarded", bidding=[market.line("high")])
    banner = await market.placement("banner", bidding=[market.line("never")])
    async with market.make_client() as client:
        simulator = Simulator(
            client,
            market.sdk_key,
            {rewarded: "rewarded", banner: "banner"},
            installs=20,
            behaviour=Behaviour(show_rate=1, click_rate=0.5, complete_rate=1),
            seed=7,
        )
        report = await simulator.run(rate_per_s=100, duration_s=0.4, max_requests=40)
    assert report.requests == 40
    assert report.errors == 0
    assert set(report.statuses) <= {200, 204}  # fills and no-fills, nothing else
    assert report.fills == report.statuses.get(200, 0) > 0
    assert report.impressions == report.fills
    assert 0 < report.clicks < report.impressions
    assert report.rewards == report.fills  # only the rewarded placement fills here

"""The checks themselves, on the in-process cache: scores, thresholds, each reason's trigger
and its limit, and what is never a signal (private addresses, test traffic, weak device keys)."""

from __future__ import annotations

import pytest

from apex_mediation.ivt.config import IvtConfigStore
from apex_mediation.ivt.detector import EventSignals, IvtDetector, RequestSignals
from apex_mediation.ivt.reasons import DEFAULT_WEIGHTS_PPM, GIVT, REASONS, SIVT
from apex_mediation.ivt.scoring import (
    DEFAULT_THRESHOLDS,
    Thresholds,
    bits_to_reasons,
    combine,
    decide,
    reasons_to_bits,
)
from apex_mediation.services import Services
from apex_mediation.stores.cache import MemoryCache
from apex_mediation.tracking.tokens import BeaconClaims

PUBLISHER, APP = "00000000-0000-4000-8000-0000000000aa", "00000000-0000-4000-8000-0000000000bb"
HOME = "86.12.34.56"
PHONE = "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP1A.240305.019)"
NOW = 1_800_000_000.0


def signals(**changes: object) -> RequestSignals:
    base: dict[str, object] = {
        "publisher_id": PUBLISHER,
        "app_id": APP,
        "ip": HOME,
        "user_agent": PHONE,
        "sdk_endpoint": True,
        "device_key": "a" * 24,
        "geo_country": "DE",
        "declared_country": "DE",
        "timezone": "Europe/Berlin",
        "screen_width": 1080,
        "screen_height": 2400,
    }
    return RequestSignals(**{**base, **changes})  # type: ignore[arg-type]


@pytest.fixture
def detector(services: Services) -> IvtDetector:
    return IvtDetector(IvtConfigStore(services.postgres), MemoryCache(), started_at=NOW - 60)


def test_scores_combine_as_independent_evidence() -> None:
    weights = DEFAULT_WEIGHTS_PPM
    assert combine([], weights).score_ppm == 0
    assert combine(["geo_mismatch"], weights).score_ppm == 500_000
    both = combine(["geo_mismatch", "ip_rate", "geo_mismatch"], weights)
    assert both.reasons == ("geo_mismatch", "ip_rate") and both.score_ppm == 800_000
    assert combine(["declared_bot", "ip_rate"], weights).score_ppm == 1_000_000
    assert combine(["geo_mismatch"], {**weights, "geo_mismatch": 0}).reasons == ()  # disabled
    assert bits_to_reasons(reasons_to_bits(["fast_click", "declared_bot"])) == (
        "declared_bot",
        "fast_click",
    )
    assert set(REASONS) == GIVT | SIVT and not GIVT & SIVT


def test_thresholds_decide_block_and_flag() -> None:
    geo = combine(["geo_mismatch"], DEFAULT_WEIGHTS_PPM)
    assert (decide(geo, DEFAULT_THRESHOLDS).invalid, decide(geo, DEFAULT_THRESHOLDS).blocked) == (
        True,
        False,
    )
    strict = Thresholds(block_ppm=400_000, flag_ppm=300_000)
    assert decide(geo, strict).blocked
    lenient = Thresholds(block_ppm=1_000_000, flag_ppm=600_000)
    assert not decide(geo, lenient).invalid


async def test_an_honest_request_is_clean(detector: IvtDetector) -> None:
    for n in range(10):  # an ad every five seconds: a busy player, not a bot
        verdict = await detector.check_request(signals(), NOW + 5 * n)
        assert verdict.reasons == (), n


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"user_agent": "Mozilla/5.0 (compatible; bingbot/2.0)"}, "declared_bot"),
        ({"user_agent": "python-requests/2.31.0"}, "scripted_client"),
        ({"user_agent": "HeadlessChrome/120.0", "sdk_endpoint": False}, "headless_browser"),
        ({"ip": "34.64.1.1"}, "datacenter_ip"),
        ({"prefetch": True}, "prefetch"),
        ({"screen_width": 0, "screen_height": 0}, "impossible_placement"),
        ({"geo_country": "VN"}, "geo_mismatch"),
        ({"geo_country": "US", "declared_country": "US"}, "geo_mismatch"),  # Berlin's timezone
    ],
)
async def test_each_request_reason(
    detector: IvtDetector, changes: dict[str, object], reason: str
) -> None:
    verdict = await detector.check_request(signals(**changes), NOW)
    assert verdict.reasons == (reason,)


async def test_sdk_http_clients_and_private_addresses_are_no_signal(
    detector: IvtDetector,
) -> None:
    for agent in ("okhttp/4.12.0", "MyGame/1.0 CFNetwork/1490.0.4 Darwin/23.2.0", None):
        assert (await detector.check_request(signals(user_agent=agent), NOW)).reasons == ()
    # Behind a proxy that does not forward the client's address, every request has the
    # proxy's: no rate per address, no range lookup.
    for n in range(100):
        verdict = await detector.check_request(signals(ip="10.0.0.5", device_key=None), NOW)
        assert verdict.reasons == (), n


async def test_rates_trip_past_their_limits(detector: IvtDetector) -> None:
    limits = detector.behaviour.limits
    results = [
        (await detector.check_request(signals(device_key="b" * 24), NOW + n * 0.1)).reasons
        for n in range(limits.device_requests + 1)
    ]
    assert all(r == () for r in results[:-1]) and results[-1] == ("device_rate",)
    # Past the limit, the device stays suspect after its window has moved on.
    later = await detector.check_request(signals(device_key="b" * 24), NOW + 120)
    assert later.reasons == ("device_rate",)
    many = [
        await detector.check_request(signals(device_key="c" * 24, ip=f"86.1.2.{n}"), NOW + 3 * n)
        for n in range(limits.device_ips_per_10min + 1)
    ]
    assert many[-2].reasons == () and many[-1].reasons == ("device_many_ips",)
    crowd = [
        await detector.check_request(signals(device_key=f"{n:024d}", ip="86.5.5.5"), NOW)
        for n in range(limits.ip_requests + 1)
    ]
    assert crowd[-2].reasons == () and crowd[-1].reasons == ("ip_rate",)


def claims(auction: str, device: str = "d" * 24, bits: int = 0) -> BeaconClaims:
    return BeaconClaims(1, auction, "bid", APP, "placement", "openrtb", 1_000_000, "USD", False,
                        int(NOW + 3600), device, 0, bits)  # fmt: skip


def event(c: BeaconClaims, name: str, issued: float = NOW, ip: str = HOME) -> EventSignals:
    return EventSignals(c, name, PUBLISHER, ip, PHONE, True, issued, f"seen:{c.auction_id}")


async def shown(detector: IvtDetector, c: BeaconClaims, at: float) -> tuple[str, ...]:
    """An impression as the beacon path counts it: its dedupe entry holds when it was seen."""
    await detector.behaviour.cache.set(f"seen:{c.auction_id}", repr(at).encode(), 3600)
    return (await detector.check_event(event(c, "impression"), at)).reasons


async def test_event_reasons(detector: IvtDetector) -> None:
    seen = claims("a1")
    await detector.saw_auction("a1", 3600)
    assert await shown(detector, seen, NOW) == ()
    assert (await detector.check_event(event(seen, "click"), NOW + 0.3)).reasons == ("fast_click",)
    assert (await detector.check_event(event(seen, "reward"), NOW + 2)).reasons == ("fast_reward",)
    slow = claims("a2", device="e" * 24)
    await detector.saw_auction("a2", 3600)
    await shown(detector, slow, NOW)
    assert (await detector.check_event(event(slow, "click"), NOW + 3)).reasons == ()
    assert (await detector.check_event(event(slow, "reward"), NOW + 20)).reasons == ()
    # An auction this server never ran: flagged only for tokens issued since it started.
    unknown = claims("never")
    assert (await detector.check_event(event(unknown, "impression"), NOW)).reasons == (
        "no_prior_auction",
    )
    older = event(unknown, "impression", issued=NOW - 3600)
    assert (await detector.check_event(older, NOW)).reasons == ()
    # The auction's verdict travels in the token; a replaying device stays suspect.
    flagged = claims("a3", bits=reasons_to_bits(["geo_mismatch"]))
    await detector.saw_auction("a3", 3600)
    assert (await detector.check_event(event(flagged, "impression"), NOW)).reasons == (
        "geo_mismatch",
    )
    await detector.replayed(seen)
    later = claims("a4")
    await detector.saw_auction("a4", 3600)
    assert (await detector.check_event(event(later, "impression"), NOW + 60)).reasons == (
        "replayed_token",
    )
    # A weak device key (guessed from address and user agent) is never a replayer.
    weak = claims("a5", device="x" + "f" * 23)
    await detector.replayed(weak)
    await detector.saw_auction("a5", 3600)
    assert (await detector.check_event(event(weak, "impression"), NOW + 60)).reasons == ()

"""Bidder calls reach public addresses only, unless private ones are allowed (dev, demo, tests)."""

from __future__ import annotations

import pytest

from apex_mediation.auction.adapters.base import HttpCall
from apex_mediation.auction.egress import EgressDenied, PublicOnlyResolver, check_url, is_public
from apex_mediation.auction.transport import BidderTransport
from apex_mediation.demo.bidders import BidderProfile, DemoBidders


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("192.168.0.1", False),
        ("169.254.169.254", False),
        ("::1", False),
        ("fd00::1", False),
        ("100.64.0.1", False),
        ("::ffff:127.0.0.1", False),
        ("0.0.0.0", False),
        ("224.0.0.1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(address) is public


def test_ip_literals_in_urls() -> None:
    check_url("https://8.8.8.8/bid")
    check_url("https://bidder.example.com/bid")  # names are checked when they resolve
    for url in ("http://127.0.0.1:8080/x", "http://[::1]/x", "http://169.254.169.254/latest"):
        with pytest.raises(EgressDenied):
            check_url(url)


async def test_names_resolving_to_private_addresses_are_refused() -> None:
    resolver = PublicOnlyResolver()
    with pytest.raises(EgressDenied, match="no public address"):
        await resolver.resolve("localhost", 80)
    await resolver.close()


async def test_transport_refuses_a_local_bidder_unless_allowed() -> None:
    bidders = DemoBidders(
        [
            BidderProfile(
                "b", bid_rate=1, latency_median_ms=1, latency_sigma=0, price_sigma=0, error_rate=0
            )
        ]
    )
    await bidders.start()
    call = HttpCall(
        "POST",
        bidders.endpoint("b"),
        {"Content-Type": "application/json"},
        b'{"id":"1","imp":[{"id":"1"}]}',
    )
    strict, relaxed = BidderTransport(allow_private=False), BidderTransport(allow_private=True)
    try:
        with pytest.raises(EgressDenied):
            await strict.send(call, 1.0)
        by_name = HttpCall(
            "POST", call.url.replace("127.0.0.1", "localhost"), call.headers, call.body
        )
        with pytest.raises(OSError):
            await strict.send(by_name, 1.0)
        assert (await relaxed.send(call, 1.0)).status == 200
    finally:
        await strict.close()
        await relaxed.close()
        await bidders.stop()

"""Redaction of a request that may not be personalised, and IP truncation."""

from __future__ import annotations

import msgspec
import pytest

from apex_mediation.auction.model import AuctionRequest, Device, Privacy
from apex_mediation.privacy import Decision, apply, truncate_ip

REQUEST = AuctionRequest(
    request_id="r-1",
    placement_id="p-1",
    ad_format="banner",
    platform="ios",
    app_id="app-1",
    device=Device(
        os="ios",
        ip="203.0.113.77",
        user_agent="UA/1.0",
        ifa="6D92078A-8246-4BA4-AE5B-76104861E7DC",
        ifa_type="idfa",
        att_status=3,
        screen_width=1170,
    ),
    privacy=Privacy(gdpr_applies=False, us_privacy="1YNN"),
    install_id="install-1",
)
STRIPPED = Decision(allowed=True, personalised=False, reasons=("lmt: limit ad tracking",))


def test_apply_personalised_is_untouched() -> None:
    decision = Decision(allowed=True, personalised=True)
    assert apply(REQUEST, decision) is REQUEST


@pytest.mark.parametrize(
    "decision", [STRIPPED, Decision(allowed=False, personalised=False, reasons=("x",))]
)
def test_apply_strips_ids_and_truncates_ip(decision: Decision) -> None:
    redacted = apply(REQUEST, decision)
    assert redacted.device.ifa is None
    assert redacted.device.ifa_type is None
    assert redacted.install_id is None
    assert redacted.device.ip == "203.0.113.0"
    # everything else as it was, and the original untouched
    assert redacted.device.user_agent == "UA/1.0"
    assert redacted.device.screen_width == 1170
    assert redacted.privacy == REQUEST.privacy
    assert (
        msgspec.structs.replace(
            redacted,
            install_id="install-1",
            device=msgspec.structs.replace(
                redacted.device,
                ip="203.0.113.77",
                ifa="6D92078A-8246-4BA4-AE5B-76104861E7DC",
                ifa_type="idfa",
            ),
        )
        == REQUEST
    )
    assert REQUEST.device.ifa is not None
    assert REQUEST.install_id == "install-1"


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("::ffff:10.1.2.3", "::ffff:10.1.2.0"),
        ("not an ip", None),
        ("", None),
        (None, None),
    ],
)
def test_apply_ip_forms(ip: str | None, expected: str | None) -> None:
    request = msgspec.structs.replace(REQUEST, device=Device(ip=ip))
    assert apply(request, STRIPPED).device.ip == expected


@pytest.mark.parametrize(
    ("ip", "expected"),
    [
        ("192.168.1.123", "192.168.1.0"),
        ("8.8.8.8", "8.8.8.0"),
        ("10.0.0.0", "10.0.0.0"),
        ("255.255.255.255", "255.255.255.0"),
        (" 1.2.3.4 ", "1.2.3.0"),
        ("2001:db8:abcd:12:1:2:3:4", "2001:db8:abcd::"),
        ("2001:0db8:0000:ffff::1", "2001:db8::"),
        ("2a00:1450:4001:81c::200e", "2a00:1450:4001::"),
        ("::1", "::"),
        ("fe80::1%eth0", "fe80::"),
        ("::ffff:192.0.2.128", "::ffff:192.0.2.0"),
    ],
)
def test_truncate_ip(ip: str, expected: str) -> None:
    assert truncate_ip(ip) == expected


@pytest.mark.parametrize("ip", ["", "1.2.3", "256.1.1.1", "::g", "example.com"])
def test_truncate_ip_rejects_non_addresses(ip: str) -> None:
    with pytest.raises(ValueError, match="does not appear to be"):
        truncate_ip(ip)

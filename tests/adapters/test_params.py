"""Each network's params and credentials models, with valid and invalid examples.

An invalid example is paired with the field that its error message must name, so that a publisher
reading the message knows what to fix.
"""

from __future__ import annotations

from typing import Any

import pytest

from apex_mediation.auction.adapters.registry import (
    ADAPTERS,
    validate_credentials,
    validate_params,
)

Invalid = tuple[dict[str, Any], str]

ADMOB_UNIT = "ca-app-pub-3940256099942544/6300978111"
HEX24 = "5f3c2a1b9d8e7f6a5b4c3d2e"

# network -> (valid params, invalid params, valid credentials, invalid credentials)
CASES: dict[
    str, tuple[list[dict[str, Any]], list[Invalid], list[dict[str, Any]], list[Invalid]]
] = {
    "openrtb": (
        [
            {"endpoint": "https://bidder.example/ortb"},
            {"endpoint": "https://bidder.example:8443/ortb?src=apex", "tagid": "t", "seat": "s"},
            {"endpoint": "http://127.0.0.1:8099/bid"},
            {"endpoint": "http://localhost/bid"},
            {"endpoint": "http://[::1]:8080/bid"},
        ],
        [
            ({}, "endpoint"),
            ({"endpoint": "http://bidder.example/ortb"}, "endpoint"),
            ({"endpoint": "ftp://bidder.example/ortb"}, "endpoint"),
            ({"endpoint": "https://user:pw@bidder.example/ortb"}, "endpoint"),
            ({"endpoint": "bidder.example/ortb"}, "endpoint"),
            ({"endpoint": 5}, "endpoint"),
            ({"endpoint": "https://bidder.example", "tagid": 7}, "tagid"),
            ({"endpoint": "https://bidder.example", "tag_id": "x"}, "tag_id"),
        ],
        [
            {},
            {"auth_header": "X-Api-Key", "auth_token": "k-1"},
            {"auth_header": "Authorization", "auth_token": "Bearer abc"},
        ],
        [
            ({"auth_header": "X-Api-Key"}, "auth_token"),
            ({"auth_token": "k-1"}, "auth_header"),
            ({"auth_header": "Bad Header", "auth_token": "k"}, "auth_header"),
            ({"auth_header": "Host", "auth_token": "evil.example"}, "auth_header"),
            ({"auth_header": "X-Api-Key", "auth_token": "k\r\nX-Other: 1"}, "auth_token"),
            ({"auth_header": "X-Api-Key", "auth_token": "k", "extra": "1"}, "extra"),
        ],
    ),
    "admob": (
        [{"ad_unit_id": ADMOB_UNIT}],
        [
            ({}, "ad_unit_id"),
            ({"ad_unit_id": "6300978111"}, "ad_unit_id"),
            ({"ad_unit_id": "ca-app-pub-3940256099942544~3347511713"}, "ad_unit_id"),
            ({"ad_unit_id": ADMOB_UNIT, "format": "banner"}, "format"),
        ],
        [{}, {"app_id": "ca-app-pub-3940256099942544~3347511713"}],
        [({"app_id": ADMOB_UNIT}, "app_id")],
    ),
    "applovin": (
        [{"zone_id": "a1b2c3d4e5f60718"}],
        [({}, "zone_id"), ({"zone_id": "zone id"}, "zone_id")],
        [{"sdk_key": "A" * 86}],
        [({}, "sdk_key"), ({"sdk_key": "key with spaces"}, "sdk_key")],
    ),
    "meta": (
        [{"placement_id": "1234567890123456_7890123456789012"}],
        [({}, "placement_id"), ({"placement_id": "7890123456789012"}, "placement_id")],
        [{}],
        [({"app_secret": "s"}, "app_secret")],
    ),
    "unity": (
        [{"placement_id": "Rewarded_Android"}, {"placement_id": "video"}],
        [({}, "placement_id"), ({"placement_id": ""}, "placement_id")],
        [{"game_id": "1234567"}],
        [({}, "game_id"), ({"game_id": "abc"}, "game_id"), ({"game_id": 1234567}, "game_id")],
    ),
    "ironsource": (
        [{"instance_id": "0"}, {"instance_id": "4213"}],
        [
            ({}, "instance_id"),
            ({"instance_id": 0}, "instance_id"),
            ({"instance_id": "x"}, "instance_id"),
        ],
        [{"app_key": "85460dcd"}],
        [({}, "app_key"), ({"app_key": "85460dcd!"}, "app_key")],
    ),
    "mintegral": (
        [{"placement_id": "290653", "ad_unit_id": "462374"}],
        [
            ({"placement_id": "290653"}, "ad_unit_id"),
            ({"placement_id": "p", "ad_unit_id": "1"}, "placement_id"),
        ],
        [{"app_id": "144002", "app_key": "7c22942b749fe6a6e361b675e96b3ee9"}],
        [({"app_id": "144002"}, "app_key"), ({"app_id": "144002", "app_key": "short"}, "app_key")],
    ),
    "pangle": (
        [{"placement_id": "980088188"}],
        [({}, "placement_id"), ({"placement_id": "slot-1"}, "placement_id")],
        [{"app_id": "8025677"}],
        [({}, "app_id"), ({"app_id": "8025677", "token": "t"}, "token")],
    ),
    "vungle": (
        [{"placement_reference_id": "DEFAULT-1234567"}],
        [
            ({}, "placement_reference_id"),
            ({"placement_reference_id": "a b"}, "placement_reference_id"),
        ],
        [{"app_id": HEX24}],
        [({}, "app_id"), ({"app_id": HEX24 + "0"}, "app_id")],
    ),
    "inmobi": (
        [{"plc": "1598991608990"}, {"plc": "1", "endpoint": "http://127.0.0.1:9000/bid"}],
        [
            ({}, "plc"),
            ({"plc": 1598991608990}, "plc"),
            ({"plc": "abc"}, "plc"),
            ({"plc": "1", "endpoint": "http://inmobi.example/bid"}, "endpoint"),
        ],
        [{}],
        [({"account_id": "4028cb8b2c3a0b45012c406824e800ba"}, "account_id")],
    ),
    "chartboost": (
        [{"location": "Default"}, {"location": "Level Complete"}],
        [({}, "location"), ({"location": " leading space"}, "location")],
        [
            {
                "app_id": "4f7b433509b6025804000002",
                "app_signature": "dd2d41b69ac01b80f443f5b6cf06096d457f82bd",
            }
        ],
        [
            ({"app_id": "4f7b433509b6025804000002"}, "app_signature"),
            (
                {"app_id": "x", "app_signature": "dd2d41b69ac01b80f443f5b6cf06096d457f82bd"},
                "app_id",
            ),
        ],
    ),
    "dtexchange": (
        [{"placement_id": "150942"}],
        [
            ({}, "placement_id"),
            ({"placement_id": "spot"}, "placement_id"),
            ({"spot_id": "1"}, "spot_id"),
        ],
        [{"app_id": "102960"}],
        [({}, "app_id"), ({"app_id": "app-1"}, "app_id")],
    ),
    "moloco": (
        [{"ad_unit_id": "moloco_rewarded_ios"}],
        [({}, "ad_unit_id"), ({"ad_unit_id": "unit/1"}, "ad_unit_id")],
        [{"app_key": "XyZ1234567890abcdefg"}],
        [({}, "app_key"), ({"app_key": "k"}, "app_key")],
    ),
}


def _examples(kind: int) -> list[tuple[str, Any]]:
    return [(network, example) for network, case in CASES.items() for example in case[kind]]


def test_every_network_has_examples() -> None:
    assert set(CASES) == set(ADAPTERS)


@pytest.mark.parametrize(("network", "params"), _examples(0))
def test_valid_params(network: str, params: dict[str, Any]) -> None:
    assert validate_params(network, params) == []


@pytest.mark.parametrize(("network", "example"), _examples(1))
def test_invalid_params(network: str, example: Invalid) -> None:
    params, field = example
    errors = validate_params(network, params)
    assert len(errors) == 1
    assert field in errors[0]


@pytest.mark.parametrize(("network", "credentials"), _examples(2))
def test_valid_credentials(network: str, credentials: dict[str, Any]) -> None:
    assert validate_credentials(network, credentials) == []


@pytest.mark.parametrize(("network", "example"), _examples(3))
def test_invalid_credentials(network: str, example: Invalid) -> None:
    credentials, field = example
    errors = validate_credentials(network, credentials)
    assert len(errors) == 1
    assert field in errors[0]
    assert "k-1" not in errors[0] and "evil" not in errors[0]  # a secret is never echoed

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
import struct
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import nacl.exceptions
import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from apex_mediation.sdk.config_document import (
    MAX_FLOOR_MICROS,
    AdapterConfigInput,
    AppConfigInput,
    FeaturesInput,
    PlacementConfigInput,
    SignedConfig,
    build_config,
    canonical_json,
    in_rollout,
)
from apex_mediation.sdk.config_signing import (
    KeyRing,
    create_key,
    load_keyring,
    public_keys_document,
)

APP_ID = "0b7e6c1e-3f7a-4a57-9a39-1b1e3f0c2d4e"
NOW_MS = 1_740_830_400_000
NOW = dt.datetime.fromtimestamp(NOW_MS / 1000, dt.UTC)


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    create_key(tmp_path)
    return load_keyring(tmp_path)


def _placement(**overrides: Any) -> PlacementConfigInput:
    values: dict[str, Any] = {
        "placement_id": "pl_home-banner",
        "ad_format": "banner",
        "enabled_networks": ["admob", "unity"],
        "timeout_ms": 800,
        "floor_price_micros": 1_500_000,
        "refresh_interval_s": 30,
    }
    return PlacementConfigInput(**{**values, **overrides})


def _adapter(**overrides: Any) -> AdapterConfigInput:
    values: dict[str, Any] = {
        "name": "admob",
        "enabled": True,
        "priority": 1,
        "params": {"appId": "ca-app-pub-123~456"},
        "supports_s2s": False,
        "required_credential_keys": ["account_id"],
    }
    return AdapterConfigInput(**{**values, **overrides})


def _input(**overrides: Any) -> AppConfigInput:
    values: dict[str, Any] = {
        "app_id": APP_ID,
        "version": 3,
        "placements": [_placement()],
        "adapters": [_adapter(), _adapter(name="unity", priority=2, params={})],
        "features": FeaturesInput(rollout_percent=25),
    }
    return AppConfigInput(**{**values, **overrides})


def _sdk_verify_key(ring: KeyRing, key_id: str) -> nacl.signing.VerifyKey:
    """What a client does: take the key named by the body's keyId from GET /v1/config/keys."""
    entry = public_keys_document(ring, NOW)["keys"][key_id]
    raw = base64.b64decode(entry["raw"])
    # Ed25519 SPKI is a fixed 12-byte prefix then the raw key, so both forms agree.
    assert base64.b64decode(entry["spki"])[12:] == raw
    return nacl.signing.VerifyKey(raw)


def _served(config: SignedConfig) -> dict[str, Any]:
    """The body as a client parses it off the wire."""
    parsed: dict[str, Any] = json.loads(json.dumps(config.body))
    return parsed


# -- signatures, verified with libsodium (PyNaCl), independent of `cryptography` ------------------


def test_signature_verifies_as_the_android_sdk_checks_it(ring: KeyRing) -> None:
    body = _served(build_config(_input(), ring, NOW_MS))
    # The Android SDK rebuilds these bytes from the parsed fields, in this order, no spaces.
    message = (
        f'{{"config_id":"{body["configId"]}","version":{body["version"]},'
        f'"timestamp":{body["timestamp"]}}}'
    ).encode()
    expected = '{"config_id":"0b7e6c1e3f7a4a579a391b1e3f0c2d4e-v3","version":3,"timestamp":%d}'
    assert message == (expected % NOW_MS).encode()

    _sdk_verify_key(ring, body["keyId"]).verify(message, base64.b64decode(body["signature"]))


def test_payload_signature_verifies_over_the_canonical_body(ring: KeyRing) -> None:
    config = build_config(_input(), ring, NOW_MS)
    body = _served(config)
    unsigned = {k: v for k, v in body.items() if k not in ("signature", "payloadSignature")}

    payload = canonical_json(unsigned)

    assert payload == config.payload
    assert "keyId" in unsigned
    _sdk_verify_key(ring, body["keyId"]).verify(payload, base64.b64decode(body["payloadSignature"]))


def test_a_tampered_body_fails_payload_verification(ring: KeyRing) -> None:
    body = _served(build_config(_input(), ring, NOW_MS))
    body["placements"]["pl_home-banner"]["floorPrice"] = 0.01
    unsigned = {k: v for k, v in body.items() if k not in ("signature", "payloadSignature")}
    key = _sdk_verify_key(ring, body["keyId"])

    with pytest.raises(nacl.exceptions.BadSignatureError):
        key.verify(canonical_json(unsigned), base64.b64decode(body["payloadSignature"]))
    # Why payloadSignature exists: the legacy signature does not cover the change.
    message = json.dumps(
        {"config_id": body["configId"], "version": body["version"], "timestamp": body["timestamp"]},
        separators=(",", ":"),
    ).encode()
    key.verify(message, base64.b64decode(body["signature"]))


def test_build_is_deterministic_and_the_etag_follows_the_payload(ring: KeyRing) -> None:
    first = build_config(_input(), ring, NOW_MS)
    again = build_config(_input(), ring, NOW_MS)
    changed = build_config(_input(version=4), ring, NOW_MS)

    assert first.body == again.body and first.etag == again.etag
    assert first.etag == f'"{hashlib.sha256(first.payload).hexdigest()}"'
    assert first.digest == hashlib.sha256(first.payload).hexdigest()
    assert changed.etag != first.etag


# -- body shape -------------------------------------------------------------------------------


def test_body_fields_and_types(ring: KeyRing) -> None:
    body = build_config(_input(), ring, NOW_MS).body

    assert body["configId"] == "0b7e6c1e3f7a4a579a391b1e3f0c2d4e-v3"
    assert (body["version"], body["timestamp"], body["keyId"]) == (3, NOW_MS, ring.active.key_id)
    assert body["placements"] == {
        "pl_home-banner": {
            "placementId": "pl_home-banner",
            "adType": "BANNER",
            "enabledNetworks": ["admob", "unity"],
            "timeoutMs": 800,
            "maxWaitMs": 1800,
            "floorPrice": 1.5,
            "refreshInterval": 30,
        }
    }
    assert body["adapters"]["admob"] == {
        "name": "admob",
        "enabled": True,
        "priority": 1,
        "params": {"appId": "ca-app-pub-123~456"},
        "supportsS2S": False,
        "requiredCredentialKeys": ["account_id"],
    }
    assert body["features"] == {
        "telemetryEnabled": True,
        "crashReportingEnabled": True,
        "debugLoggingEnabled": False,
        "experimentalFeaturesEnabled": False,
        "killSwitch": False,
        "rolloutPercent": 25,
    }
    assert b'"floorPrice":1.5' in build_config(_input(), ring, NOW_MS).payload


def test_refresh_interval_is_omitted_when_unset(ring: KeyRing) -> None:
    inp = _input(placements=[_placement(refresh_interval_s=None)])
    assert (
        "refreshInterval"
        not in build_config(inp, ring, NOW_MS).body["placements"]["pl_home-banner"]
    )


@pytest.mark.parametrize(
    ("ad_format", "ad_type"),
    [
        ("banner", "BANNER"),
        ("interstitial", "INTERSTITIAL"),
        ("rewarded", "REWARDED"),
        ("native", "NATIVE"),
        ("app_open", "APP_OPEN"),
    ],
)
def test_ad_type_mapping(ring: KeyRing, ad_format: str, ad_type: str) -> None:
    inp = _input(placements=[_placement(ad_format=ad_format)])
    assert build_config(inp, ring, NOW_MS).body["placements"]["pl_home-banner"]["adType"] == ad_type


@pytest.mark.parametrize(("timeout", "max_wait"), [(1, 1001), (800, 1800), (30_000, 31_000)])
def test_max_wait_is_the_timeout_plus_a_margin(ring: KeyRing, timeout: int, max_wait: int) -> None:
    inp = _input(placements=[_placement(timeout_ms=timeout)])
    placement = build_config(inp, ring, NOW_MS).body["placements"]["pl_home-banner"]
    assert placement["maxWaitMs"] == max_wait <= 60_000


@pytest.mark.parametrize(
    ("micros", "json_number"),
    [
        (0, "0"),
        (1, "0.000001"),
        (10_000, "0.01"),
        (100_000, "0.1"),
        (1_500_000, "1.5"),
        (2_000_000, "2"),
        (123_456_789, "123.456789"),
        (MAX_FLOOR_MICROS, "999999999.999999"),
    ],
)
def test_floor_price_is_exact(ring: KeyRing, micros: int, json_number: str) -> None:
    config = build_config(_input(placements=[_placement(floor_price_micros=micros)]), ring, NOW_MS)
    assert f'"floorPrice":{json_number},'.encode() in config.payload
    assert Decimal(repr(config.body["placements"]["pl_home-banner"]["floorPrice"])) == Decimal(
        json_number
    )


@given(st.integers(min_value=0, max_value=MAX_FLOOR_MICROS))
def test_every_floor_in_range_survives_as_a_double(micros: int) -> None:
    payload = canonical_json(float(Decimal(micros).scaleb(-6)))
    assert Decimal(payload.decode()) == Decimal(micros).scaleb(-6)


# -- validation -------------------------------------------------------------------------------

BAD_INPUTS: list[tuple[str, dict[str, Any]]] = [
    ("app_id", {"app_id": "app/1"}),
    ("app_id", {"app_id": ""}),
    ("app_id", {"app_id": "---"}),
    ("version", {"version": 0}),
    ("version", {"version": True}),
    ("placementId", {"placements": [_placement(placement_id="home banner")]}),
    ("placementId", {"placements": [_placement(placement_id="é")]}),
    ("placements", {"placements": [_placement(), _placement()]}),
    ("adType", {"placements": [_placement(ad_format="video")]}),
    ("adType", {"placements": [_placement(ad_format="BANNER")]}),
    ("timeoutMs", {"placements": [_placement(timeout_ms=0)]}),
    ("timeoutMs", {"placements": [_placement(timeout_ms=30_001)]}),
    ("floorPrice", {"placements": [_placement(floor_price_micros=-1)]}),
    ("floorPrice", {"placements": [_placement(floor_price_micros=MAX_FLOOR_MICROS + 1)]}),
    ("floorPrice", {"placements": [_placement(floor_price_micros=1.5)]}),
    ("refreshInterval", {"placements": [_placement(refresh_interval_s=0)]}),
    ("refreshInterval", {"placements": [_placement(refresh_interval_s=3_601)]}),
    ("enabledNetworks", {"placements": [_placement(enabled_networks=["admob", "admob"])]}),
    ("enabledNetworks", {"placements": [_placement(enabled_networks=["ad mob"])]}),
    ("adapters.name", {"adapters": [_adapter(name="")]}),
    ("adapters", {"adapters": [_adapter(), _adapter()]}),
    ("adapters.admob.priority", {"adapters": [_adapter(priority=2**31)]}),
    ("adapters.admob.enabled", {"adapters": [_adapter(enabled=1)]}),
    ("adapters.admob.params.app id", {"adapters": [_adapter(params={"app id": "x"})]}),
    ("adapters.admob.params.appId", {"adapters": [_adapter(params={"appId": 5})]}),
    ("rolloutPercent", {"features": FeaturesInput(rollout_percent=101)}),
    ("rolloutPercent", {"features": FeaturesInput(rollout_percent=-1)}),
    ("killSwitch", {"features": FeaturesInput(kill_switch=None)}),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("field_name", "overrides"), BAD_INPUTS)
def test_out_of_range_inputs_name_the_field(
    ring: KeyRing, field_name: str, overrides: dict[str, Any]
) -> None:
    with pytest.raises(ValueError, match="^" + re.escape(field_name)):
        build_config(_input(**overrides), ring, NOW_MS)


@pytest.mark.parametrize("now_ms", [0, -1, 2**53])
def test_timestamp_must_be_positive(ring: KeyRing, now_ms: int) -> None:
    with pytest.raises(ValueError, match=r"^timestamp"):
        build_config(_input(), ring, now_ms)


@pytest.mark.parametrize(
    "param", ["apiKey", "app_key", "access_token", "client_secret", "Password", "SDKKEY"]
)
def test_secret_looking_params_are_refused(ring: KeyRing, param: str) -> None:
    inp = _input(adapters=[_adapter(params={param: "abc"})])
    with pytest.raises(ValueError, match="secret"):
        build_config(inp, ring, NOW_MS)


def test_ids_from_the_database_are_accepted(ring: KeyRing) -> None:
    placement_id = str(uuid.uuid4())
    inp = _input(placements=[_placement(placement_id=placement_id)])
    assert placement_id in build_config(inp, ring, NOW_MS).body["placements"]


# -- JCS (RFC 8785) ---------------------------------------------------------------------------


def test_jcs_rfc_8785_example() -> None:
    # RFC 8785 §3.2.2, parsed from its JSON text.
    text = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        '"string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        '"literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"\u20ac$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(text)) == expected.encode("utf-8")


def test_jcs_sorts_keys_by_utf16_code_units() -> None:
    # RFC 8785 §3.2.3: the emoji (surrogates D83D..) sorts before U+FB33, unlike code points.
    keys = ["\u20ac", "\r", "\ufb33", "1", "\U0001f600", "\u0080", "\u00f6"]
    order = ["\r", "1", "\u0080", "\u00f6", "\u20ac", "\U0001f600", "\ufb33"]
    out = canonical_json({k: 0 for k in keys}).decode("utf-8")
    assert out == "{" + ",".join(f"{json.dumps(k, ensure_ascii=False)}:0" for k in order) + "}"
    assert out.startswith('{"\\r":0,"1":0,')


def _double(hex_bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(hex_bits))[0]
    return value


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (0.0, "0"),
        (-0.0, "0"),
        (1.5, "1.5"),
        (0.1, "0.1"),
        (-2.5, "-2.5"),
        (1e21, "1e+21"),
        (1e20, "100000000000000000000"),
        (1e-6, "0.000001"),
        (1e-7, "1e-7"),
        (100.0, "100"),
        (0, "0"),
        (-1, "-1"),
        (2**53 - 1, "9007199254740991"),
        (10**20, "100000000000000000000"),
        (10**21, "1e+21"),
        (70900769127964810, "70900769127964810"),  # a double's digits, as json.loads returns them
        # RFC 8785 Appendix B, by IEEE bit pattern.
        (_double("0000000000000001"), "5e-324"),
        (_double("7fefffffffffffff"), "1.7976931348623157e+308"),
        (_double("4340000000000000"), "9007199254740992"),
        (_double("c340000000000000"), "-9007199254740992"),
        (_double("4430000000000000"), "295147905179352830000"),
        (_double("44b52d02c7e14af5"), "9.999999999999997e+22"),
        (_double("44b52d02c7e14af6"), "1e+23"),
        (_double("44b52d02c7e14af7"), "1.0000000000000001e+23"),
        (_double("444b1ae4d6e2ef4e"), "999999999999999700000"),
        (_double("444b1ae4d6e2ef50"), "1e+21"),
        (_double("3eb0c6f7a0b5ed8c"), "9.999999999999997e-7"),
        (_double("3eb0c6f7a0b5ed8d"), "0.000001"),
        (_double("41b3de4355555553"), "333333333.3333332"),
        (_double("41b3de4355555557"), "333333333.33333343"),
        (_double("becbf647612f3696"), "-0.0000033333333333333333"),
        (_double("43143ff3c1cb0959"), "1424953923781206.2"),
    ],
)
def test_jcs_numbers(value: float, expected: str) -> None:
    assert canonical_json(value) == expected.encode()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("\u0001\u001f", '"\\u0001\\u001f"'),
        ("\b\f\n\r\t", '"\\b\\f\\n\\r\\t"'),
        ("\u007f\u2028/", '"\u007f\u2028/"'),
        ('"\\', '"\\"\\\\"'),
        ("é😀", '"é😀"'),
    ],
)
def test_jcs_strings(value: str, expected: str) -> None:
    assert canonical_json(value) == expected.encode("utf-8")


def test_jcs_whitespace_and_nesting() -> None:
    value = {"b": [1, {"d": None, "c": True}], "a": {}, "e": []}
    assert canonical_json(value) == b'{"a":{},"b":[1,{"c":true,"d":null}],"e":[]}'


@pytest.mark.parametrize(
    ("value", "error"),
    [
        (math.nan, ValueError),
        (math.inf, ValueError),
        ([-math.inf], ValueError),
        (2**53 + 1, ValueError),
        (10**400, ValueError),
        ("\ud800", ValueError),
        ({"\udfff": 1}, ValueError),
        ({1: "a"}, TypeError),
        ({1, 2}, TypeError),
        (b"x", TypeError),
    ],
)
def test_jcs_rejects(value: object, error: type[Exception]) -> None:
    with pytest.raises(error):
        canonical_json(value)


_TEXT = st.text(st.characters(exclude_categories=["Cs"]))
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | _TEXT,
    lambda children: st.lists(children) | st.dictionaries(_TEXT, children),
    max_leaves=30,
)


@given(_JSON)
def test_jcs_is_a_fixed_point_through_a_json_parser(value: object) -> None:
    once = canonical_json(value)
    assert canonical_json(json.loads(once)) == once


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_jcs_numbers_round_trip_exactly(value: float) -> None:
    assert float(canonical_json(value)) == value


# -- staged rollout ---------------------------------------------------------------------------


def test_rollout_uses_the_documented_hash() -> None:
    install_id = "6f1c2b0e-install"
    bucket = int.from_bytes(hashlib.sha256(install_id.encode()).digest()[:8], "big") % 100
    assert not in_rollout(install_id, bucket)
    assert in_rollout(install_id, bucket + 1)


def test_rollout_distribution_and_stability() -> None:
    ids = [str(uuid.UUID(int=i * 7919 + 1)) for i in range(10_000)]
    chosen = [i for i in ids if in_rollout(i, 30)]
    assert 2_800 <= len(chosen) <= 3_200
    assert chosen == [i for i in ids if in_rollout(i, 30)]
    # Widening a rollout only adds installs: nobody flips out when the percentage grows.
    assert set(chosen) <= {i for i in ids if in_rollout(i, 50)}
    assert not any(in_rollout(i, 0) for i in ids)
    assert all(in_rollout(i, 100) for i in ids)


@pytest.mark.parametrize("percent", [-1, 101, True])
def test_rollout_percent_range(percent: int) -> None:
    with pytest.raises(ValueError, match="rolloutPercent"):
        in_rollout("x", percent)


def test_inputs_are_immutable() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        _placement().timeout_ms = 5  # type: ignore[misc]

"""The signed SDK config body of `GET /v1/config/{appId}` (PROTOCOL.md §5), from plain data.

Two signatures by the active key: `signature` covers only `{"config_id","version","timestamp"}`
(what the published Android SDK verifies), so `payloadSignature` covers the whole body in RFC 8785
canonical JSON. Building is deterministic — Ed25519 signatures are too — so the same input, key
and timestamp always give the same bytes and ETag.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from apex_mediation.sdk.config_signing import KeyRing

AD_TYPES = {
    "banner": "BANNER",
    "interstitial": "INTERSTITIAL",
    "rewarded": "REWARDED",
    "native": "NATIVE",
    "app_open": "APP_OPEN",
}
MAX_TIMEOUT_MS = 30_000
MAX_WAIT_MS = 60_000
# The SDK waits a little past the auction budget for the response to travel back.
MAX_WAIT_MARGIN_MS = 1_000
MAX_REFRESH_INTERVAL_S = 3_600
# Up to 15 significant digits a decimal survives the trip through an IEEE double unchanged.
MAX_FLOOR_MICROS = 10**15 - 1
INT32_MAX = 2**31 - 1
# Ids become JSON keys and the signed config_id: this alphabet encodes identically everywhere.
_ID = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
_PARAM_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_SECRET_WORDS = ("key", "token", "secret", "password")
# Up to here every integer is exactly an IEEE double, so it prints as its own digits.
_MAX_SAFE_INT = 2**53 - 1


@dataclass(frozen=True)
class PlacementConfigInput:
    placement_id: str
    ad_format: str  # one of AD_TYPES' keys, as stored in placements.format
    enabled_networks: list[str]
    timeout_ms: int
    floor_price_micros: int
    refresh_interval_s: int | None = None


@dataclass(frozen=True)
class AdapterConfigInput:
    name: str
    enabled: bool
    priority: int
    # Shipped to every device in clear text: never a credential.
    params: dict[str, str] = field(default_factory=dict)
    supports_s2s: bool = False
    required_credential_keys: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FeaturesInput:
    telemetry_enabled: bool = True
    crash_reporting_enabled: bool = True
    debug_logging_enabled: bool = False
    experimental_features_enabled: bool = False
    kill_switch: bool = False
    rollout_percent: int = 100


@dataclass(frozen=True)
class AppConfigInput:
    app_id: str
    version: int
    placements: list[PlacementConfigInput]
    adapters: list[AdapterConfigInput]
    features: FeaturesInput = field(default_factory=FeaturesInput)


@dataclass(frozen=True)
class SignedConfig:
    body: dict[str, Any]
    # Canonical JSON of the body without the two signatures: what payloadSignature covers.
    payload: bytes
    etag: str

    @property
    def digest(self) -> str:
        """sha256 hex of the payload, for app_config_versions.payload_digest."""
        return hashlib.sha256(self.payload).hexdigest()


def build_config(inp: AppConfigInput, ring: KeyRing, now_ms: int) -> SignedConfig:
    """Build and sign the config body.

    `now_ms` becomes `timestamp` and is signed: pass the time this config version was created
    (not the request time) so that rebuilding gives identical bytes and the ETag stays valid.
    """
    app_id = _id("app_id", inp.app_id)
    if not app_id.replace("-", ""):
        raise ValueError(f"app_id: {app_id!r} has nothing left for configId without dashes")
    version = _int("version", inp.version, 1, INT32_MAX)
    timestamp = _int("timestamp", now_ms, 1, _MAX_SAFE_INT)
    config_id = f"{app_id.replace('-', '')}-v{version}"
    key = ring.active
    body: dict[str, Any] = {
        "configId": config_id,
        "version": version,
        "timestamp": timestamp,
        "placements": _placements(inp.placements),
        "adapters": _adapters(inp.adapters),
        "features": _features(inp.features),
        "keyId": key.key_id,
    }
    payload = canonical_json(body)
    body["signature"] = key.sign(signature_bytes(config_id, version, timestamp))
    body["payloadSignature"] = key.sign(payload)
    return SignedConfig(body=body, payload=payload, etag=f'"{hashlib.sha256(payload).hexdigest()}"')


def signature_bytes(config_id: str, version: int, timestamp: int) -> bytes:
    """What `signature` covers: compact JSON in this key order, as the Android SDK rebuilds it."""
    compact = {"config_id": config_id, "version": version, "timestamp": timestamp}
    return json.dumps(compact, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def in_rollout(install_id: str, rollout_percent: int) -> bool:
    """Whether an install is in a staged rollout: hash(installId) mod 100 < rolloutPercent.

    hash = the first 8 bytes of sha256(UTF-8 install id) read as a big-endian unsigned integer;
    SDKs must compute the same. Over 2**64 values the modulo bias is negligible.
    """
    percent = _int("rolloutPercent", rollout_percent, 0, 100)
    bucket = int.from_bytes(hashlib.sha256(install_id.encode("utf-8")).digest()[:8], "big") % 100
    return bucket < percent


# -- sections -----------------------------------------------------------------------------------


def _placements(items: Sequence[PlacementConfigInput]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in items:
        pid = _id("placementId", p.placement_id)
        if pid in out:
            raise ValueError(f"placements: duplicate placement id {pid!r}")
        ad_type = AD_TYPES.get(p.ad_format)
        if ad_type is None:
            raise ValueError(f"adType: unknown ad format {p.ad_format!r} for placement {pid}")
        timeout = _int("timeoutMs", p.timeout_ms, 1, MAX_TIMEOUT_MS)
        entry: dict[str, Any] = {
            "placementId": pid,
            "adType": ad_type,
            "enabledNetworks": _id_list("enabledNetworks", p.enabled_networks),
            "timeoutMs": timeout,
            "maxWaitMs": min(timeout + MAX_WAIT_MARGIN_MS, MAX_WAIT_MS),
            "floorPrice": _floor_price(p.floor_price_micros),
        }
        if p.refresh_interval_s is not None:
            entry["refreshInterval"] = _int(
                "refreshInterval", p.refresh_interval_s, 1, MAX_REFRESH_INTERVAL_S
            )
        out[pid] = entry
    return out


def _adapters(items: Sequence[AdapterConfigInput]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for a in items:
        name = _id("adapters.name", a.name)
        if name in out:
            raise ValueError(f"adapters: duplicate adapter {name!r}")
        out[name] = {
            "name": name,
            "enabled": _bool(f"adapters.{name}.enabled", a.enabled),
            "priority": _int(f"adapters.{name}.priority", a.priority, -INT32_MAX - 1, INT32_MAX),
            "params": _params(name, a.params),
            "supportsS2S": _bool(f"adapters.{name}.supportsS2S", a.supports_s2s),
            "requiredCredentialKeys": _id_list(
                f"adapters.{name}.requiredCredentialKeys", a.required_credential_keys
            ),
        }
    return out


def _features(f: FeaturesInput) -> dict[str, Any]:
    return {
        "telemetryEnabled": _bool("telemetryEnabled", f.telemetry_enabled),
        "crashReportingEnabled": _bool("crashReportingEnabled", f.crash_reporting_enabled),
        "debugLoggingEnabled": _bool("debugLoggingEnabled", f.debug_logging_enabled),
        "experimentalFeaturesEnabled": _bool(
            "experimentalFeaturesEnabled", f.experimental_features_enabled
        ),
        "killSwitch": _bool("killSwitch", f.kill_switch),
        "rolloutPercent": _int("rolloutPercent", f.rollout_percent, 0, 100),
    }


def _params(adapter: str, params: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in params.items():
        where = f"adapters.{adapter}.params.{k}"
        if not isinstance(k, str) or not _PARAM_KEY.match(k):
            raise ValueError(f"{where}: keys must be 1-128 characters of [A-Za-z0-9_.-]")
        # The body is public to every device; a secret-looking name means a credential leaked
        # into the wrong place, and those belong in the server-side network account.
        if any(word in k.lower() for word in _SECRET_WORDS):
            raise ValueError(f"{where}: looks like a secret; credentials never go in the config")
        if not isinstance(v, str):
            raise ValueError(f"{where}: values must be strings")
        out[k] = v
    return out


def _floor_price(micros: int) -> float:
    value = _int("floorPrice", micros, 0, MAX_FLOOR_MICROS)
    # Decimal division is exact; float() rounds it once to the nearest double, whose shortest
    # representation (what JSON encoders print) is that decimal again: 1_500_000 -> 1.5.
    exact = Decimal(value).scaleb(-6)
    price = float(exact)
    if Decimal(repr(price)) != exact:
        raise ValueError(f"floorPrice: {exact} is not exact as a JSON number")
    return price


# -- checks -------------------------------------------------------------------------------------


def _int(name: str, value: object, low: int, high: int) -> int:
    # bool is an int subclass; True as a version or timeout is a caller's bug.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name}: {value} is outside {low}..{high}")
    return value


def _bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name}: expected a boolean, got {value!r}")
    return value


def _id(name: str, value: object) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise ValueError(f"{name}: {value!r} must be 1-128 characters of [A-Za-z0-9_-]")
    return value


def _id_list(name: str, values: Sequence[str]) -> list[str]:
    out = [_id(name, v) for v in values]
    if len(set(out)) != len(out):
        raise ValueError(f"{name}: duplicate entries in {out}")
    return out


# -- RFC 8785 JSON Canonicalization Scheme ------------------------------------------------------


def canonical_json(obj: object) -> bytes:
    """RFC 8785 (JCS) bytes: sorted keys, no whitespace, UTF-8, ECMAScript number form.

    Supports dict (str keys), list/tuple, str, int, float, bool and None. Raises ValueError for
    NaN/Infinity, integers that would come out as a different number (JCS numbers are IEEE
    doubles) and strings with lone surrogates; TypeError for other types.
    """
    parts: list[str] = []
    _encode(obj, parts)
    return "".join(parts).encode("utf-8")


def _encode(obj: object, out: list[str]) -> None:
    if obj is None:
        out.append("null")
    elif obj is True:
        out.append("true")
    elif obj is False:
        out.append("false")
    elif isinstance(obj, int):
        out.append(str(obj) if abs(obj) <= _MAX_SAFE_INT else _large_int(obj))
    elif isinstance(obj, float):
        out.append(_number(obj))
    elif isinstance(obj, str):
        out.append(_string(obj))
    elif isinstance(obj, Mapping):
        for k in obj:
            if not isinstance(k, str):
                raise TypeError(f"JSON object keys must be strings, got {k!r}")
        # JCS orders keys by their UTF-16 code units, which differs from code point order
        # above U+FFFF; big-endian UTF-16 bytes compare in exactly that order.
        keys = sorted(obj, key=_utf16)
        out.append("{")
        for i, k in enumerate(keys):
            if i:
                out.append(",")
            out.append(_string(k))
            out.append(":")
            _encode(obj[k], out)
        out.append("}")
    elif isinstance(obj, list | tuple):
        out.append("[")
        for i, item in enumerate(obj):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    else:
        raise TypeError(f"{type(obj).__name__} is not a JSON value")


def _utf16(text: str) -> bytes:
    try:
        return text.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise ValueError(f"string {text!r} is not valid Unicode") from exc


def _string(text: str) -> str:
    _utf16(text)  # rejects lone surrogates, which have no UTF-8 form
    # Python's encoder with ensure_ascii=False escapes exactly what ECMAScript JSON.stringify
    # does: '"', '\\', \b \f \n \r \t by name, other controls as lower-case \u00xx.
    return json.dumps(text, ensure_ascii=False)


def _large_int(value: int) -> str:
    # JCS numbers are doubles, so a large integer prints as its nearest double does. Accepted
    # when that is the same number: exactly equal (10**21 -> 1e+21), or the integer is already
    # that double's shortest digits (70900769127964810, as a JSON parser hands JCS output back).
    # Refused otherwise (2**53 + 1) rather than silently changed.
    try:
        as_double = float(value)
    except OverflowError:
        raise ValueError(f"integer {value} is too large for a JSON number") from None
    text = _number(as_double)
    if as_double != value and text != str(value):
        raise ValueError(f"integer {value} is not exactly representable as a JSON number")
    return text


def _number(value: float) -> str:
    """ECMAScript Number::toString for a finite double (RFC 8785 §3.2.2.3)."""
    if not math.isfinite(value):
        raise ValueError(f"{value} is not a JSON number")
    if value == 0:
        return "0"  # -0 too
    # repr() gives the shortest digits that round-trip, as ECMAScript requires.
    sign, digits_t, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)  # finite, so never 'n' or 'F'
    digits = "".join(map(str, digits_t))
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        e = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        text = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return ("-" if sign else "") + text

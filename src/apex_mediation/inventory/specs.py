"""Validated inputs for apps, placements and network accounts.

Strict on purpose: numbers must be JSON numbers and flags JSON booleans (no "1" or true taken as
a number), and unknown fields are refused, so a typo in a field name is an error rather than a
silently ignored setting. Field names are camelCase on the wire.
"""

from __future__ import annotations

import re
import uuid
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

Platform = Literal["android", "ios", "unity", "web", "ctv"]
AdFormat = Literal["banner", "interstitial", "rewarded", "native", "app_open"]
AuctionType = Literal["first_price", "second_price"]
NetworkName = Annotated[StrictStr, Field(pattern=r"^[a-z][a-z0-9_]{1,39}$")]
Name = Annotated[StrictStr, Field(min_length=1, max_length=200)]
Micros = Annotated[StrictInt, Field(ge=0, le=1_000_000_000_000)]  # up to $1M CPM
ParamValue = StrictStr | StrictInt | StrictFloat | StrictBool

COUNTRY = re.compile(r"^[A-Z]{2}$")
BUNDLE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


class Spec(BaseModel):
    model_config = ConfigDict(
        extra="forbid", alias_generator=to_camel, populate_by_name=True, str_strip_whitespace=True
    )


def _bundle_id(value: str) -> str:
    if not BUNDLE_ID.match(value):
        raise ValueError("bundle id may hold letters, digits, '.', '_' and '-' only")
    return value


def _domain(value: str) -> str:
    if not DOMAIN.match(value.lower()):
        raise ValueError(f"{value!r} is not a domain name")
    return value.lower()


def _origin(value: str) -> str:
    parts = urlsplit(value)
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise ValueError(f"{value!r} is not an origin like https://example.com")
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}"


def _origins(values: list[str]) -> list[str]:
    return sorted({_origin(v) for v in values})


BundleId = Annotated[StrictStr, Field(max_length=255), AfterValidator(_bundle_id)]
Domain = Annotated[StrictStr, Field(max_length=253), AfterValidator(_domain)]
Origins = Annotated[list[StrictStr], Field(max_length=50), AfterValidator(_origins)]


class AppSpec(Spec):
    name: Name
    platform: Platform
    bundle_id: BundleId | None = None
    domain: Domain | None = None
    allowed_origins: Origins = []
    test_mode: StrictBool = False

    @model_validator(mode="after")
    def _identity(self) -> AppSpec:
        if self.platform == "web" and not self.domain:
            raise ValueError("a web app needs its domain")
        if self.platform in ("android", "ios", "unity") and not self.bundle_id:
            raise ValueError(f"an {self.platform} app needs its bundle id (bundleId)")
        return self


class AppPatch(Spec):
    """Partial update: only the fields present change."""

    name: Name | None = None
    bundle_id: BundleId | None = None
    domain: Domain | None = None
    allowed_origins: Origins | None = None
    test_mode: StrictBool | None = None
    status: Literal["active", "disabled"] | None = None


class WaterfallLineSpec(Spec):
    network: NetworkName
    priority: Annotated[StrictInt, Field(ge=0, le=10_000)]
    params: dict[Annotated[str, Field(max_length=100)], ParamValue] = {}
    ecpm_micros: Micros | None = None
    network_account_id: uuid.UUID | None = None
    enabled: StrictBool = True


class BiddingLineSpec(Spec):
    network: NetworkName
    params: dict[Annotated[str, Field(max_length=100)], ParamValue] = {}
    network_account_id: uuid.UUID | None = None
    enabled: StrictBool = True


class PlacementConfig(Spec):
    floor_cpm_micros: Micros = 0
    country_floors: dict[str, Micros] = {}
    timeout_ms: Annotated[StrictInt, Field(ge=1, le=30_000)] = 800
    auction_type: AuctionType = "first_price"
    refresh_interval_s: Annotated[StrictInt, Field(ge=10, le=3600)] | None = None
    # Pacing, counted per device at impression time: None means no cap.
    fcap_per_hour: Annotated[StrictInt, Field(ge=1, le=10_000)] | None = None
    fcap_per_day: Annotated[StrictInt, Field(ge=1, le=100_000)] | None = None
    min_interval_s: Annotated[StrictInt, Field(ge=1, le=86_400)] | None = None
    bidding: Annotated[list[BiddingLineSpec], Field(max_length=50)] = []
    waterfall: Annotated[list[WaterfallLineSpec], Field(max_length=100)] = []

    @field_validator("country_floors")
    @classmethod
    def _countries(cls, floors: dict[str, int]) -> dict[str, int]:
        for code in floors:
            if not COUNTRY.match(code):
                raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code like 'US'")
        return floors

    @field_validator("waterfall")
    @classmethod
    def _distinct_priorities(cls, lines: list[WaterfallLineSpec]) -> list[WaterfallLineSpec]:
        seen: set[int] = set()
        for line in lines:
            if line.priority in seen:
                raise ValueError(f"two waterfall lines have priority {line.priority}")
            seen.add(line.priority)
        return sorted(lines, key=lambda line: line.priority)


class PlacementSpec(Spec):
    name: Name
    app_id: uuid.UUID
    format: AdFormat
    config: PlacementConfig = PlacementConfig()


class PlacementReplace(Spec):
    """PUT: the config is replaced as a whole; name and format may change, the app may not."""

    name: Name | None = None
    format: AdFormat | None = None
    enabled: StrictBool | None = None
    config: PlacementConfig


Credentials = Annotated[
    dict[
        Annotated[str, Field(min_length=1, max_length=100)],
        Annotated[StrictStr, Field(max_length=4096)],
    ],
    Field(max_length=20),
]
BidAdjustment = Annotated[StrictInt, Field(gt=0, le=10_000_000)]


class NetworkAccountSpec(Spec):
    network: NetworkName
    name: Name
    credentials: Credentials = {}
    bid_adjustment_ppm: BidAdjustment = 1_000_000
    enabled: StrictBool = True


class NetworkAccountPatch(Spec):
    name: Name | None = None
    # Replaces the stored credentials as a whole when present (write-only: never read back).
    credentials: Credentials | None = None
    bid_adjustment_ppm: BidAdjustment | None = None
    enabled: StrictBool | None = None

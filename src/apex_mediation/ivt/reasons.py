"""Why a request or an event is invalid: each reason, its class (GIVT or SIVT, per the MRC/IAB
split), and its default weight, the score it contributes on its own.

Scores combine as independent evidence: score = 1 - prod(1 - weight). A GIVT reason is certain
enough to block alone (weight 1.0); SIVT reasons are behavioural and weigh less, so that one weak
signal (a traveller's timezone, one fast click) flags without blocking, and several together
block. Weights are configurable per reason (ivt_rules); these are the shipped defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Category = Literal["givt", "sivt"]


@dataclass(frozen=True)
class Reason:
    name: str
    category: Category
    weight: float
    description: str


_ALL = (
    # -- GIVT: known-invalid by declaration or origin --------------------------------------
    Reason("declared_bot", "givt", 1.0, "a bot or spider by its user agent"),
    Reason("headless_browser", "givt", 1.0, "a headless or automated browser"),
    Reason("scripted_client", "givt", 1.0, "an HTTP library, not a browser or an app SDK"),
    Reason("datacenter_ip", "givt", 1.0, "an address in a data-centre or cloud range"),
    Reason("prefetch", "givt", 1.0, "a browser pre-fetch or pre-render, not a view"),
    Reason("impossible_placement", "givt", 1.0, "an ad that cannot fit the declared screen"),
    Reason("blocklisted", "givt", 1.0, "on an operator's or the publisher's block-list"),
    # -- SIVT: behaviour over sliding windows ----------------------------------------------
    Reason("device_rate", "sivt", 0.9, "more requests from one device than a person makes"),
    Reason("ip_rate", "sivt", 0.6, "more requests from one address than plausible"),
    Reason("impression_rate", "sivt", 0.9, "more impressions from one device than plausible"),
    Reason("device_many_ips", "sivt", 0.7, "one device seen on many addresses"),
    Reason("fast_click", "sivt", 0.6, "a click too soon after its impression"),
    Reason("click_burst", "sivt", 0.9, "many clicks from one device in a short time"),
    Reason("replayed_token", "sivt", 0.6, "a beacon sent again with the same token"),
    Reason("no_prior_auction", "sivt", 1.0, "an event for an auction this server never ran"),
    Reason("geo_mismatch", "sivt", 0.5, "the address's country contradicts the device's"),
    Reason("fast_reward", "sivt", 0.9, "a rewarded completion faster than the video"),
)

REASONS: dict[str, Reason] = {reason.name: reason for reason in _ALL}
# Each reason's bit in a beacon token's `ivt_bits`: its place in _ALL, so new reasons are added
# at the end and none is ever removed or reordered (issued tokens would change meaning).
BITS: dict[str, int] = {reason.name: bit for bit, reason in enumerate(_ALL)}
DEFAULT_WEIGHTS_PPM: dict[str, int] = {r.name: round(r.weight * 1_000_000) for r in _ALL}
GIVT = frozenset(r.name for r in _ALL if r.category == "givt")
SIVT = frozenset(r.name for r in _ALL if r.category == "sivt")

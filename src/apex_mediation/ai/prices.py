"""Model prices and the cost of a call, in integer micro-dollars.

Prices are micro-dollars per million tokens (`APEX_AI_PRICES`, `model=input:output,…`). A
call's reservation is its worst case: every prompt byte counted as a token (byte-level BPE
never yields more tokens than bytes) plus a per-message allowance, and the full `max_tokens` of
output. Costs round up to the micro, so the ledger never under-counts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

PER_MESSAGE_TOKENS = 4  # role and separators
PER_REQUEST_TOKENS = 3  # the assistant's priming


class PriceError(ValueError):
    """The price table is malformed, or a model has no price (no call without one)."""


@dataclass(frozen=True)
class Price:
    input_per_mtok: int
    output_per_mtok: int

    def cost_micros(self, prompt_tokens: int, completion_tokens: int) -> int:
        total = prompt_tokens * self.input_per_mtok + completion_tokens * self.output_per_mtok
        return -(-total // 1_000_000)


def parse_prices(text: str) -> dict[str, Price]:
    prices: dict[str, Price] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        model, sep, rest = item.partition("=")
        given, sep2, taken = rest.partition(":")
        if not sep or not sep2 or not model.strip():
            raise PriceError(f"APEX_AI_PRICES: {item!r} is not model=input:output")
        try:
            price = Price(int(given), int(taken))
        except ValueError as exc:
            raise PriceError(f"APEX_AI_PRICES: {item!r} has a non-integer price") from exc
        if price.input_per_mtok < 0 or price.output_per_mtok < 0:
            raise PriceError(f"APEX_AI_PRICES: {item!r} has a negative price")
        prices[model.strip()] = price
    return prices


def price_of(prices: Mapping[str, Price], model: str) -> Price:
    try:
        return prices[model]
    except KeyError:
        raise PriceError(
            f"model {model!r} has no price in APEX_AI_PRICES; calls to it are refused"
        ) from None


def prompt_token_bound(messages: Sequence[Mapping[str, str]]) -> int:
    """An upper bound on the prompt's tokens, without a tokenizer."""
    return PER_REQUEST_TOKENS + sum(
        PER_MESSAGE_TOKENS + len(str(m.get("content", "")).encode()) + len(str(m.get("role", "")))
        for m in messages
    )

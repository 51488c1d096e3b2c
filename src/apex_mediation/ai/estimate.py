"""Expected monthly AI spend per feature, from configured call counts and token sizes
(`APEX_AI_USAGE`, `feature=calls_per_customer_per_month:prompt_tokens:completion_tokens`) at the
model's price. Exact arithmetic (fractions of a micro-dollar) until the end, then each figure
rounded half-up to the cent; with the shipped defaults at 100 customers: sales $2.77, with growth
$5.54, with self-evolving $8.31 — and $831 at 10,000."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from apex_mediation.ai.features import Feature
from apex_mediation.ai.prices import PriceError, parse_prices, price_of
from apex_mediation.settings import Settings

ROLLOUT_ORDER = (Feature.SALES, Feature.GROWTH, Feature.SELF_EVOLVING)


@dataclass(frozen=True)
class Usage:
    calls_per_customer: int  # per month
    prompt_tokens: int
    completion_tokens: int


@dataclass(frozen=True)
class Estimate:
    feature: Feature
    cents: int  # this feature alone
    cumulative_cents: int  # this feature and those rolled out before it


def parse_usage(text: str) -> dict[Feature, Usage]:
    usage: dict[Feature, Usage] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, _, numbers = item.partition("=")
        try:
            feature = Feature(name.strip())
            calls, prompt, completion = (int(n) for n in numbers.split(":"))
        except ValueError as exc:
            raise PriceError(
                f"APEX_AI_USAGE: {item!r} is not feature=calls:prompt_tokens:completion_tokens "
                f"(features: {', '.join(f.value for f in Feature)})"
            ) from exc
        usage[feature] = Usage(calls, prompt, completion)
    return usage


def _cents(micros: Fraction) -> int:
    return int((micros / 10_000 + Fraction(1, 2)) // 1)


def estimate(settings: Settings, customers: int) -> list[Estimate]:
    if customers < 0:
        raise ValueError("customers must not be negative")
    price = price_of(parse_prices(settings.ai_prices), settings.openai_model)
    usage = parse_usage(settings.ai_usage)
    results = []
    running = Fraction(0)
    for feature in ROLLOUT_ORDER:
        u = usage.get(feature, Usage(0, 0, 0))
        per_call = Fraction(
            u.prompt_tokens * price.input_per_mtok + u.completion_tokens * price.output_per_mtok,
            1_000_000,
        )
        micros = per_call * u.calls_per_customer * customers
        running += micros
        results.append(Estimate(feature, _cents(micros), _cents(running)))
    return results


def dollars(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"

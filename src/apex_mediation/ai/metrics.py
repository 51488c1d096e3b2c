"""The AI metrics the seed's alerts watch. Spend and budget gauges are read from PostgreSQL (so
every process reports the month's true figures); counters count this process's calls."""

from __future__ import annotations

from prometheus_client import Counter, Gauge

from apex_mediation.ai.features import Feature

monthly_spend_dollars = Gauge(
    "openai_monthly_spend_dollars", "AI spend this calendar month, by feature", ["feature"]
)
monthly_budget_dollars = Gauge("openai_monthly_budget_dollars", "The monthly AI budget")
spend_dollars_total = Counter(
    "openai_spend_dollars_total", "AI spend settled by this process, by feature", ["feature"]
)
requests_total = Counter(
    "openai_requests_total",
    "AI calls by feature and outcome (ok, error, refused)",
    ["feature", "outcome"],
)
requests_blocked_total = Counter(
    "openai_requests_blocked_total",
    "AI calls refused before sending (disabled, budget)",
    ["feature", "reason"],
)


def publish(budget_micros: int, spent_by_feature: dict[str, int]) -> None:
    monthly_budget_dollars.set(budget_micros / 1_000_000)
    for feature in Feature:
        monthly_spend_dollars.labels(feature.value).set(
            spent_by_feature.get(feature.value, 0) / 1_000_000
        )

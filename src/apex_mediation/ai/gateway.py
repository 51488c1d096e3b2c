"""The only path to OpenAI. Callers name their feature; the gateway decides (flags), reserves
the worst case against the budget, calls the API through the official SDK, settles the real
cost, writes the ledger, updates the metrics and raises the budget alerts.

Callers handle three errors: `AiDisabled` (the flags say no), `AiBudgetExceeded` (the hard
limit: nothing was sent) and `AiUnavailable` (not configured, no price, or the API failed);
each feature has a rule-based path for when AI is not there.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import openai
from sqlalchemy import update

from apex_mediation.ai import alerts, budget, flags, metrics
from apex_mediation.ai.features import Feature
from apex_mediation.ai.prices import PriceError, parse_prices, price_of, prompt_token_bound
from apex_mediation.db.models import AiSpendEntry
from apex_mediation.settings import Settings
from apex_mediation.stores.postgres import Postgres

MAX_ERROR_CHARS = 300


class AiError(Exception):
    """Base class: the call was not answered; the caller uses its rule-based path."""


class AiDisabled(AiError):
    pass


class AiBudgetExceeded(AiError):
    pass


class AiUnavailable(AiError):
    pass


@dataclass(frozen=True)
class Completion:
    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    cost_micros: int


class AiGateway:
    def __init__(self, postgres: Postgres, settings: Settings) -> None:
        self._postgres = postgres
        self._settings = settings
        self._prices = parse_prices(settings.ai_prices)
        key = settings.openai_api_key
        self._client = (
            openai.AsyncOpenAI(
                api_key=key.get_secret_value(),
                base_url=settings.openai_base_url,
                timeout=settings.openai_timeout_s,
                max_retries=0,  # a retry would be a second call against the same reservation
            )
            if key is not None
            else None
        )

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.close()

    async def enabled(self, feature: Feature) -> bool:
        """Whether `feature` may call AI now (callers skip building prompts otherwise)."""
        async with self._postgres.session() as session:
            return flags.allows(await flags.effective(session, self._settings), feature)

    async def complete(
        self,
        feature: Feature,
        messages: Sequence[Mapping[str, str]],
        *,
        max_tokens: int,
        model: str | None = None,
        temperature: float = 0.2,
        now: dt.datetime | None = None,
    ) -> Completion:
        now = now or dt.datetime.now(dt.UTC)
        month = budget.month_of(now)
        model = model or self._settings.openai_model
        if not await self.enabled(feature):
            metrics.requests_blocked_total.labels(feature.value, "disabled").inc()
            raise AiDisabled(
                f"AI for {feature.value} is off (ENABLE_AI_AUTOMATION and {feature.flag})"
            )
        if self._client is None:
            raise AiUnavailable("OPENAI_API_KEY is not set")
        if not 1 <= max_tokens <= 16_384:
            raise ValueError("max_tokens must be between 1 and 16384")
        try:
            price = price_of(self._prices, model)
        except PriceError as exc:
            raise AiUnavailable(str(exc)) from exc
        worst = price.cost_micros(prompt_token_bound(messages), max_tokens)
        entry_id = await self._reserve(feature, model, month, worst, now)
        try:
            response = await self._client.chat.completions.create(
                model=model,
                messages=[dict(m) for m in messages],  # type: ignore[misc]
                max_tokens=max_tokens,
                temperature=temperature,
            )
        except openai.APIError as exc:
            # OpenAI bills nothing for a request it failed: the reservation is released whole.
            await self._settle(feature, entry_id, month, worst, 0, None, "error", _short(exc))
            metrics.requests_total.labels(feature.value, "error").inc()
            raise AiUnavailable(f"the AI service failed: {_short(exc)}") from exc
        except BaseException:
            # Cancelled mid-call: it may have been billed, so the worst case is charged.
            await asyncio.shield(
                self._settle(feature, entry_id, month, worst, worst, None, "error", "cancelled")
            )
            raise
        usage = response.usage
        prompt = usage.prompt_tokens if usage else prompt_token_bound(messages)
        completion = usage.completion_tokens if usage else max_tokens
        cost = price.cost_micros(prompt, completion)
        await self._settle(feature, entry_id, month, worst, cost, (prompt, completion), "ok", None)
        metrics.requests_total.labels(feature.value, "ok").inc()
        text = response.choices[0].message.content if response.choices else None
        return Completion(text or "", model, prompt, completion, cost)

    async def _reserve(
        self, feature: Feature, model: str, month: dt.date, worst: int, now: dt.datetime
    ) -> object:
        async with self._postgres.session() as session:
            granted = await budget.reserve(session, self._settings, month, worst)
            entry = AiSpendEntry(
                month=month,
                feature=feature.value,
                model=model,
                outcome="reserved" if granted else "refused",
                reserved_micros=worst if granted else 0,
                cost_micros=None if granted else 0,
                error=None if granted else "budget: the hard limit would be passed",
                created_at=now,
                settled_at=None if granted else now,
            )
            session.add(entry)
            if granted is None:
                current = await budget.standing(session, self._settings, now)
                if await budget.claim_alert(session, month, "hard"):
                    await alerts.send(session, self._settings, "hard", current)
            await session.commit()
            if granted is None:
                metrics.requests_blocked_total.labels(feature.value, "budget").inc()
                metrics.requests_total.labels(feature.value, "refused").inc()
                raise AiBudgetExceeded(
                    f"the monthly AI budget's hard limit is reached ({current.spent_micros} of "
                    f"{current.hard_micros} micro-dollars spent or reserved); the call was "
                    "not sent"
                )
            return entry.id

    async def _settle(
        self,
        feature: Feature,
        entry_id: object,
        month: dt.date,
        reserved: int,
        cost: int,
        tokens: tuple[int, int] | None,
        outcome: str,
        error: str | None,
    ) -> None:
        async with self._postgres.session() as session:
            after = await budget.settle(session, self._settings, month, reserved, cost)
            await session.execute(
                update(AiSpendEntry)
                .where(AiSpendEntry.id == entry_id)
                .values(
                    outcome=outcome,
                    cost_micros=cost,
                    prompt_tokens=tokens[0] if tokens else None,
                    completion_tokens=tokens[1] if tokens else None,
                    error=error,
                    settled_at=dt.datetime.now(dt.UTC),
                )
            )
            for threshold in budget.crossed(after.spent_micros - cost, after.spent_micros, after):
                if await budget.claim_alert(session, month, threshold):
                    await alerts.send(session, self._settings, threshold, after)
            await session.commit()
            metrics.spend_dollars_total.labels(feature.value).inc(cost / 1_000_000)
            metrics.publish(after.budget_micros, await budget.spent_by_feature(session, month))


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:MAX_ERROR_CHARS]

"""With ENABLE_SELF_EVOLVING_AI: the model explains each open proposal in plain words and ranks
them, from the evidence the system gathered. Its answer is stored as advice for the operator and
never executed; the ranking is parsed strictly (a number per known record) and ignored when it
does not parse."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select

from apex_mediation.ai.features import Feature
from apex_mediation.ai.gateway import AiError, AiGateway
from apex_mediation.db.models import OptimizationRecord
from apex_mediation.stores.postgres import Postgres

MAX_EXPLANATION_CHARS = 800
_LINE = re.compile(r"^\s*(\d+)\s*[.)]\s*\[(\d+)\]\s*(.+)$")


async def explain_open(postgres: Postgres, gateway: AiGateway | None, now: dt.datetime) -> int:
    """Explain and rank the proposals not yet explained; returns how many were."""
    if gateway is None or not await gateway.enabled(Feature.SELF_EVOLVING):
        return 0
    async with postgres.session() as session:
        open_ = list(
            await session.scalars(
                select(OptimizationRecord)
                .where(
                    OptimizationRecord.status == "proposed",
                    OptimizationRecord.ai_explanation.is_(None),
                )
                .order_by(OptimizationRecord.proposed_at)
                .limit(10)
            )
        )
        if not open_:
            return 0
        listing = "\n".join(
            f"[{n}] {r.action} {r.target}: {r.expected_effect}. Evidence: {r.evidence.get('plan')}"
            f", {r.evidence.get('calls')} calls, mean {r.evidence.get('mean_us')} us"
            for n, r in enumerate(open_, start=1)
        )
        try:
            answer = await gateway.complete(
                Feature.SELF_EVOLVING,
                [
                    {
                        "role": "system",
                        "content": "You review database optimisation proposals for an operator."
                        " Rank them, most valuable first, one line each: `rank. [id] why`,"
                        " using only the evidence given. Plain text.",
                    },
                    {"role": "user", "content": listing},
                ],
                max_tokens=400,
                now=now,
            )
        except AiError:
            return 0
        explained = 0
        for line in answer.text.splitlines():
            match = _LINE.match(line)
            if not match:
                continue
            rank, ref, why = int(match[1]), int(match[2]), match[3].strip()
            if 1 <= ref <= len(open_) and open_[ref - 1].ai_explanation is None:
                open_[ref - 1].ai_rank = rank
                open_[ref - 1].ai_explanation = why[:MAX_EXPLANATION_CHARS]
                explained += 1
        await session.commit()
        return explained

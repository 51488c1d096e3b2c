"""The operator's AI cost page: operators only; this month's spend against the budget and its
thresholds; flags switched at run time and audited; the budget form; the ledger.

The AI tables are shared by the test session, and this page works on the real current month:
the fixture restores this month's row and clears run-time flags and its ledger rows after."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import delete, select, update

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.ai import budget, flags
from apex_mediation.console.pages.ai_costs import ai_dollars, forecast, parse_dollars, percent_of
from apex_mediation.db.models import AiBudgetMonth, AiFlag, AiSpendEntry, AuditLog
from apex_mediation.services import Services
from tests.console.conftest import CSRF, ConsoleUser, log_in_operator

PAGE = "/operator/ai"


@dataclass
class Operator:
    http: httpx.AsyncClient
    user_id: uuid.UUID
    services: Services
    month: dt.date
    ledger_ids: list[uuid.UUID]

    async def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        found = CSRF.search((await self.http.get(PAGE)).text)
        assert found
        return await self.http.post(url, data={**data, "csrf_token": found.group(1)})

    async def set_spent(self, micros: int) -> None:
        async with self.services.postgres.session() as session:
            await session.execute(
                update(AiBudgetMonth)
                .where(AiBudgetMonth.month == self.month)
                .values(spent_micros=micros)
            )
            await session.commit()

    async def add_entry(self, **values: object) -> None:
        entry = AiSpendEntry(id=uuid.uuid4(), month=self.month, **values)
        async with self.services.postgres.session() as session:
            session.add(entry)
            await session.commit()
        self.ledger_ids.append(entry.id)

    async def standing(self) -> budget.Standing:
        async with self.services.postgres.session() as session:
            current = await budget.standing(
                session, self.services.settings, dt.datetime.now(dt.UTC)
            )
            await session.commit()
            return current


async def _clear_flags(services: Services) -> None:
    async with services.postgres.session() as session:
        await session.execute(delete(AiFlag))
        await session.commit()


@pytest.fixture
async def operator(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[Operator]:
    async with services.postgres.session() as session:
        before = await budget.standing(session, services.settings, dt.datetime.now(dt.UTC))
        await session.commit()
    await _clear_flags(services)
    async with make_client() as http:
        found = Operator(http, await log_in_operator(http, services), services, before.month, [])
        yield found
    await _clear_flags(services)
    async with services.postgres.session() as session:
        await session.execute(
            update(AiBudgetMonth)
            .where(AiBudgetMonth.month == before.month)
            .values(
                budget_micros=before.budget_micros,
                spent_micros=before.spent_micros,
                reserved_micros=before.reserved_micros,
            )
        )
        await session.execute(delete(AiSpendEntry).where(AiSpendEntry.id.in_(found.ledger_ids)))
        await session.commit()


# -- the page --------------------------------------------------------------------------------


async def test_only_operators_see_it(console: ConsoleUser) -> None:
    assert (await console.http.get(PAGE)).status_code == 403
    refused = await console.post(f"{PAGE}/budget", {"dollars": "5"})
    assert refused.status_code == 403 and "platform operators" in refused.text


async def test_the_operator_sees_budget_thresholds_and_flags(operator: Operator) -> None:
    await operator.set_spent(0)
    current = await operator.standing()
    page = await operator.http.get(PAGE)
    assert page.status_code == 200
    assert 'href="/operator/ai" aria-current="true"' in page.text
    budget_text = ai_dollars(current.budget_micros)
    assert f'data-testid="ai-budget">{budget_text}<' in page.text
    settings = operator.services.settings
    for name, percent, micros in (
        ("soft", settings.ai_soft_limit_percent, current.soft_micros),
        ("warning", settings.ai_warning_percent, current.warning_micros),
        ("hard", settings.ai_hard_limit_percent, current.hard_micros),
    ):
        row = f'<td>{name}</td><td class="num">{percent} %</td><td class="num">{ai_dollars(micros)}'
        assert row in page.text
    for name in ("ENABLE_AI_AUTOMATION", "ENABLE_SALES_AI_OPTIMIZATION", "ENABLE_SELF_EVOLVING_AI"):
        assert f'data-testid="flag-{name}"><span class="badge ">off<' in page.text
    assert "master switch" in page.text and "both on" in page.text
    assert 'data-testid="ai-banner"' not in page.text


async def test_a_flag_switched_on_then_off_takes_effect_and_is_audited(
    operator: Operator,
) -> None:
    settings = operator.services.settings
    on = await operator.post(f"{PAGE}/flags", {"name": "ENABLE_AI_AUTOMATION", "enabled": "on"})
    assert on.status_code == 303 and on.headers["location"] == f"{PAGE}?done=flag"
    async with operator.services.postgres.session() as session:
        assert (await flags.effective(session, settings))["ENABLE_AI_AUTOMATION"] is True
    page = await operator.http.get(on.headers["location"])
    assert 'data-testid="flag-ENABLE_AI_AUTOMATION"><span class="badge ok">on<' in page.text
    assert "set at run time" in page.text and "Flag saved" in page.text
    off = await operator.post(f"{PAGE}/flags", {"name": "ENABLE_AI_AUTOMATION", "enabled": "off"})
    assert off.status_code == 303
    async with operator.services.postgres.session() as session:
        assert (await flags.effective(session, settings))["ENABLE_AI_AUTOMATION"] is False
        audited = list(
            await session.execute(
                select(AuditLog.object_id, AuditLog.details, AuditLog.after_digest)
                .where(
                    AuditLog.action == "ai.flag_changed",
                    AuditLog.actor_id == str(operator.user_id),
                )
                .order_by(AuditLog.id)
            )
        )
    assert [(row[0], row[1]) for row in audited] == [
        ("ENABLE_AI_AUTOMATION", {"changed": ["enabled"]}),
        ("ENABLE_AI_AUTOMATION", {"changed": ["enabled"]}),
    ]
    assert audited[0][2] != audited[1][2]  # on, then off


async def test_a_flag_post_without_the_csrf_token_changes_nothing(operator: Operator) -> None:
    refused = await operator.http.post(
        f"{PAGE}/flags", data={"name": "ENABLE_AI_AUTOMATION", "enabled": "on"}
    )
    assert refused.status_code == 403 and "reload the page" in refused.text
    async with operator.services.postgres.session() as session:
        assert await session.scalar(select(AiFlag.name)) is None


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"name": "ENABLE_NOTHING", "enabled": "on"}, "flag"),
        ({"name": "ENABLE_AI_AUTOMATION", "enabled": "yes"}, "enabled"),
    ],
)
async def test_a_bad_flag_post_names_the_field(
    operator: Operator, data: dict[str, str], field: str
) -> None:
    response = await operator.post(f"{PAGE}/flags", data)
    assert response.status_code == 400
    assert f'id="form-error">{field}:' in response.text
    async with operator.services.postgres.session() as session:
        assert await session.scalar(select(AiFlag.name)) is None


async def test_setting_the_budget_changes_this_month_and_is_audited(operator: Operator) -> None:
    saved = await operator.post(f"{PAGE}/budget", {"dollars": "250"})
    assert saved.status_code == 303 and saved.headers["location"] == f"{PAGE}?done=budget"
    async with operator.services.postgres.session() as session:
        row = await session.get(AiBudgetMonth, operator.month)
        assert row is not None and row.budget_micros == 250_000_000
        actor = await session.scalar(
            select(AuditLog.actor_id)
            .where(
                AuditLog.action == "ai.budget_changed",
                AuditLog.object_id == operator.month.isoformat(),
            )
            .order_by(AuditLog.id.desc())
        )
    assert actor == str(operator.user_id)
    page = await operator.http.get(saved.headers["location"])
    assert 'data-testid="ai-budget">$250.00<' in page.text
    assert '<td class="num">80 %</td><td class="num">$200.00' in page.text  # warning, rescaled


@pytest.mark.parametrize("typed", ["abc", "-5", "1.5", "1000001", ""])
async def test_a_bad_budget_is_refused_naming_the_field(operator: Operator, typed: str) -> None:
    before = (await operator.standing()).budget_micros
    response = await operator.post(f"{PAGE}/budget", {"dollars": typed})
    assert response.status_code == 400
    assert 'id="form-error">dollars: whole dollars' in response.text
    assert f'name="dollars" inputmode="numeric" maxlength="12" value="{typed}"' in response.text
    assert (await operator.standing()).budget_micros == before


async def test_ledger_rows_and_spend_by_feature_show(operator: Operator) -> None:
    feature = f"page-test-{secrets.token_hex(3)}"
    await operator.add_entry(
        feature=feature,
        model="gpt-page-test",
        outcome="ok",
        reserved_micros=5_000,
        cost_micros=1_234,
        prompt_tokens=812,
        completion_tokens=64,
    )
    await operator.add_entry(
        feature=feature,
        model="gpt-page-test",
        outcome="ok",
        reserved_micros=3_000_000,
        cost_micros=2_500_000,
        prompt_tokens=9_000,
        completion_tokens=4_000,
    )
    await operator.add_entry(
        feature=feature,
        model="gpt-page-test",
        outcome="error",
        reserved_micros=5_000,
        cost_micros=0,
        error="the API timed out",
    )
    page = (await operator.http.get(PAGE)).text
    assert '<td class="num">812</td>\n        <td class="num">64</td>' in page
    assert '<td class="num">$0.0050</td>\n        <td class="num">$0.0012</td>' in page
    assert '<td class="num">$3.00</td>\n        <td class="num">$2.50</td>' in page
    assert "<td>the API timed out</td>" in page
    # The feature's row: spend summed, and its calls counted by outcome.
    counts = "".join(f'<td class="num">{n}</td>' for n in (0, 2, 1, 0))
    assert f'<td>{feature}</td><td><span class="badge">no</span></td>' in page
    assert f'<td class="num">$2.5012</td>{counts}' not in page  # cents from a dollar up
    assert f'<td class="num">$2.50</td>{counts}' in page


async def test_spend_past_each_threshold_shows_its_banner(operator: Operator) -> None:
    current = await operator.standing()
    await operator.set_spent(current.soft_micros)
    page = (await operator.http.get(PAGE)).text
    assert re.search(r'class="banner banner-warning"[^>]*data-testid="ai-banner"', page)
    await operator.set_spent(current.warning_micros)
    page = (await operator.http.get(PAGE)).text
    assert re.search(r'class="banner banner-error"[^>]*data-testid="ai-banner"', page)
    assert "is past the warning threshold of" in page
    await operator.set_spent(current.hard_micros)
    page = (await operator.http.get(PAGE)).text
    assert "every AI call is refused" in page


# -- the page's arithmetic -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("micros", "text"),
    [
        (None, "\u2013"),
        (0, "$0.00"),
        (1_234, "$0.0012"),
        (1_250, "$0.0013"),
        (49, "< $0.0001"),
        (999_949, "$0.9999"),
        (1_000_000, "$1.00"),
        (123_456_789, "$123.46"),
        (-1_234, "-$0.0012"),
    ],
)
def test_ai_dollars_are_exact(micros: int | None, text: str) -> None:
    assert ai_dollars(micros) == text


def test_percent_and_forecast_use_integers() -> None:
    assert percent_of(80_000_000, 100_000_000) == "80.0 %"
    assert percent_of(1, 3) == "33.3 %"
    assert percent_of(5, 0) == "100.0 %"
    day_ten = dt.datetime(2025, 4, 10, 23, 59, tzinfo=dt.UTC)
    assert forecast(10_000_001, day_ten) == (30_000_003, 10, 30)
    assert forecast(7, dt.datetime(2024, 2, 1, tzinfo=dt.UTC)) == (203, 1, 29)


@pytest.mark.parametrize(("typed", "dollars"), [("0", 0), (" 250 ", 250), ("$1,000,000", 10**6)])
def test_budget_dollars_parse(typed: str, dollars: int) -> None:
    assert parse_dollars(typed) == dollars


@pytest.mark.parametrize("typed", ["abc", "-5", "1.5", "1000001", "", "\u0661\u0662"])
def test_bad_budget_dollars_name_the_field(typed: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_dollars(typed)
    assert caught.value.field == "dollars"

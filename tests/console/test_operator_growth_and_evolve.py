"""The operator's growth, optimisation and incident pages: operators only; publishers' health
and lifecycle listed and filtered, one publisher's history; the self-evolving system's
proposals approved or rejected from the console (CSRF-checked, audited, a second decision
refused); open incidents before resolved ones, under the latest snapshot.

The tables are shared by the test session: every assertion is about this file's own rows
(unique publishers, targets, keys and far-future dates), and the fixtures remove them after."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import delete, select

from apex_mediation.console.pages import operator_growth, operator_incidents
from apex_mediation.console.pages.operator_incidents import rate, seconds
from apex_mediation.console.pages.operator_optimizations import mean_ms
from apex_mediation.db.models import (
    AuditLog,
    GrowthIntervention,
    GrowthNarrative,
    HealthScore,
    Incident,
    LifecycleTransition,
    OptimizationRecord,
    PublisherLifecycle,
    RuntimeSetting,
    SystemSnapshot,
)
from apex_mediation.services import Services
from tests.console.conftest import CSRF, ConsoleUser, log_in_operator
from tests.helpers import Tenant

GROWTH = "/operator/growth"
OPTIMIZATIONS = "/operator/optimizations"
INCIDENTS = "/operator/incidents"
ROW = re.compile(r'data-testid="growth-([0-9a-f-]{36})"')
CELLS = re.compile(r"<td[^>]*>(.*?)</td>", re.S)


@dataclass
class Operator:
    http: httpx.AsyncClient
    user_id: uuid.UUID
    services: Services

    async def post(self, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        found = CSRF.search((await self.http.get(OPTIMIZATIONS)).text)
        assert found
        return await self.http.post(url, data={**(data or {}), "csrf_token": found.group(1)})


@pytest.fixture
async def operator(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[Operator]:
    async with make_client() as http:
        yield Operator(http, await log_in_operator(http, services), services)


def _far_future(hour: int = 0) -> dt.datetime:
    """A unique moment centuries ahead: snapshots and narratives are unique by time, and a
    later one than any real row is the page's "latest"."""
    year = 2400 + secrets.randbelow(7000)
    return dt.datetime(
        year, 1 + secrets.randbelow(12), 1 + secrets.randbelow(28), hour, tzinfo=dt.UTC
    )


def _row(html: str, testid: str) -> str:
    start = html.index(f'data-testid="{testid}"')
    return html[start : html.index("</tr>", start)]


# -- access ----------------------------------------------------------------------------------


async def test_only_operators_see_them(console: ConsoleUser) -> None:
    for url in (GROWTH, f"{GROWTH}/{uuid.uuid4()}", OPTIMIZATIONS, INCIDENTS):
        refused = await console.http.get(url)
        assert refused.status_code == 403 and "platform operators" in refused.text, url
    for action in ("approve", "reject"):
        refused = await console.post(f"{OPTIMIZATIONS}/{uuid.uuid4()}/{action}", {})
        assert refused.status_code == 403 and "platform operators" in refused.text


async def test_the_tabs_name_the_three_pages(operator: Operator) -> None:
    for url, tab in (
        (GROWTH, "growth"),
        (OPTIMIZATIONS, "optimizations"),
        (INCIDENTS, "incidents"),
    ):
        page = await operator.http.get(url)
        assert page.status_code == 200, url
        assert f'href="/operator/{tab}" aria-current="true"' in page.text
        assert page.text.count('aria-current="true"') == 1
        assert "<script>" not in page.text and "style=" not in page.text


# -- growth ----------------------------------------------------------------------------------


@dataclass
class Growth:
    risky: uuid.UUID  # at_risk, scored today (high risk) and before
    healthy: uuid.UUID  # active, last scored yesterday (low risk), with opportunities
    names: dict[uuid.UUID, str]
    narrative_week: dt.date
    ids: dict[str, uuid.UUID]  # interventions by name
    today: dt.date
    now: dt.datetime


async def _sign_up(make_client: Callable[[], httpx.AsyncClient], name: str) -> uuid.UUID:
    async with make_client() as http:
        return uuid.UUID((await Tenant.signup(http, name)).publisher_id)


def _score(publisher_id: uuid.UUID, day: dt.date, parts: tuple[int, int, int, int]) -> HealthScore:
    score = sum(parts)
    return HealthScore(
        publisher_id=publisher_id,
        day=day,
        score=score,
        traffic_trend=parts[0],
        integration=parts[1],
        engagement=parts[2],
        payment=parts[3],
        churn_risk="low" if score >= 70 else "medium" if score >= 40 else "high",
        facts={"placements": 2, "billing_status": None},
        computed_at=dt.datetime.combine(day, dt.time(1), tzinfo=dt.UTC),
    )


@pytest.fixture
async def growth(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[Growth]:
    tag = secrets.token_hex(4)
    names = [f"Growth Risky {tag}", f"Growth Healthy {tag}"]
    a, b = [await _sign_up(make_client, name) for name in names]
    now = dt.datetime.now(dt.UTC)
    today = now.date()
    days = [now - dt.timedelta(days=n) for n in range(61)]
    week = _far_future().date()
    ids = {name: uuid.uuid4() for name in ("check_in", "expansion", "old_upgrade")}

    def intervention(key: str, who: uuid.UUID, kind: str, when: dt.datetime) -> GrowthIntervention:
        return GrowthIntervention(
            id=ids[key],
            publisher_id=who,
            kind=kind,
            reason=f"the {key} reason {tag}",
            details={"score": 30},
            created_at=when,
        )

    async with services.postgres.session() as session:
        session.add_all(
            [
                PublisherLifecycle(publisher_id=a, stage="at_risk", entered_at=days[5]),
                PublisherLifecycle(publisher_id=b, stage="active", entered_at=days[40]),
                _score(a, today, (5, 10, 10, 5)),
                _score(a, today - dt.timedelta(days=2), (10, 15, 15, 15)),
                _score(a, today - dt.timedelta(days=60), (25, 25, 25, 25)),  # outside 60 days
                _score(b, today - dt.timedelta(days=1), (25, 20, 15, 25)),
                *[
                    LifecycleTransition(
                        publisher_id=a, from_stage=f, to_stage=t, reason=r, occurred_at=when
                    )
                    for when, f, t, r in (  # added out of order: the page orders them by time
                        (days[5], "active", "at_risk", "health 30/100 (high churn risk)"),
                        (days[60], None, "trial", "on the free trial"),
                        (days[30], "trial", "active", "health 80/100"),
                    )
                ],
                intervention("check_in", a, "check_in_email", days[4]),
                intervention("expansion", b, "expansion_opportunity", days[2]),
                intervention("old_upgrade", b, "upgrade_opportunity", days[45]),
                GrowthNarrative(
                    week_start=week,
                    text=f"A week of {tag}: one publisher moved to at_risk.",
                    figures={"to_at_risk": 1, "new_mrr_cents": 123_456, "interventions": 1234},
                    created_at=now,
                ),
            ]
        )
        await session.commit()
    yield Growth(a, b, dict(zip((a, b), names, strict=True)), week, ids, today, now)
    async with services.postgres.session() as session:
        for model in (GrowthIntervention, LifecycleTransition, HealthScore, PublisherLifecycle):
            await session.execute(delete(model).where(model.publisher_id.in_([a, b])))
        await session.execute(delete(GrowthNarrative).where(GrowthNarrative.week_start == week))
        await session.commit()


async def test_the_list_shows_health_and_lifecycle(operator: Operator, growth: Growth) -> None:
    page = await operator.http.get(GROWTH)
    assert page.status_code == 200
    risky = CELLS.findall(_row(page.text, f"growth-{growth.risky}"))
    assert growth.names[growth.risky] in risky[0]
    assert risky[1:] == [
        "at_risk",
        f"{growth.now - dt.timedelta(days=5):%Y-%m-%d}",
        "today",
        "30",
        "5",
        "10",
        "10",
        "5",
        '<span class="badge bad">high</span>',
    ]
    healthy = CELLS.findall(_row(page.text, f"growth-{growth.healthy}"))
    assert healthy[1:] == [
        "active",
        f"{growth.now - dt.timedelta(days=40):%Y-%m-%d}",
        f"{growth.today - dt.timedelta(days=1):%Y-%m-%d}",
        "85",
        "25",
        "20",
        "15",
        "25",
        '<span class="badge ok">low</span>',
    ]
    # The least healthy first.
    assert page.text.index(f"growth-{growth.risky}") < page.text.index(f"growth-{growth.healthy}")


async def test_the_narrative_and_open_opportunities(operator: Operator, growth: Growth) -> None:
    html = (await operator.http.get(GROWTH)).text
    assert f"Week of {growth.narrative_week:%Y-%m-%d}: written by the AI from these figures" in html
    assert "one publisher moved to at_risk." in html
    figures = html[html.index('data-testid="narrative-figures"') : html.index("</dl>")]
    assert re.findall(r"<dt>([a-z_]+)</dt><dd>([^<]*)</dd>", figures) == [
        ("interventions", "1,234"),
        ("new_mrr_cents", "$1,234.56"),
        ("to_at_risk", "1"),
    ]
    opportunity = _row(html, f"opportunity-{growth.ids['expansion']}")
    assert growth.names[growth.healthy] in opportunity and "expansion_opportunity" in opportunity
    assert "the expansion reason" in opportunity
    # Older than 30 days, or not an opportunity: not listed.
    for old in ("old_upgrade", "check_in"):
        assert f"opportunity-{growth.ids[old]}" not in html


@pytest.mark.parametrize(
    ("query", "shown"),
    [
        ({"stage": "at_risk"}, {"risky"}),
        ({"risk": "low"}, {"healthy"}),
        ({"stage": "active", "risk": "low"}, {"healthy"}),
        ({"stage": "active", "risk": "high"}, set()),
        ({"stage": "churned"}, set()),
    ],
)
async def test_the_list_filters_by_stage_and_risk(
    operator: Operator, growth: Growth, query: dict[str, str], shown: set[str]
) -> None:
    html = (await operator.http.get(GROWTH, params=query)).text
    mine = {"risky": str(growth.risky), "healthy": str(growth.healthy)}
    assert {name for name, id_ in mine.items() if id_ in ROW.findall(html)} == shown
    for field, value in query.items():
        assert f'<select id="{field}" name="{field}">' in html
        assert f'<option value="{value}" selected>' in html


@pytest.mark.parametrize(
    ("field", "value"), [("stage", "dreaming"), ("risk", "extreme"), ("stage", "AT_RISK")]
)
async def test_an_unknown_filter_is_named(operator: Operator, field: str, value: str) -> None:
    page = await operator.http.get(GROWTH, params={field: value})
    assert page.status_code == 400
    assert f"{field}: no {field} named \u201c{value}\u201d" in page.text


async def test_the_pages_cover_every_row_once(
    operator: Operator, growth: Growth, monkeypatch: pytest.MonkeyPatch
) -> None:
    counted = re.search(r"([0-9,]+) publishers?, the least", (await operator.http.get(GROWTH)).text)
    assert counted is not None
    total = int(counted.group(1).replace(",", ""))
    assert total >= 2
    monkeypatch.setattr(operator_growth, "PAGE_SIZE", max(1, total // 3))
    pages = -(-total // max(1, total // 3))
    seen: list[str] = []
    for number in range(1, pages + 1):
        html = (await operator.http.get(GROWTH, params={"page": str(number)})).text
        assert f"Page {number} of {pages}" in html
        seen += ROW.findall(html)
    assert len(seen) == total == len(set(seen))
    assert {str(growth.risky), str(growth.healthy)} <= set(seen)


async def test_one_publisher_in_detail(operator: Operator, growth: Growth) -> None:
    page = await operator.http.get(f"{GROWTH}/{growth.risky}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{growth.names[growth.risky]}</h1>" in html
    since = f"{growth.now - dt.timedelta(days=5):%Y-%m-%d}"
    assert f'data-testid="growth-stage">at_risk, since {since}<' in html
    assert 'data-testid="growth-latest">30 of 100, high churn risk (today)<' in html
    days = re.findall(r'data-testid="health-([0-9-]+)"', html)
    assert days == [str(growth.today), str(growth.today - dt.timedelta(days=2))]
    older = CELLS.findall(_row(html, f"health-{growth.today - dt.timedelta(days=2)}"))
    assert older[1:] == ["55", "10", "15", "15", "15", '<span class="badge ">medium</span>']
    stages = re.findall(r'data-testid="transition">(?:<td>[^<]*</td>){2}<td>([a-z_]+)</td>', html)
    assert stages == ["trial", "active", "at_risk"]
    assert re.findall(r'data-testid="intervention-([a-z_]+)"', html) == ["check_in_email"]
    assert "score: 30" in _row(html, "intervention-check_in_email")


async def test_a_publisher_with_opportunities_in_detail(operator: Operator, growth: Growth) -> None:
    html = (await operator.http.get(f"{GROWTH}/{growth.healthy}")).text
    kinds = re.findall(r'data-testid="intervention-([a-z_]+)"', html)
    assert kinds == ["expansion_opportunity", "upgrade_opportunity"]  # the newest first
    assert "No lifecycle move recorded." in html


@pytest.mark.parametrize("publisher_id", [str(uuid.uuid4()), "not-an-id"])
async def test_an_unknown_publisher_is_not_found(operator: Operator, publisher_id: str) -> None:
    response = await operator.http.get(f"{GROWTH}/{publisher_id}")
    assert response.status_code == 404 and "Not found" in response.text


# -- optimisations ---------------------------------------------------------------------------


@dataclass
class Proposals:
    plain: OptimizationRecord  # proposed, no AI rank
    ranked: OptimizationRecord  # proposed, ranked first by the AI, with its advice
    verified: OptimizationRecord  # applied and kept, with measurements


def _record(
    token: str, name: str, status: str, now: dt.datetime, **more: object
) -> OptimizationRecord:
    target = f"public.test_{token}_{name}(col)"
    return OptimizationRecord(
        id=uuid.uuid4(),
        action="create_index",
        target=target,
        apply_sql=f"CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_{token}_{name} ON {target}",
        rollback_sql=f"DROP INDEX CONCURRENTLY IF EXISTS ix_{token}_{name}",
        evidence={
            "queryid": 0,
            "query": f"SELECT * FROM test_{token}_{name} WHERE col = $1",
            "calls": 1234,
            "mean_us": 12_345,
            "table_rows": 50_000,
            "plan": f"Seq Scan on test_{token}_{name}, Filter: (col = $1)",
        },
        expected_effect=f"an index lookup instead of a scan ({name})",
        status=status,
        proposed_at=now,
        **more,
    )


@pytest.fixture
async def proposals(services: Services) -> AsyncIterator[Proposals]:
    token = secrets.token_hex(4)
    now = dt.datetime.now(dt.UTC)
    found = Proposals(
        _record(token, "plain", "proposed", now - dt.timedelta(hours=2)),
        _record(
            token,
            "ranked",
            "proposed",
            now - dt.timedelta(hours=1),
            ai_rank=1,
            ai_explanation="the slowest statement, called most often",
        ),
        _record(
            token,
            "kept",
            "verified",
            now - dt.timedelta(days=2),
            decided_at=now - dt.timedelta(days=2),
            decided_by="someone",
            applied_at=now - dt.timedelta(days=1),
            finished_at=now,
            before={"calls": 900, "mean_us": 40_049},
            after={"calls": 12, "mean_us": 9_949},
            outcome="kept: mean 40.0 ms before, 9.9 ms after",
        ),
    )
    async with services.postgres.session() as session:
        session.add_all([found.plain, found.ranked, found.verified])
        await session.commit()
    yield found
    async with services.postgres.session() as session:
        await session.execute(
            delete(OptimizationRecord).where(
                OptimizationRecord.target.like(f"public.test_{token}_%")
            )
        )
        await session.commit()


async def _status(services: Services, record_id: uuid.UUID) -> tuple[str, str | None]:
    async with services.postgres.session() as session:
        record = await session.get(OptimizationRecord, record_id)
        assert record is not None
        return record.status, record.decided_by


async def _audited(services: Services, record_id: uuid.UUID) -> list[tuple[str, str | None]]:
    async with services.postgres.session() as session:
        rows = await session.execute(
            select(AuditLog.action, AuditLog.actor_id)
            .where(AuditLog.object_type == "optimization_record")
            .where(AuditLog.object_id == str(record_id))
            .order_by(AuditLog.id)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_proposals_show_their_evidence_and_sql(
    operator: Operator, proposals: Proposals
) -> None:
    html = (await operator.http.get(OPTIMIZATIONS)).text
    assert "applied by the next <code>self_evolving</code> job run" in html
    assert 'href="/operator/jobs?job=self_evolving">Run now</a>' in html
    ranked = f'data-testid="proposal-{proposals.ranked.id}"'
    plain = f'data-testid="proposal-{proposals.plain.id}"'
    assert html.index(ranked) < html.index(plain)  # the AI's first choice leads
    card = html[html.index(plain) : html.index("</article>", html.index(plain))]
    evidence = proposals.plain.evidence
    assert f'<pre data-testid="evidence-query">{evidence["query"]}</pre>' in card
    assert 'data-testid="evidence-calls">1,234<' in card
    assert 'data-testid="evidence-mean">12.3 ms<' in card
    assert f"<code>{evidence['plan']}</code>" in card
    assert f'<pre data-testid="apply-sql">{proposals.plain.apply_sql}</pre>' in card
    assert f'<pre data-testid="rollback-sql">{proposals.plain.rollback_sql}</pre>' in card
    assert proposals.plain.expected_effect in card
    assert "ai-explanation" not in card
    for action in ("approve", "reject"):
        assert f'action="/operator/optimizations/{proposals.plain.id}/{action}"' in card
    advised = html[html.index(ranked) : html.index("</article>", html.index(ranked))]
    assert "The AI's advice" in advised and "never runs anything" in advised
    assert 'data-testid="ai-explanation">the slowest statement, called most often<' in advised
    # The verified record is not a proposal: it shows what was measured.
    assert f"proposal-{proposals.verified.id}" not in html
    kept = CELLS.findall(_row(html, f"record-{proposals.verified.id}"))
    assert kept[1] == '<span class="badge ok">verified</span>'
    assert kept[5:] == [
        '40.0 ms <span class="muted">over 900</span>',
        '9.9 ms <span class="muted">over 12</span>',
        "kept: mean 40.0 ms before, 9.9 ms after",
    ]


@pytest.mark.parametrize(
    ("status", "shown", "hidden"),
    [
        ("verified", "record-{verified}", "proposal-{plain}"),
        ("proposed", "proposal-{plain}", "record-{verified}"),
    ],
)
async def test_the_list_filters_by_status(
    operator: Operator, proposals: Proposals, status: str, shown: str, hidden: str
) -> None:
    ids = {"plain": proposals.plain.id, "verified": proposals.verified.id}
    html = (await operator.http.get(OPTIMIZATIONS, params={"status": status})).text
    assert f'data-testid="{shown.format(**ids)}"' in html
    assert f'data-testid="{hidden.format(**ids)}"' not in html
    assert re.search(rf'<option value="{status}" selected>{status} \([0-9]+\)</option>', html)


async def test_an_unknown_status_is_named(operator: Operator) -> None:
    page = await operator.http.get(OPTIMIZATIONS, params={"status": "maybe"})
    assert page.status_code == 400 and "status: no status named \u201cmaybe\u201d" in page.text


async def test_approving_from_the_console(operator: Operator, proposals: Proposals) -> None:
    record = proposals.plain
    response = await operator.post(f"{OPTIMIZATIONS}/{record.id}/approve")
    assert response.status_code == 303
    assert response.headers["location"] == f"{OPTIMIZATIONS}?done=approved&id={record.id}"
    user = str(operator.user_id)
    assert await _status(operator.services, record.id) == ("approved", user)
    assert await _audited(operator.services, record.id) == [("optimization.approved", user)]
    html = (await operator.http.get(response.headers["location"])).text
    assert f"Approved {record.target}: the next self_evolving job run applies it" in html
    approved = CELLS.findall(_row(html, f"record-{record.id}"))
    assert approved[3] == user and approved[-1] == "waiting for the next self_evolving run"
    again = await operator.post(f"{OPTIMIZATIONS}/{record.id}/approve")
    assert again.status_code == 409
    assert "the record is approved; only a proposed one can be decided" in again.text
    late = await operator.post(f"{OPTIMIZATIONS}/{record.id}/reject")
    assert late.status_code == 409
    assert await _status(operator.services, record.id) == ("approved", user)
    assert len(await _audited(operator.services, record.id)) == 1


async def test_rejecting_from_the_console(operator: Operator, proposals: Proposals) -> None:
    record = proposals.ranked
    response = await operator.post(f"{OPTIMIZATIONS}/{record.id}/reject")
    assert response.status_code == 303
    assert await _status(operator.services, record.id) == ("rejected", str(operator.user_id))
    assert await _audited(operator.services, record.id) == [
        ("optimization.rejected", str(operator.user_id))
    ]
    html = (await operator.http.get(response.headers["location"])).text
    assert f"Rejected {record.target}: it will not be proposed again." in html
    assert f"proposal-{record.id}" not in html


async def test_a_decision_without_the_csrf_token_changes_nothing(
    operator: Operator, proposals: Proposals
) -> None:
    for action in ("approve", "reject"):
        refused = await operator.http.post(f"{OPTIMIZATIONS}/{proposals.plain.id}/{action}")
        assert refused.status_code == 403 and "reload the page" in refused.text
    assert await _status(operator.services, proposals.plain.id) == ("proposed", None)
    assert await _audited(operator.services, proposals.plain.id) == []


@pytest.mark.parametrize("record_id", [str(uuid.uuid4()), "not-an-id"])
async def test_an_unknown_record_is_not_found(operator: Operator, record_id: str) -> None:
    response = await operator.post(f"{OPTIMIZATIONS}/{record_id}/approve")
    assert response.status_code == 404 and "Not found" in response.text


async def test_a_forged_flash_names_nothing(operator: Operator) -> None:
    html = (await operator.http.get(OPTIMIZATIONS, params={"done": "approved", "id": "x"})).text
    assert 'class="flash"' not in html


# -- incidents -------------------------------------------------------------------------------


@dataclass
class Incidents:
    open: Incident
    resolved: Incident
    snapshot: SystemSnapshot


@pytest.fixture
async def incidents(services: Services) -> AsyncIterator[Incidents]:
    token = secrets.token_hex(4)
    now = dt.datetime.now(dt.UTC)
    found = Incidents(
        Incident(
            id=uuid.uuid4(),
            kind="route_errors",
            key=f"GET /test/{token}",
            severity="critical",
            summary=f"GET /test/{token}: 7 % errors",
            details={"requests": 40, "error_ppm": 75_000},
            opened_at=now - dt.timedelta(hours=2),
            last_seen_at=now,
        ),
        Incident(
            id=uuid.uuid4(),
            kind="ingest_lag",
            key=f"ingest-{token}",
            severity="warning",
            summary=f"ingest was behind ({token})",
            opened_at=now - dt.timedelta(hours=5),
            last_seen_at=now - dt.timedelta(hours=4),
            resolved_at=now - dt.timedelta(hours=3),
        ),
        SystemSnapshot(
            id=uuid.uuid4(),
            taken_at=_far_future(hour=13),
            routes={
                f"GET /test/{token}": {"requests": 1234, "p95_ms": 250, "error_ppm": 12_345},
                f"POST /test/{token}": {"requests": 30, "p95_ms": None, "error_ppm": 0},
            },
            bidders={f"net_{token}": {"calls": 400, "timeout_ppm": 250_000, "error_ppm": 999}},
            database={"connections": 12, "max_connections": 100, "pool_checked_out": 1},
            slow_statements=3,
            ingest_lag_ms=61_250,
            queue_lag_s=42,
            raw={},
        ),
    )
    async with services.postgres.session() as session:
        session.add_all([found.open, found.resolved, found.snapshot])
        await session.commit()
    yield found
    async with services.postgres.session() as session:
        await session.execute(
            delete(Incident).where(Incident.id.in_([found.open.id, found.resolved.id]))
        )
        await session.execute(delete(SystemSnapshot).where(SystemSnapshot.id == found.snapshot.id))
        await session.commit()


async def test_open_incidents_come_before_resolved_ones(
    operator: Operator, incidents: Incidents
) -> None:
    html = (await operator.http.get(INCIDENTS)).text
    opened = html.index(f'data-testid="incident-{incidents.open.id}"')
    resolved = html.index(f'data-testid="incident-{incidents.resolved.id}"')
    assert html.index('id="open-title"') < opened < html.index('id="snapshot-title"')
    assert html.index('id="resolved-title"') < resolved
    cells = CELLS.findall(_row(html, f"incident-{incidents.open.id}"))
    assert cells[0] == '<span class="badge bad">critical</span>'
    assert incidents.open.summary in cells[3] and "error_ppm: 75000" in cells[3]
    assert cells[6] == "open"
    done = CELLS.findall(_row(html, f"incident-{incidents.resolved.id}"))
    assert done[6] == f"{incidents.resolved.resolved_at:%Y-%m-%d %H:%M}"


async def test_the_latest_snapshot_is_summarised(operator: Operator, incidents: Incidents) -> None:
    html = (await operator.http.get(INCIDENTS)).text
    taken = incidents.snapshot.taken_at
    assert f'data-testid="snapshot-taken">{taken:%Y-%m-%d %H:%M} UTC' in html
    assert 'data-testid="snapshot-connections">12 of 100<' in html
    assert 'data-testid="snapshot-slow">3<' in html
    assert 'data-testid="snapshot-ingest">61.2 s<' in html
    assert 'data-testid="snapshot-queue">42 s<' in html
    routes = [
        CELLS.findall(r) for r in re.findall(r'data-testid="snapshot-route">(.*?)</tr>', html)
    ]
    assert [cells[1:] for cells in routes] == [
        ["1,234", "250 ms", "1.2 %"],
        ["30", "beyond the buckets", "0.0 %"],
    ]
    [bidder] = re.findall(r'data-testid="snapshot-bidder">(.*?)</tr>', html)
    assert CELLS.findall(bidder)[1:] == ["400", "25.0 %", "0.0 %"]


async def test_no_snapshot_yet(operator: Operator, monkeypatch: pytest.MonkeyPatch) -> None:
    async def none(_: object) -> None:
        return None

    monkeypatch.setattr(operator_incidents, "latest_snapshot", none)
    html = (await operator.http.get(INCIDENTS)).text
    assert "No snapshot yet" in html and "snapshot-taken" not in html


# -- integer formatting ----------------------------------------------------------------------


def test_times_and_rates_are_integer_arithmetic() -> None:
    assert [mean_ms(us) for us in (0, 49, 50, 12_345, 1_234_567)] == [
        "0.0 ms",
        "0.0 ms",
        "0.1 ms",
        "12.3 ms",
        "1,234.6 ms",
    ]
    assert [mean_ms(odd) for odd in (None, 1.5, "12", True, -1)] == ["\u2013"] * 5
    assert [rate(p) for p in (0, 999, 1_000, 12_345, 1_000_000)] == [
        "0.0 %",
        "0.0 %",
        "0.1 %",
        "1.2 %",
        "100.0 %",
    ]
    assert [seconds(ms) for ms in (0, 999, 61_250, None)] == ["0.0 s", "0.9 s", "61.2 s", "\u2013"]


# -- run-time settings -----------------------------------------------------------------------


@pytest.fixture
async def knobs_reset(services: Services) -> AsyncIterator[None]:
    """Run-time settings back to their defaults (and auto-tuning off) after the test."""
    yield
    async with services.postgres.session() as session:
        await session.execute(delete(RuntimeSetting))
        await session.commit()


async def _tuning_audit(services: Services, action: str) -> list[tuple[str | None, object]]:
    async with services.postgres.session() as session:
        rows = await session.execute(
            select(AuditLog.actor_id, AuditLog.details)
            .where(AuditLog.action == action)
            .order_by(AuditLog.id.desc())
            .limit(1)
        )
        return [tuple(row) for row in rows.all()]  # type: ignore[misc]


async def test_run_time_settings_are_set_within_their_bounds(
    operator: Operator, knobs_reset: None
) -> None:
    url = f"{OPTIMIZATIONS}/settings/cache.creative_ttl_s"
    html = (await operator.http.get(OPTIMIZATIONS)).text
    row = _row(html, "knob-cache.creative_ttl_s")
    assert 'value="300"' in row and "120\u20133600 s" in row
    too_short = await operator.post(url, {"value": "60"})
    assert too_short.status_code == 400
    assert "value: cache.creative_ttl_s must be between 120 and 3600 s" in too_short.text
    words = await operator.post(url, {"value": "ten"})
    assert words.status_code == 400 and "value: the value must be a whole number" in words.text
    unknown = await operator.post(f"{OPTIMIZATIONS}/settings/cache.anything", {"value": "9"})
    assert unknown.status_code == 400 and "key: unknown setting" in unknown.text
    done = await operator.post(url, {"value": "900"})
    assert done.status_code == 303
    assert done.headers["location"] == f"{OPTIMIZATIONS}?done=setting&id=cache.creative_ttl_s"
    after = (await operator.http.get(done.headers["location"])).text
    assert "Set cache.creative_ttl_s; every serving process uses it within a few seconds." in after
    assert 'value="900"' in _row(after, "knob-cache.creative_ttl_s")
    [(actor, details)] = await _tuning_audit(operator.services, "tuning.changed")
    assert actor == str(operator.user_id)
    assert details == {"reason": "set by an operator", "from": 300, "to": 900, "changed": ["value"]}


async def test_the_operator_allows_and_withdraws_automatic_tuning(
    operator: Operator, knobs_reset: None
) -> None:
    box = 'data-testid="auto-tune"'
    assert f"{box} checked" not in (await operator.http.get(OPTIMIZATIONS)).text
    allowed = await operator.post(f"{OPTIMIZATIONS}/auto-tune", {"allowed": "on"})
    assert allowed.status_code == 303
    html = (await operator.http.get(allowed.headers["location"])).text
    assert f"{box} checked" in html and "applied without a decision" in html
    assert await _tuning_audit(operator.services, "tuning.auto_apply_changed") == [
        (str(operator.user_id), {"allowed": True, "changed": ["allowed"]})
    ]
    withdrawn = await operator.post(f"{OPTIMIZATIONS}/auto-tune")
    html = (await operator.http.get(withdrawn.headers["location"])).text
    assert f"{box} checked" not in html and "now wait for your decision" in html


async def test_a_tuning_proposal_shows_its_change_and_measurements(
    operator: Operator, services: Services
) -> None:
    token = secrets.token_hex(4)
    now = dt.datetime.now(dt.UTC)
    common = {
        "action": "tune_setting",
        "evidence": {
            "metric": "bidder_timeout_ppm",
            "networks": [f"bidder-{token}"],
            "measured_ppm": 250_000,
            "sample": 400,
        },
        "expected_effect": f"fewer timeouts for bidder-{token}",
        "proposed_at": now,
    }
    waiting = OptimizationRecord(
        id=uuid.uuid4(),
        target=f"test.{token}.margin=200",
        change={"key": "auction.latency_margin_pct", "from": 150, "to": 200},
        status="proposed",
        **common,
    )
    kept = OptimizationRecord(
        id=uuid.uuid4(),
        target=f"test.{token}.margin=250",
        change={"key": "auction.latency_margin_pct", "from": 200, "to": 250},
        status="verified",
        applied_at=now,
        finished_at=now,
        before={"ppm": 250_000, "sample": 400},
        after={"ppm": 40_500, "sample": 380},
        outcome="kept",
        **common,
    )
    async with services.postgres.session() as session:
        session.add_all([waiting, kept])
        await session.commit()
    try:
        html = (await operator.http.get(OPTIMIZATIONS)).text
        card = html[html.index(f"proposal-{waiting.id}") :]
        card = card[: card.index("</article>")]
        assert (
            'data-testid="change"><code>auction.latency_margin_pct</code> from 150 to 200<'
        ) in card
        assert "<code>bidder_timeout_ppm</code> 25.00 % over 400<" in card
        assert "apply-sql" not in card and "Rolled back, if it does not help, to 150." in card
        cells = CELLS.findall(_row(html, f"record-{kept.id}"))
        assert cells[5:7] == [
            '25.00 % <span class="muted">over 400</span>',
            '4.05 % <span class="muted">over 380</span>',
        ]
    finally:
        async with services.postgres.session() as session:
            await session.execute(
                delete(OptimizationRecord).where(OptimizationRecord.target.like(f"test.{token}.%"))
            )
            await session.commit()

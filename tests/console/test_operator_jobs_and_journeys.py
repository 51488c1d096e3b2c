"""The operator's jobs and sales-journey pages: operators only; the registry's jobs with their
runs, and a job run from the console (recorded, audited, CSRF-checked); publishers' journeys
listed by stage and page, and one journey's history, emails and conversion.

The tables are shared by the test session: every assertion is about this file's own rows
(its publishers have unique names), and the fixtures remove those rows after."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal

import httpx
import pytest
from markupsafe import escape
from sqlalchemy import delete, func, select

from apex_mediation.console.pages import operator_journeys
from apex_mediation.console.pages.operator_journeys import probability
from apex_mediation.db.models import (
    AuditLog,
    ConversionAttribution,
    CustomerJourney,
    JobRun,
    JourneyTransition,
    SalesConversion,
    SalesTouchpoint,
)
from apex_mediation.jobs.registry import JOBS
from apex_mediation.services import Services
from tests.console.conftest import CSRF, ConsoleUser, log_in_operator
from tests.helpers import Tenant

JOBS_PAGE = "/operator/jobs"
JOURNEYS = "/operator/journeys"
ROW = re.compile(r'data-testid="journey-([0-9a-f-]{36})"')


@dataclass
class Operator:
    http: httpx.AsyncClient
    user_id: uuid.UUID
    services: Services

    async def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        found = CSRF.search((await self.http.get(JOBS_PAGE)).text)
        assert found
        return await self.http.post(url, data={**data, "csrf_token": found.group(1)})


@pytest.fixture
async def operator(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[Operator]:
    started = dt.datetime.now(dt.UTC)
    async with make_client() as http:
        yield Operator(http, await log_in_operator(http, services), services)
    async with services.postgres.session() as session:  # the runs this file asked for
        await session.execute(
            delete(JobRun).where(JobRun.trigger == "console", JobRun.started_at >= started)
        )
        await session.commit()


async def console_runs(services: Services, since: dt.datetime) -> list[JobRun]:
    async with services.postgres.session() as session:
        return list(
            await session.scalars(
                select(JobRun)
                .where(JobRun.trigger == "console", JobRun.started_at >= since)
                .order_by(JobRun.started_at)
            )
        )


# -- access ----------------------------------------------------------------------------------


async def test_only_operators_see_them(console: ConsoleUser) -> None:
    for url in (JOBS_PAGE, JOURNEYS, f"{JOURNEYS}/{uuid.uuid4()}"):
        refused = await console.http.get(url)
        assert refused.status_code == 403 and "platform operators" in refused.text, url
    refused = await console.post(f"{JOBS_PAGE}/run", {"name": "ai_review", "dry_run": "on"})
    assert refused.status_code == 403 and "platform operators" in refused.text


# -- jobs ------------------------------------------------------------------------------------


async def test_the_jobs_page_lists_the_registry(operator: Operator) -> None:
    page = await operator.http.get(JOBS_PAGE)
    assert page.status_code == 200
    assert 'href="/operator/jobs" aria-current="true"' in page.text
    for job in JOBS.values():
        assert f'data-testid="job-{job.name}"' in page.text
        assert str(escape(job.description)) in page.text
        assert f"<code>{job.cron}</code>" in page.text
        assert f'<input type="hidden" name="name" value="{job.name}">' in page.text


async def test_a_dry_run_from_the_console_is_recorded_and_audited(operator: Operator) -> None:
    before = dt.datetime.now(dt.UTC)
    response = await operator.post(f"{JOBS_PAGE}/run", {"name": "ai_review", "dry_run": "on"})
    assert response.status_code == 303
    assert response.headers["location"] == f"{JOBS_PAGE}?job=ai_review&done=ok&dry=on"
    [run] = await console_runs(operator.services, before)
    assert (run.job, run.dry_run, run.outcome) == ("ai_review", True, "ok")
    assert run.finished_at is not None and run.counts["queued"] == 0
    async with operator.services.postgres.session() as session:
        audited = list(
            await session.execute(
                select(AuditLog.object_type, AuditLog.object_id, AuditLog.details).where(
                    AuditLog.action == "jobs.run_requested",
                    AuditLog.actor_id == str(operator.user_id),
                )
            )
        )
    assert [tuple(row) for row in audited] == [("job", "ai_review", {"dry_run": True})]
    page = await operator.http.get(response.headers["location"])
    assert "Ran ai_review (dry run): it succeeded." in page.text
    assert "Recent runs of <code>ai_review</code>" in page.text
    assert "<td>console</td>\n        <td>yes</td>" in page.text
    assert set(re.findall(r"<td><code>([a-z_]+)</code></td>", page.text)) == {"ai_review"}


async def test_a_run_without_the_csrf_token_runs_nothing(operator: Operator) -> None:
    before = dt.datetime.now(dt.UTC)
    refused = await operator.http.post(
        f"{JOBS_PAGE}/run", data={"name": "ai_review", "dry_run": "on"}
    )
    assert refused.status_code == 403 and "reload the page" in refused.text
    assert await console_runs(operator.services, before) == []


async def test_an_unknown_job_is_named(operator: Operator) -> None:
    before = dt.datetime.now(dt.UTC)
    named = f"job: no job named \u201cnightly_magic\u201d; jobs: {', '.join(JOBS)}"
    page = await operator.http.get(JOBS_PAGE, params={"job": "nightly_magic"})
    assert page.status_code == 400 and named in page.text
    posted = await operator.post(f"{JOBS_PAGE}/run", {"name": "nightly_magic"})
    assert posted.status_code == 400 and named in posted.text
    odd = await operator.post(f"{JOBS_PAGE}/run", {"name": "ai_review", "dry_run": "yes"})
    assert odd.status_code == 400 and "dry_run:" in odd.text
    assert await console_runs(operator.services, before) == []


# -- journeys --------------------------------------------------------------------------------


@dataclass
class Journeys:
    converted: uuid.UUID  # three emails, converted three days ago
    evaluating: uuid.UUID  # one email, evaluating
    names: dict[uuid.UUID, str]
    now: dt.datetime


async def _sign_up(make_client: Callable[[], httpx.AsyncClient], name: str) -> uuid.UUID:
    async with make_client() as http:
        return uuid.UUID((await Tenant.signup(http, name)).publisher_id)


def _touchpoint(publisher_id: uuid.UUID, kind: str, day: int, sent: dt.datetime) -> SalesTouchpoint:
    return SalesTouchpoint(
        id=uuid.uuid4(),
        publisher_id=publisher_id,
        kind=kind,
        trial_day=day,
        subject=f"The {kind} email",
        recipients=2,
        personalised=kind == "benchmark",
        sent_at=sent,
    )


@pytest.fixture
async def journeys(
    services: Services, make_client: Callable[[], httpx.AsyncClient]
) -> AsyncIterator[Journeys]:
    tag = secrets.token_hex(4)
    a = await _sign_up(make_client, f"Journey Converted {tag}")
    b = await _sign_up(make_client, f"Journey Evaluating {tag}")
    now = dt.datetime.now(dt.UTC)
    days = [now - dt.timedelta(days=n) for n in range(21)]
    steps = [  # added out of order: the page orders them by time
        (days[3], "evaluation", "converted", "the trial ended with a payment method saved"),
        (days[20], None, "signup", "signed up"),
        (days[12], "activation", "engagement", "traffic on 3 of the last 7 days"),
        (days[18], "signup", "activation", "the first SDK request arrived"),
        (days[6], "engagement", "evaluation", "trial day 8: evaluating"),
    ]
    emails = [
        _touchpoint(a, "welcome", 0, days[20]),
        _touchpoint(a, "benchmark", 3, days[17]),
        _touchpoint(a, "trial_ending", 12, days[8]),
    ]
    async with services.postgres.session() as session:
        session.add_all(
            [
                CustomerJourney(
                    publisher_id=a,
                    stage="converted",
                    stage_entered_at=days[3],
                    engagement_score=72,
                    conversion_probability_ppm=734_512,
                    scored_at=now,
                ),
                CustomerJourney(
                    publisher_id=b,
                    stage="evaluation",
                    stage_entered_at=days[2],
                    engagement_score=40,
                    conversion_probability_ppm=250_000,
                ),
                *[
                    JourneyTransition(
                        publisher_id=a, from_stage=f, to_stage=t, reason=r, occurred_at=when
                    )
                    for when, f, t, r in steps
                ],
                JourneyTransition(
                    publisher_id=b, to_stage="signup", reason="signed up", occurred_at=days[1]
                ),
                *emails,
                _touchpoint(b, "welcome", 0, days[1]),
            ]
        )
        await session.flush()
        conversion = SalesConversion(publisher_id=a, converted_at=days[3], mrr_cents=123_456)
        session.add(conversion)
        await session.flush()
        session.add_all(
            ConversionAttribution(
                conversion_id=conversion.id, touchpoint_id=email.id, weight_ppm=weight
            )
            for email, weight in zip(emails, (333_334, 333_333, 333_333), strict=True)
        )
        await session.commit()
    names = {a: f"Journey Converted {tag}", b: f"Journey Evaluating {tag}"}
    yield Journeys(a, b, names, now)
    async with services.postgres.session() as session:
        for model in (SalesConversion, SalesTouchpoint, JourneyTransition, CustomerJourney):
            await session.execute(delete(model).where(model.publisher_id.in_([a, b])))
        await session.commit()


def _row(html: str, publisher_id: uuid.UUID) -> str:
    start = html.index(f'data-testid="journey-{publisher_id}"')
    return html[start : html.index("</tr>", start)]


async def test_the_list_shows_each_journey(operator: Operator, journeys: Journeys) -> None:
    page = await operator.http.get(JOURNEYS)
    assert page.status_code == 200
    assert 'href="/operator/journeys" aria-current="true"' in page.text
    converted = _row(page.text, journeys.converted)
    assert journeys.names[journeys.converted] in converted
    cells = re.findall(r"<td[^>]*>(.*?)</td>", converted, re.S)
    assert cells[1:] == [
        '<span class="badge ok">converted</span>',
        "3",
        "72",
        "73.4 %",
        "converted",
        f"trial_ending, {(journeys.now - dt.timedelta(days=8)):%Y-%m-%d}",
    ]
    evaluating = re.findall(r"<td[^>]*>(.*?)</td>", _row(page.text, journeys.evaluating), re.S)
    assert evaluating[2:] == [
        "2",
        "40",
        "25.0 %",
        "day 0",
        f"welcome, {(journeys.now - dt.timedelta(days=1)):%Y-%m-%d}",
    ]


@pytest.mark.parametrize(("stage", "shown"), [("evaluation", "evaluating"), ("converted", None)])
async def test_the_list_filters_by_stage(
    operator: Operator, journeys: Journeys, stage: str, shown: str | None
) -> None:
    page = (await operator.http.get(JOURNEYS, params={"stage": stage})).text
    ids = set(ROW.findall(page))
    want = journeys.evaluating if shown else journeys.converted
    other = journeys.converted if shown else journeys.evaluating
    assert str(want) in ids and str(other) not in ids
    assert f'<option value="{stage}" selected>' in page


async def test_an_unknown_stage_is_named(operator: Operator) -> None:
    page = await operator.http.get(JOURNEYS, params={"stage": "dreaming"})
    assert page.status_code == 400 and "stage: no stage named \u201cdreaming\u201d" in page.text


async def test_the_pages_cover_every_journey_once_and_clamp(
    operator: Operator, journeys: Journeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with operator.services.postgres.session() as session:
        total = await session.scalar(select(func.count()).select_from(CustomerJourney))
    assert total is not None and total >= 2
    size = max(1, total // 4)  # a handful of pages, whatever else the database holds
    monkeypatch.setattr(operator_journeys, "PAGE_SIZE", size)
    pages = -(-total // size)
    seen: list[str] = []
    for number in range(1, pages + 1):
        html = (await operator.http.get(JOURNEYS, params={"page": str(number)})).text
        assert f"Page {number} of {pages}" in html
        seen += ROW.findall(html)
    assert len(seen) == total and len(set(seen)) == total
    assert {str(journeys.converted), str(journeys.evaluating)} <= set(seen)
    for odd, shown in (("0", 1), ("abc", 1), ("-3", 1), (str(pages + 50), pages)):
        html = (await operator.http.get(JOURNEYS, params={"page": odd})).text
        assert f"Page {shown} of {pages}" in html, odd


async def test_a_converted_journey_in_detail(operator: Operator, journeys: Journeys) -> None:
    page = await operator.http.get(f"{JOURNEYS}/{journeys.converted}")
    assert page.status_code == 200
    html = page.text
    assert f"<h1>{journeys.names[journeys.converted]}</h1>" in html
    assert 'data-testid="journey-stage">converted, for 3 days' in html
    assert f'data-testid="journey-probability">{probability(734_512)}<' in html
    stages = re.findall(r'data-testid="transition">(?:<td>[^<]*</td>){2}<td>([a-z]+)</td>', html)
    assert stages == ["signup", "activation", "engagement", "evaluation", "converted"]
    kinds = re.findall(r'data-testid="touchpoint-([a-z_]+)"', html)
    assert kinds == ["welcome", "benchmark", "trial_ending"]
    assert 'data-testid="conversion-mrr">$1,234.56<' in html
    shares = re.findall(r'data-testid="share">([0-9.]+) %<', html)
    assert shares == ["33.3334", "33.3333", "33.3333"]
    assert sum(Decimal(s) for s in shares) == 100
    assert 'data-testid="conversion-credited">100 %<' in html


async def test_an_unconverted_journey_in_detail(operator: Operator, journeys: Journeys) -> None:
    html = (await operator.http.get(f"{JOURNEYS}/{journeys.evaluating}")).text
    assert 'data-testid="journey-stage">evaluation, for 2 days' in html
    assert "Not converted." in html and "day 0" in html
    assert re.findall(r'data-testid="share">([^<]*)<', html) == ["\u2013"]


@pytest.mark.parametrize("publisher_id", [str(uuid.uuid4()), "not-an-id"])
async def test_an_unknown_journey_is_not_found(operator: Operator, publisher_id: str) -> None:
    response = await operator.http.get(f"{JOURNEYS}/{publisher_id}")
    assert response.status_code == 404 and "Not found" in response.text


def test_probability_is_rounded_down_in_integers() -> None:
    assert [probability(p) for p in (0, 999, 1_000, 734_512, 999_999, 1_000_000)] == [
        "0.0 %",
        "0.0 %",
        "0.1 %",
        "73.4 %",
        "99.9 %",
        "100.0 %",
    ]

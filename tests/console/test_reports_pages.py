"""Reports in the console: filters, tables, charts, bad filters as 400 pages naming the field,
and the export links, which work with the console session."""

from __future__ import annotations

import csv
import html
import io
import re
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from apex_mediation.db.models import Membership, Publisher, User
from apex_mediation.services import Services
from tests.console.conftest import ConsoleUser
from tests.console.test_apps_pages import publisher_of
from tests.reporting.data import DAY, event


def _links(page: str, prefix: str) -> list[str]:
    return [html.unescape(href) for href in re.findall(rf'href="({prefix}[^"]*)"', page)]


async def _app(console: ConsoleUser, name: str = "Puzzle") -> str:
    csrf = await console.csrf()
    created = await console.http.post(
        "/api/v1/apps",
        headers={"X-CSRF-Token": csrf},
        json={"name": name, "platform": "android", "bundleId": "com.example.puzzle"},
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def test_the_default_report(console: ConsoleUser) -> None:
    page = await console.http.get("/reports")
    assert page.status_code == 200, page.text
    text = page.text
    for field in ("range", "start", "end", "granularity", "app", "placement", "network"):
        assert f'<label for="{field}">' in text
    assert '<label for="country">' in text and '<label for="format">' in text
    assert '<option value="7d" selected>' in text
    assert "<h2>By day</h2>" in text and "<h2>By network</h2>" in text
    assert "<h2>By country</h2>" in text and "<h2>Top apps</h2>" in text
    assert "<h2>SDK versions</h2>" in text
    days = re.findall(r"<tr><td>(\d{4}-\d{2}-\d{2})</td>", text)
    today = datetime.now(UTC).date()
    assert days == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert 'data-charts="/reports/charts.json?' in text
    assert '<div class="table-wrap">' in text
    assert "<script>" not in text and "style=" not in text


async def test_filters_narrow_the_report(console: ConsoleUser) -> None:
    app_id = await _app(console)
    page = await console.http.get(
        "/reports",
        params={
            "range": "custom",
            "start": "2026-03-01",
            "end": "2026-03-03",
            "app": app_id,
            "network": "openrtb",
            "country": "de",
            "format": "interstitial",
            "granularity": "hour",
        },
    )
    assert page.status_code == 200, page.text
    text = page.text
    assert f'<option value="{app_id}" selected>Puzzle</option>' in text
    assert '<option value="custom" selected>' in text and 'value="DE"' in text
    assert '<option value="interstitial" selected>' in text
    assert "<h2>By hour</h2>" in text
    hours = re.findall(r"<tr><td>(\d{4}-\d{2}-\d{2} \d{2}:00)</td>", text)
    assert len(hours) == 72 and hours[0] == "2026-03-01 00:00" and hours[-1] == "2026-03-03 23:00"

    [csv] = [
        link for link in _links(text, "/api/v1/reporting/export.csv") if "report=timeseries" in link
    ]
    for part in ("startDate=2026-03-01", "endDate=2026-03-03", f"appId={app_id}", "country=DE"):
        assert part in csv
    assert "granularity=hour" in csv and "network=openrtb" in csv and "format=interstitial" in csv

    charts = await console.http.get(
        f"/reports/charts.json?range=custom&start=2026-03-01&end=2026-03-03&app={app_id}"
    )
    assert charts.status_code == 200
    assert charts.json()["series"]["labels"] == ["Mar 01", "Mar 02", "Mar 03"]


async def test_bad_filters_are_400_pages_naming_the_field(console: ConsoleUser) -> None:
    cases = {
        "range=custom&start=2026-13-45": "start date:",
        "range=custom&start=yesterday&end=2026-03-01": "start date:",
        "range=custom&end=not-a-date": "end date:",
        "range=custom&start=2026-03-05&end=2026-03-01": "end date: must be after startDate",
        "range=custom&start=1999-01-01&end=2026-03-01": "start date:",
        "range=custom&start=2024-01-01&end=2026-03-01": "end date: a report covers at most",
        "range=custom&start=2026-01-01&end=2026-03-01&granularity=hour": "granularity:",
        "range=1y": "range:",
        "country=Germany": "country:",
        "format=video": "format:",
        "app=not-a-uuid": "app:",
        "granularity=week": "granularity:",
    }
    for query, message in cases.items():
        page = await console.http.get(f"/reports?{query}")
        assert page.status_code == 400, (query, page.status_code)
        assert 'role="alert"' in page.text and message in html.unescape(page.text), query
        assert '<label for="start">' in page.text  # the form, to correct it
    kept = await console.http.get("/reports?range=custom&start=2026-13-45&country=FR")
    assert 'value="2026-13-45"' in kept.text and 'value="FR"' in kept.text
    start = re.search(r'<input id="start"[^>]*>', kept.text)
    assert start and 'value="2026-13-45"' in start.group(0) and "aria-invalid" in start.group(0)
    bad_chart = await console.http.get("/reports/charts.json?range=custom&start=nope")
    assert bad_chart.status_code == 400


async def test_export_links_work_with_the_session(console: ConsoleUser) -> None:
    page = await console.http.get("/reports?range=30d")
    assert page.status_code == 200
    exports = _links(page.text, "/api/v1/reporting/export.csv")
    assert {re.search(r"report=([\w-]+)", link).group(1) for link in exports} == {  # type: ignore[union-attr]
        "timeseries",
        "adapters",
        "countries",
        "top-apps",
        "overview",
    }
    for link in exports:
        response = await console.http.get(link)
        assert response.status_code == 200, (link, response.text)
        assert response.headers["content-type"].startswith("text/csv")
        assert "attachment" in response.headers["content-disposition"]
    series = await console.http.get(next(link for link in exports if "timeseries" in link))
    lines = series.text.strip().splitlines()
    assert lines[0].endswith(",timestamp") and len(lines) == 31  # header and 30 days

    logs = _links(page.text, "/api/v1/reporting/auction-log")
    assert {re.search(r"format=(\w+)", link).group(1) for link in logs} == {"csv", "parquet"}  # type: ignore[union-attr]
    for link in logs:
        response = await console.http.get(link)
        assert response.status_code == 200, (link, response.text)

    # Beyond 31 days the auction log cannot be exported: no link, a note instead.
    long = await console.http.get("/reports?range=custom&start=2026-01-01&end=2026-03-31")
    assert long.status_code == 200
    assert _links(long.text, "/api/v1/reporting/auction-log") == []
    assert "at most 31 days" in long.text


async def test_exports_follow_the_publisher_chosen_in_the_console(
    console: ConsoleUser, services: Services
) -> None:
    """A member of two publishers who switched to the second downloads the second's data."""
    first = await publisher_of(console)
    async with services.postgres.session() as session:
        user = await session.scalar(select(User).where(User.email == console.email))
        assert user is not None
        second = Publisher(name="Second Studio")
        session.add(second)
        await session.flush()
        session.add(Membership(user_id=user.id, publisher_id=second.id, role="owner"))
        await session.commit()
        second_id = second.id
    ids = {"app_id": uuid.uuid4(), "placement_id": uuid.uuid4()}
    await services.analytics.insert(
        "events", [event(second_id, at=DAY + timedelta(hours=1), **ids, cpm_micros=2_000_000)]
    )
    span = {"startDate": DAY.date().isoformat(), "endDate": DAY.date().isoformat()}

    async def impressions_exported() -> str:
        page = await console.http.get(
            f"/reports?range=custom&start={span['startDate']}&end={span['endDate']}"
        )
        link = next(
            link
            for link in _links(page.text, "/api/v1/reporting/export.csv")
            if "report=overview" in link
        )
        exported = await console.http.get(html.unescape(link))
        assert exported.status_code == 200, exported.text
        rows = list(csv.DictReader(io.StringIO(exported.text)))
        return rows[0]["impressions"]

    assert await impressions_exported() == "0"  # the first publisher's, which has none
    switched = await console.post("/publisher", {"publisher_id": str(second_id)})
    assert switched.status_code == 303
    assert await impressions_exported() == "1"
    # The API's own header still wins over the cookie.
    explicit = await console.http.get(
        "/api/v1/reporting/overview", params=span, headers={"X-Publisher-Id": str(first)}
    )
    assert explicit.json()["impressions"] == 0

"""The invalid-traffic page: the publisher's invalid share by reason and by app, from stored
events, and a clear error for an unknown grouping."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from apex_mediation.services import Services
from tests.console.conftest import ConsoleUser
from tests.console.test_apps_pages import publisher_of
from tests.reporting.data import event


async def test_the_page_shows_invalid_shares_by_reason_and_app(
    console: ConsoleUser, services: Services
) -> None:
    publisher = await publisher_of(console)
    ids = {"app_id": uuid.uuid4(), "placement_id": uuid.uuid4()}
    at = datetime.now(UTC) - timedelta(hours=1)
    rows = [event(publisher, at=at, **ids, cpm_micros=1_000_000) for _ in range(3)]
    for n, row in enumerate(rows):  # one of three from a data centre
        row.update(ivt=int(n == 0), ivt_score=1000 * (n == 0),
                   ivt_reasons=["datacenter_ip"] if n == 0 else [])  # fmt: skip
    await services.analytics.insert("events", rows)
    page = await console.http.get("/reports/ivt")
    assert page.status_code == 200
    text = page.text
    assert 'data-testid="ivt-impression-share">33.3%<' in text
    assert "datacenter_ip" in text and "GIVT" in text
    by_app = await console.http.get("/reports/ivt?group_by=app")
    assert str(ids["app_id"]) in by_app.text
    wrong = await console.http.get("/reports/ivt?group_by=planet")
    assert wrong.status_code == 400 and "group_by: one of" in wrong.text

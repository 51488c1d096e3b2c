"""Every metric and label the alert rules watch is exported by the running app: the rules are
read, the app's /metrics is scraped, and a name the app does not export fails the test (so an
alert cannot silently watch nothing). `up` and the target labels `job` and `instance` come from
Prometheus itself."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.deploy.promql import exported, referenced, unknown

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yml"
DASHBOARDS = sorted((ROOT / "deploy" / "monitoring" / "dashboards").glob("*.json"))


@pytest.fixture
async def exported_now(client: httpx.AsyncClient) -> dict[str, set[str]]:
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    return exported(scraped.text)


def _rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_parser_finds_metrics_and_labels() -> None:
    expr = (
        'sum by (network) (rate(auction_bidder_calls_total{outcome="timeout"}[10m] offset 1d))'
        ' / sum(up{job="apex-api"}) > 0.2 and max(outbox_pending) > 100'
    )
    assert referenced(expr) == (
        {"auction_bidder_calls_total", "up", "outbox_pending"},
        {"network", "outcome", "job"},
    )


async def test_every_rule_reads_metrics_and_labels_the_app_exports(
    exported_now: dict[str, set[str]],
) -> None:
    # Prometheus sets `job` and `instance` on every series it scrapes: an app label of that name
    # would be renamed exported_job and every rule grouping by it would group wrongly.
    clashing = sorted(n for n, labels in exported_now.items() if labels & {"job", "instance"})
    assert clashing == [], f"metrics with a label Prometheus overwrites: {clashing}"
    missing: list[str] = []
    for rule in _rules():
        assert referenced(rule["expr"])[0], f"{rule.get('alert')}: no metric in its expression"
        missing += [f"{rule.get('alert')}: {m}" for m in unknown(rule["expr"], exported_now)]
    assert missing == [], "rules watch what the app does not export:\n" + "\n".join(missing)


def test_the_dashboards_are_the_five_expected() -> None:
    titles = {json.loads(p.read_text())["title"] for p in DASHBOARDS}
    assert titles == {
        "Apex: system health",
        "Apex: API performance",
        "Apex: auction and bidders",
        "Apex: business",
        "Apex: AI cost",
    }


async def test_every_dashboard_panel_queries_what_the_app_exports(
    exported_now: dict[str, set[str]],
) -> None:
    missing: list[str] = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        uids = [p["id"] for p in board["panels"]]
        assert len(uids) == len(set(uids)), f"{path.name}: panel ids repeat"
        for panel in board["panels"]:
            assert panel["targets"], f"{path.name}: {panel['title']} has no query"
            for target in panel["targets"]:
                where = f"{path.name} / {panel['title']}"
                assert referenced(target["expr"])[0], f"{where}: no metric in its query"
                missing += [f"{where}: {m}" for m in unknown(target["expr"], exported_now)]
    assert missing == [], "panels query what the app does not export:\n" + "\n".join(missing)

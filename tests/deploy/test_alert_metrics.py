"""Every metric and label the alert rules watch is exported by the running app: the rules are
read, the app's /metrics is scraped, and a name the app does not export fails the test (so an
alert cannot silently watch nothing). `up` and the target labels `job` and `instance` come from
Prometheus itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import yaml
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yml"
FROM_PROMETHEUS = {"up"}
TARGET_LABELS = {"job", "instance", "le"}  # le: every histogram's buckets
KEYWORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "offset", "bool"}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_SELECTOR = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)?\{([^}]*)\}")
_IDENTIFIER = re.compile(r"(?<![\w.$])([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()")


def referenced(expr: str) -> tuple[set[str], set[str]]:
    """(metric names, label names) an expression reads."""
    labels: set[str] = set()
    for match in _SELECTOR.finditer(expr):
        labels |= set(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", match.group(2)))
    for match in _GROUPING.finditer(expr):
        labels |= {name.strip() for name in match.group(2).split(",") if name.strip()}
    bare = _GROUPING.sub(" ", _SELECTOR.sub(lambda m: m.group(1) or " ", expr))
    bare = re.sub(r"\[[^\]]*\]", " ", _STRING.sub(" ", bare))
    bare = re.sub(r"\boffset\s+\w+", " ", bare)
    metrics = {
        name
        for name in _IDENTIFIER.findall(bare)
        if name not in KEYWORDS and not re.fullmatch(r"\d\w*", name)
    }
    return metrics, labels


def _exported(text: str) -> dict[str, set[str]]:
    """Sample names the app exports, with the labels each may carry (declared or seen)."""
    found: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        declared = set(getattr(REGISTRY._names_to_collectors.get(family.name), "_labelnames", ()))
        names = {family.name}
        if family.type == "counter":
            names.add(f"{family.name}_total")
        if family.type == "histogram":
            names |= {f"{family.name}_{s}" for s in ("bucket", "count", "sum")}
        names |= {sample.name for sample in family.samples}
        labels = declared | {k for sample in family.samples for k in sample.labels}
        for name in names:
            found.setdefault(name, set()).update(labels)
    return found


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
    client: httpx.AsyncClient,
) -> None:
    scraped = await client.get("/metrics")
    assert scraped.status_code == 200
    exported = _exported(scraped.text)
    # Prometheus sets `job` and `instance` on every series it scrapes: an app label of that name
    # would be renamed exported_job and every rule grouping by it would group wrongly.
    clashing = sorted(n for n, labels in exported.items() if labels & {"job", "instance"})
    assert clashing == [], f"metrics with a label Prometheus overwrites: {clashing}"
    missing: list[str] = []
    for rule in _rules():
        metrics, labels = referenced(rule["expr"])
        assert metrics, f"{rule.get('alert')}: no metric found in its expression"
        known = {m for m in metrics if m in exported or m in FROM_PROMETHEUS}
        missing += [f"{rule.get('alert')}: metric {m}" for m in sorted(metrics - known)]
        offered = set().union(*(exported.get(m, set()) for m in known)) | TARGET_LABELS
        missing += [f"{rule.get('alert')}: label {lb}" for lb in sorted(labels - offered)]
    assert missing == [], "rules watch what the app does not export:\n" + "\n".join(missing)

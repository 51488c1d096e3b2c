"""The Prometheus alert rules: promtool accepts them, their unit tests pass, and every alert
has a unit test that fires it and one that does not.

promtool comes from Debian's `prometheus` package; `make test` installs it (the `services` step).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ALERTS = ROOT / "deploy" / "monitoring" / "alerts.yml"
RULE_TESTS = sorted((ROOT / "deploy" / "monitoring" / "tests").glob("*.yml"))

# The seed's named alerts (section 5): severity, `for`, and the threshold in the expression.
SEED_ALERTS = {
    "BackendAPIDown": ("critical", "2m", "== 0"),
    "DatabaseConnectionPoolExhausted": ("critical", "2m", ">= 0.95"),
    "HighErrorRate": ("critical", "5m", "> 0.05"),
    "OpenAIHardLimitReached": ("critical", "5m", ">= 1"),
    "HighMemoryUsage": ("warning", "10m", "> 0.8"),
    "SlowQueries": ("warning", "10m", 'le="1.0"'),
    "HighChurnRate": ("warning", "1h", "> 0.2"),
    "OpenAISpendExceeds50Percent": ("warning", "1h", ">= 0.5"),
    "UnexpectedAISpendSpike": ("warning", None, "> 3 *"),
}
AI_COST_ALERTS = {
    "OpenAISpendExceeds50Percent": ("warning", "1h"),
    "OpenAISpendExceeds80Percent": ("critical", "30m"),
    "OpenAIHardLimitReached": ("critical", "5m"),
    "UnexpectedAISpendSpike": ("warning", None),
}


def _promtool(*args: str) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: `make services` (or apt-get install prometheus)")
    return subprocess.run(
        [promtool, *args], cwd=ROOT, capture_output=True, text=True, timeout=120, check=False
    )


def _alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def _rule_test_cases() -> list[dict[str, Any]]:
    cases: list[dict[str, Any]] = []
    for path in RULE_TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            cases.extend(test.get("alert_rule_test", []))
    return cases


def _github_anchor(heading: str) -> str:
    slug = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return slug.replace(" ", "-")


def test_promtool_accepts_the_rules() -> None:
    result = _promtool("check", "rules", str(ALERTS.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_rules_unit_tests_pass() -> None:
    assert RULE_TESTS, "no rule unit tests in deploy/monitoring/tests"
    result = _promtool("test", "rules", *(str(p.relative_to(ROOT)) for p in RULE_TESTS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_a_case_that_fires_and_one_that_does_not() -> None:
    firing = {c["alertname"] for c in _rule_test_cases() if c.get("exp_alerts")}
    silent = {c["alertname"] for c in _rule_test_cases() if not c.get("exp_alerts")}
    names = {rule["alert"] for rule in _alert_rules()}

    assert names - firing == set(), "alerts without a unit test case where they fire"
    assert names - silent == set(), "alerts without a unit test case where they stay silent"


def test_the_ai_cost_controls_group_holds_exactly_its_alerts() -> None:
    groups = {g["name"]: g for g in yaml.safe_load(ALERTS.read_text())["groups"]}
    rules = {r["alert"]: r for r in groups["ai_cost_controls"]["rules"]}

    assert set(rules) == set(AI_COST_ALERTS)
    for name, (severity, duration) in AI_COST_ALERTS.items():
        assert rules[name]["labels"] == {"severity": severity, "team": "platform"}, name
        assert rules[name].get("for") == duration, name
        assert {"summary", "description", "runbook_url"} <= set(rules[name]["annotations"])


def test_every_runbook_url_points_at_a_section_of_a_runbook() -> None:
    for rule in _alert_rules():
        url = rule["annotations"]["runbook_url"]
        page, _, anchor = url.partition("#")
        assert page.startswith("docs/runbooks/") and (ROOT / page).is_file(), url
        text = (ROOT / page).read_text()
        headings = re.findall(r"^#{1,6} (.+)$", text, flags=re.MULTILINE)
        assert anchor in {_github_anchor(h) for h in headings}, (
            f"{rule['alert']}: no heading for #{anchor} in {page}"
        )


def test_the_seeds_alerts_exist_with_their_severity_and_threshold() -> None:
    rules = {r["alert"]: r for r in _alert_rules()}
    assert len(rules) >= 24
    for name, (severity, duration, threshold) in SEED_ALERTS.items():
        rule = rules[name]
        assert rule["labels"]["severity"] == severity, name
        assert rule.get("for") == duration, name
        assert threshold in rule["expr"], f"{name}: {threshold!r} not in {rule['expr']!r}"
        assert {"summary", "description", "runbook_url"} <= set(rule["annotations"]), name

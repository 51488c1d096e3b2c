"""The ai-cost-controls Terraform module, read with python-hcl2: its variables and defaults,
its settings keys against the app's Settings, the review CronJob and the network policies;
then checkov over it.

checkov has no rules for kubernetes_cron_job_v1 (only the default-namespace one), so the
review pod's hardening is asserted here directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from typing import Any

import hcl2
import pytest

from apex_mediation.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "deploy" / "terraform" / "modules" / "ai-cost-controls"

# The settings the module feeds to the app, by environment variable name (docs/ai.md).
EXPECTED_AI_CONFIG_ENV_NAMES = {
    "ENABLE_AI_AUTOMATION": "enable_ai_automation",
    "ENABLE_SALES_AI_OPTIMIZATION": "enable_sales_ai_optimization",
    "ENABLE_GROWTH_AI_ANALYTICS": "enable_growth_ai_analytics",
    "ENABLE_SELF_EVOLVING_AI": "enable_self_evolving_ai",
    "OPENAI_BASE_URL": "openai_base_url",
    "APEX_OPENAI_MODEL": "openai_model",
    "APEX_AI_MONTHLY_BUDGET_DOLLARS": "monthly_budget_dollars",
    "APEX_AI_SOFT_LIMIT_PERCENT": "soft_limit_percent",
    "APEX_AI_WARNING_PERCENT": "warning_percent",
    "APEX_AI_HARD_LIMIT_PERCENT": "hard_limit_percent",
    "APEX_AI_REVIEW_TIMEZONE": "review_timezone",
    "APEX_AI_REVIEW_HOUR": "review_hour",
    "APEX_PLATFORM_EMAIL": "platform_email",
    "APEX_FINANCE_EMAIL": "finance_email",
}
EXPECTED_AI_SECRET_ENV_NAMES = {
    "OPENAI_API_KEY": "openai_api_key",
    "APEX_SLACK_WEBHOOK_URL": "slack_webhook_url",
}

DEFAULTS = {
    "monthly_budget_dollars": 100,
    "soft_limit_percent": 50,
    "warning_percent": 80,
    "hard_limit_percent": 100,
    "enable_ai_automation": False,
    "enable_sales_ai_optimization": False,
    "enable_growth_ai_analytics": False,
    "enable_self_evolving_ai": False,
    "openai_base_url": "https://api.openai.com/v1",
    "openai_model": "gpt-4o-mini",
    "review_timezone": "UTC",
    "review_hour": 9,
    "labels": {},
}
REQUIRED = {"namespace", "image", "app_secret_name", "platform_email", "finance_email"}
SENSITIVE = {"openai_api_key", "slack_webhook_url"}
LIMITS = ("monthly_budget_dollars", "soft_limit_percent", "warning_percent", "hard_limit_percent")
JSON = ("-o", "json", "--skip-download")  # no download of Bridgecrew's check metadata
RFC1918 = {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"}


@cache
def _module() -> dict[str, Any]:
    options = hcl2.SerializationOptions(
        with_comments=False, explicit_blocks=False, strip_string_quotes=True
    )
    merged: dict[str, list[Any]] = {}
    for path in sorted(MODULE.glob("*.tf")):
        with path.open() as file:
            for key, blocks in hcl2.load(file, serialization_options=options).items():
                merged.setdefault(key, []).extend(blocks)
    return merged


def _variables() -> dict[str, dict[str, Any]]:
    return {name: body for block in _module()["variable"] for name, body in block.items()}


def _locals() -> dict[str, Any]:
    return {k: v for block in _module()["locals"] for k, v in block.items()}


def _resource(kind: str, name: str) -> dict[str, Any]:
    for block in _module()["resource"]:
        if kind in block and name in block[kind]:
            body: dict[str, Any] = block[kind][name]
            return body
    raise AssertionError(f"no resource {kind}.{name}")


def _review_pod() -> dict[str, Any]:
    job = _resource("kubernetes_cron_job_v1", "ai_review")["spec"][0]["job_template"][0]
    pod: dict[str, Any] = job["spec"][0]["template"][0]
    return pod


def _settings_aliases() -> set[str]:
    return {field.alias for field in Settings.model_fields.values() if field.alias}


def test_every_variable_of_the_issue_exists_with_its_default() -> None:
    variables = _variables()

    for name, default in DEFAULTS.items():
        assert variables[name].get("default") == default, name
    for name in REQUIRED:
        assert "default" not in variables[name], f"{name} must be given by the caller"
    for name in SENSITIVE:
        # Empty reads as unset in Settings (`_empty_is_unset`).
        assert variables[name].get("sensitive") is True, name
        assert variables[name]["default"] == "", name


def test_the_limits_are_validated_in_order() -> None:
    conditions = {
        name: " ".join(v["condition"] for v in _variables()[name].get("validation", []))
        for name in LIMITS
    }

    assert "var.monthly_budget_dollars > 0" in conditions["monthly_budget_dollars"]
    assert "var.soft_limit_percent > 0" in conditions["soft_limit_percent"]
    assert "var.soft_limit_percent < var.warning_percent" in conditions["soft_limit_percent"]
    assert "var.warning_percent <= var.hard_limit_percent" in conditions["warning_percent"]
    assert "var.hard_limit_percent <= 100" in conditions["hard_limit_percent"]


def test_config_map_and_secret_carry_each_setting_from_its_variable() -> None:
    config = _resource("kubernetes_config_map_v1", "ai_settings")["data"]
    secret = _resource("kubernetes_secret_v1", "ai_secrets")["data"]

    assert set(config) == set(EXPECTED_AI_CONFIG_ENV_NAMES)
    assert set(secret) == set(EXPECTED_AI_SECRET_ENV_NAMES)
    for data, expected in (
        (config, EXPECTED_AI_CONFIG_ENV_NAMES),
        (secret, EXPECTED_AI_SECRET_ENV_NAMES),
    ):
        for key, variable in expected.items():
            assert re.search(rf"\bvar\.{variable}\b", data[key]), f"{key} = {data[key]}"


def test_the_settings_keys_are_env_names_the_app_reads() -> None:
    aliases = _settings_aliases()
    env = _review_pod()["spec"][0]["container"][0]["env"]
    expected = set(EXPECTED_AI_CONFIG_ENV_NAMES) | set(EXPECTED_AI_SECRET_ENV_NAMES)

    assert expected - aliases == set(), "keys the app's Settings has no alias for"
    assert {e["name"] for e in env} - aliases == set()


def test_the_review_cron_job_runs_apex_ai_review_at_the_review_hour() -> None:
    cron = _resource("kubernetes_cron_job_v1", "ai_review")["spec"][0]
    pod = _review_pod()
    container = pod["spec"][0]["container"][0]
    refs = [next(iter(ref.values()))[0]["name"] for ref in container["env_from"]]

    assert cron["schedule"] == "0 ${var.review_hour} * * *"
    assert cron["timezone"] == "${var.review_timezone}"
    assert cron["concurrency_policy"] == "Forbid"
    assert [*container["command"], *container["args"]] == ["apex", "ai", "review"]
    assert container["image"] == "${var.image}"
    assert refs == [
        "${kubernetes_config_map_v1.ai_settings.metadata[0].name}",
        "${kubernetes_secret_v1.ai_secrets.metadata[0].name}",
        "${var.app_secret_name}",
    ]
    assert '"app.kubernetes.io/component" = "ai-review"' in pod["metadata"][0]["labels"]


def test_the_review_pod_runs_unprivileged_and_bounded() -> None:
    spec = _review_pod()["spec"][0]
    container = spec["container"][0]
    hardening = container["security_context"][0]
    resources = container["resources"][0]

    assert spec["automount_service_account_token"] is False
    assert spec["security_context"][0]["run_as_non_root"] is True
    assert spec["security_context"][0]["seccomp_profile"][0]["type"] == "RuntimeDefault"
    assert hardening["read_only_root_filesystem"] is True
    assert hardening["allow_privilege_escalation"] is False
    assert hardening["capabilities"][0]["drop"] == ["ALL"]
    assert set(resources["limits"]) == {"cpu", "memory"}
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert _variables()["run_as_user"]["default"] > 10000


def test_the_ai_egress_policy_selects_the_worker_and_review_pods() -> None:
    spec = _resource("kubernetes_network_policy_v1", "ai_egress")["spec"][0]
    selector = spec["pod_selector"][0]
    rules = spec["egress"]
    public = [r for r in rules if r.get("to") and r["to"][0]["ip_block"][0]["cidr"] == "0.0.0.0/0"]
    dns = [r for r in rules if "to" not in r and "dynamic" not in r]

    assert selector["match_labels"] == {"app.kubernetes.io/name": "apex-mediation"}
    assert selector["match_expressions"] == [
        {"key": "app.kubernetes.io/component", "operator": "In", "values": "${local.ai_components}"}
    ]
    assert _locals()["ai_components"] == ["worker", "ai-review"]
    assert spec["policy_types"] == ["Egress"]
    assert public[0]["to"][0]["ip_block"][0]["except"] == "${var.private_cidrs}"
    assert {"port": "443", "protocol": "TCP"} in public[0]["ports"]
    assert {(p["port"], p["protocol"]) for p in dns[0]["ports"]} == {("53", "UDP"), ("53", "TCP")}
    assert set(_variables()["private_cidrs"]["default"]) == RFC1918


def test_the_api_policy_closes_public_tcp_443_and_nothing_else() -> None:
    policy = _resource("kubernetes_network_policy_v1", "api_no_public_https")
    spec = policy["spec"][0]
    public = next(r for r in spec["egress"] if r.get("to"))
    tcp = sorted(
        (int(p["port"]), p.get("end_port", int(p["port"])))
        for p in public["ports"]
        if p["protocol"] == "TCP"
    )

    assert policy["count"] == "${var.deny_api_public_https ? 1 : 0}"
    assert _variables()["deny_api_public_https"]["default"] is False
    assert spec["pod_selector"][0]["match_labels"]["app.kubernetes.io/component"] == "api"
    assert public["to"][0]["ip_block"][0]["except"] == "${var.private_cidrs}"
    assert tcp == [(1, 442), (444, 65535)]
    assert {"protocol": "UDP"} in public["ports"]


def _checkov() -> str | None:
    candidates = [os.environ.get("CHECKOV"), str(Path(sys.executable).parent / "checkov")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file():
            return candidate
    return shutil.which("checkov")


def test_checkov_finds_nothing_to_fix() -> None:
    checkov = _checkov()
    if checkov is None:
        pytest.skip("checkov is not installed (set CHECKOV=/path/to/checkov)")
    result = subprocess.run(
        [checkov, "-d", str(MODULE), "--framework", "terraform", "--quiet", "--compact", *JSON],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = json.loads(result.stdout)
    summary = report["summary"]
    failed = report["results"].get("failed_checks", [])

    assert [(c["check_id"], c["resource"]) for c in failed] == [], result.stdout
    assert summary["parsing_errors"] == 0
    assert summary["resource_count"] == 5
    assert summary["passed"] > 0


def test_the_module_is_formatted() -> None:
    terraform = shutil.which("terraform")
    if terraform is None:
        pytest.skip("terraform is not installed")
    result = subprocess.run(
        [terraform, "fmt", "-check", "-diff", str(MODULE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

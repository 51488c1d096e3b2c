"""The Dockerfile and docker-compose.yml, checked as files (no Docker engine runs on the
machines the tests run on): a multi-stage build whose final image runs as a non-root user with
a health check and copies only what exists; compose services that wire the stores, the API,
the worker, Prometheus and Grafana together with settings the app reads, secrets required
from .env rather than written down, and a Prometheus configuration promtool accepts."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from apex_mediation.settings import Settings
from tests.deploy.test_terraform_module import JSON, _checkov

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
APP_SERVICES = ("init", "api", "worker")


def _compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def _stages() -> list[list[str]]:
    """The Dockerfile's instructions per stage (continuation lines joined)."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        stages[-1].append(line)
    return stages


def test_the_image_builds_in_stages_and_runs_unprivileged() -> None:
    stages = _stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert final[0].startswith("FROM python:3.11-slim")
    users = [ln.split()[1] for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(ln.startswith("HEALTHCHECK ") and "/health" in ln for ln in final)
    assert any(ln.startswith('ENTRYPOINT ["apex"]') for ln in final)
    assert not any(ln.startswith(("ADD ", "RUN apt-get")) for ln in final)


def test_what_the_image_copies_exists_and_is_not_ignored() -> None:
    ignored = {ln.strip() for ln in (ROOT / ".dockerignore").read_text().splitlines()}
    for stage in _stages():
        for line in stage:
            if line.startswith("COPY ") and "--from=" not in line:
                *sources, _ = line.split()[1:]
                for source in sources:
                    assert (ROOT / source).exists(), source
                    assert source not in ignored, source


def test_compose_wires_every_service() -> None:
    services = _compose()["services"]
    assert set(services) >= {"postgres", "redis", "clickhouse", "api", "worker", "prometheus",
                             "grafana", "init"}  # fmt: skip
    for name, service in services.items():
        assert service.get("image"), name
        for dependency in service.get("depends_on", []):
            assert dependency in services, (name, dependency)
    for name in APP_SERVICES:
        assert services[name]["build"] == "."
    assert services["api"]["command"] == ["serve"]
    assert services["worker"]["command"] == ["worker", "--metrics-port", "9100"]
    assert services["api"]["environment"]["APEX_BACKGROUND_JOBS"] == "false"


def test_compose_settings_are_read_by_the_app_and_secrets_come_from_env() -> None:
    aliases = {f.alias for f in Settings.model_fields.values() if f.alias}
    services = _compose()["services"]
    for name in APP_SERVICES:
        environment = services[name]["environment"]
        assert set(environment) - aliases == set(), name
        for key in ("APEX_SECRET_KEY", "DATABASE_URL", "CLICKHOUSE_URL"):
            assert re.search(r"\$\{[A-Z_]+:\?", environment[key]), (name, key)
    for service in services.values():
        for key, value in (service.get("environment") or {}).items():
            if re.search("PASSWORD|SECRET", key):
                assert str(value).startswith("${") and ":?" in str(value), key
    example = (ROOT / ".env.example").read_text()
    required = set(re.findall(r"\$\{([A-Z_]+):\?", COMPOSE.read_text()))
    assert required <= set(re.findall(r"^([A-Z_]+)=", example, flags=re.MULTILINE))


def test_mounted_files_exist() -> None:
    for service in _compose()["services"].values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("./"):
                assert (ROOT / source).exists(), source


def test_prometheus_scrapes_the_compose_services_and_loads_the_rules() -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: `make services` (or apt-get install prometheus)")
    config = ROOT / "deploy" / "monitoring" / "prometheus.yml"
    checked = subprocess.run(
        [promtool, "check", "config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    jobs = {
        job["job_name"]: job["static_configs"][0]["targets"]
        for job in yaml.safe_load(config.read_text())["scrape_configs"]
    }
    assert jobs == {"apex-api": ["api:8000"], "apex-worker": ["worker:9100"]}
    grafana = _compose()["services"]["grafana"]["volumes"]
    assert "./deploy/monitoring/dashboards:/var/lib/grafana/dashboards/apex:ro" in grafana


def test_checkov_finds_nothing_to_fix_in_the_dockerfile() -> None:
    checkov = _checkov()
    if checkov is None:
        pytest.skip("checkov is not installed (set CHECKOV=/path/to/checkov)")
    result = subprocess.run(
        [checkov, "-f", str(DOCKERFILE), "--framework", "dockerfile", "--quiet", "--compact",
         *JSON],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )  # fmt: skip
    report = json.loads(result.stdout)
    failed = report["results"].get("failed_checks", [])
    assert [(c["check_id"], c["resource"]) for c in failed] == [], result.stdout
    assert report["summary"]["passed"] > 0

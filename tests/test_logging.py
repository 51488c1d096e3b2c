"""One JSON object per line for every logger — the modules' standard-library loggers too, which
is what Loki and the example Promtail pipeline (deploy/monitoring/promtail.yml) read — with the
request id of the request being served."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import httpx
import pytest
import yaml
from fastapi import FastAPI

from apex_mediation.observability.logging import RequestIdMiddleware, configure_logging
from tests.deploy.test_container import ROOT


@pytest.fixture
def json_logs() -> Iterator[None]:
    configure_logging("INFO", True)
    yield
    configure_logging("WARNING", False)


def _lines(text: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


async def test_a_module_logger_writes_json_with_the_request_id(
    json_logs: None, capsys: pytest.CaptureFixture[str]
) -> None:
    app = FastAPI()
    app.add_middleware(RequestIdMiddleware)  # as create_app installs it

    @app.get("/logs-something")
    async def logs_something() -> dict[str, str]:
        logging.getLogger("apex_mediation.example").warning("while serving %s", "it")
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.get("/logs-something", headers={"X-Request-ID": "req-logged-1"})
    assert response.status_code == 200
    logged = [e for e in _lines(capsys.readouterr().out) if e["event"] == "while serving it"]
    assert logged and logged[0]["request_id"] == "req-logged-1"
    assert logged[0]["level"] == "warning" and logged[0]["logger"] == "apex_mediation.example"
    assert str(logged[0]["timestamp"]).endswith("Z")


def test_exceptions_and_levels(json_logs: None, capsys: pytest.CaptureFixture[str]) -> None:
    log = logging.getLogger("apex_mediation.example")
    log.debug("below the level")
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("it failed")
    logging.getLogger("httpx").info("HTTP Request: POST https://hooks.example/secret-token")
    lines = _lines(capsys.readouterr().out)
    assert [e["event"] for e in lines] == ["it failed"]
    assert "ValueError: broken" in str(lines[0]["exception"])
    configure_logging("INFO", True)
    log.info("once")
    assert len(_lines(capsys.readouterr().out)) == 1  # configured twice, one handler


def test_the_promtail_pipeline_reads_the_fields_the_app_writes() -> None:
    config = yaml.safe_load((ROOT / "deploy" / "monitoring" / "promtail.yml").read_text())
    stages = config["scrape_configs"][0]["pipeline_stages"]
    extracted = next(s["json"]["expressions"] for s in stages if "json" in s)
    assert set(extracted.values()) <= {"event", "level", "logger", "timestamp", "request_id"}
    labels = next(s["labels"] for s in stages if "labels" in s)
    assert "request_id" not in labels  # a label per request would explode Loki's index
    timestamp = next(s["timestamp"] for s in stages if "timestamp" in s)
    assert timestamp["source"] in extracted and timestamp["format"] == "RFC3339Nano"

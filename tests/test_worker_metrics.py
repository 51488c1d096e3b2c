"""The worker's metrics, on a port of their own (it has no HTTP app): what its job runs,
notifications and AI spend count is scrapeable, and the answer is its liveness probe."""

from __future__ import annotations

import socket

import httpx

from apex_mediation.jobs.runner import runs_total
from apex_mediation.observability.refresh import serve_metrics


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_the_worker_serves_its_metrics() -> None:
    port = _free_port()
    serve_metrics("127.0.0.1", port)
    runs_total.labels("sales", "failed").inc()
    scraped = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert scraped.status_code == 200
    assert 'job_runs_total{outcome="failed",task="sales"}' in scraped.text
    assert "process_memory_limit_bytes" in scraped.text and "outbox_pending" in scraped.text

"""The `apex` command line."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from apex_mediation.cli import app
from tests.conftest import create_database, drop_database

runner = CliRunner()


def test_config_show_masks_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("APEX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APEX_SECRET_KEY", "a-very-secret-value-0123456789abcdef")
    monkeypatch.setenv("DATABASE_URL", "postgresql://apex:pa55word@db.internal:5432/apex")
    result = runner.invoke(app, ["config", "show"], terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "a-very-secret-value" not in result.output
    assert "pa55word" not in result.output
    assert "db.internal" in result.output


def test_production_without_secret_stops_with_a_clear_message(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("APEX_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("APEX_ENV", "production")
    monkeypatch.delenv("APEX_SECRET_KEY", raising=False)
    result = runner.invoke(app, ["serve"], terminal_width=200)
    assert result.exit_code == 2
    assert "APEX_SECRET_KEY is not set" in result.output


def apex(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI in its own process: chDB allows one data path per process."""
    return subprocess.run(
        [sys.executable, "-m", "apex_mediation", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200", **env},
        timeout=120,
        check=False,
    )


def test_migrate_check_and_create_publisher(fresh_database: str, tmp_path: Path) -> None:
    env = {"APEX_DATA_DIR": str(tmp_path), "DATABASE_URL": fresh_database}
    pending = apex("migrate", "--check", env=env)
    assert pending.returncode == 1, pending.stderr
    assert "postgres   001_initial_schema" in pending.stdout
    assert "clickhouse 0001_sdk_telemetry" in pending.stdout
    assert apex("migrate", env=env).returncode == 0
    done = apex("migrate", "--check", env=env)
    assert done.returncode == 0
    assert "up to date" in done.stdout
    args = [
        "admin",
        "create-publisher",
        "--name",
        "Acme",
        "--email",
        "ops@acme.example",
        "--password",
        "a long enough password",
    ]
    created = apex(*args, env=env)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "created" in created.stdout
    again = apex(*args, env=env)
    assert again.returncode == 1
    assert "already exists" in again.stdout


def test_ivt_commands(fresh_database: str, tmp_path: Path) -> None:
    env = {"APEX_DATA_DIR": str(tmp_path), "DATABASE_URL": fresh_database}
    assert apex("migrate", env=env).returncode == 0
    aws = tmp_path / "ip-ranges.json"
    aws.write_text(
        '{"syncToken": "1", "createDate": "2026-11-25-00-00-00", "prefixes": ['
        '{"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "EC2"},'
        '{"ip_prefix": "3.5.140.0/22", "region": "ap-northeast-2", "service": "AMAZON"}],'
        '"ipv6_prefixes": [{"ipv6_prefix": "2600:1f14::/35", "service": "EC2"}]}'
    )
    loaded = apex("ivt", "load-ranges", str(aws), env=env)
    assert loaded.returncode == 0, loaded.stdout + loaded.stderr
    assert "2 ranges loaded" in loaded.stdout and "(aws)" in loaded.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text("10.0.0.0/8\nnot-a-range\n")
    refused = apex("ivt", "load-ranges", str(bad), env=env)
    assert refused.returncode == 1 and "not-a-range" in refused.stdout
    listed = apex("ivt", "list-add", "--kind", "ip", "--value", "203.0.113.9", env=env)
    assert listed.returncode == 0 and "block ip 203.0.113.9" in listed.stdout
    wrong = apex("ivt", "list-add", "--kind", "ip", "--value", "nine", env=env)
    assert wrong.returncode == 1 and "value:" in wrong.stdout
    publisher = apex(
        "admin", "create-publisher", "--name", "Acme", "--email", "ivt@acme.example",
        "--password", "a long enough password", env=env,
    )  # fmt: skip
    publisher_id = publisher.stdout.split("publisher ", 1)[1].split()[0]
    inverted = apex(
        "ivt", "thresholds", "--publisher", publisher_id, "--block", "0.5", "--flag", "0.8",
        env=env,
    )  # fmt: skip
    assert inverted.returncode == 1 and "flag:" in inverted.stdout


def test_ai_commands(fresh_database: str, tmp_path: Path) -> None:
    """In-process (these commands never open chDB), so the dozen calls stay quick."""
    env = {"APEX_DATA_DIR": str(tmp_path), "DATABASE_URL": fresh_database, "COLUMNS": "200"}
    assert apex("migrate", env=env).returncode == 0

    def ai(*args: str) -> Any:
        return runner.invoke(app, ["ai", *args], env=env)

    estimated = ai("estimate", "--customers", "100")
    assert estimated.exit_code == 0, estimated.stderr
    assert "$2.77" in estimated.stdout and "$5.54" in estimated.stdout
    assert "$8.31" in estimated.stdout
    at_scale = ai("estimate", "--customers", "10000")
    assert "$831.00" in at_scale.stdout
    shown = ai("flags")
    assert "ENABLE_AI_AUTOMATION           off  (environment)" in shown.stdout
    status = ai("rollout", "status")
    assert "stage 0 of 3" in status.stdout and "ready" in status.stdout
    advanced = ai("rollout", "advance")
    assert advanced.exit_code == 0 and "stage 1 of 3" in advanced.stdout
    refused = ai("rollout", "advance")
    assert refused.exit_code == 1 and "each stage runs a week" in refused.stdout
    off = ai("flags", "set", "ENABLE_AI_AUTOMATION", "off")
    assert off.exit_code == 0 and "is off" in off.stdout
    assert "off  (set" in ai("flags").stdout
    bad = ai("flags", "set", "ENABLE_EVERYTHING", "on")
    assert bad.exit_code == 1 and "unknown flag" in bad.stdout
    budget = ai("budget", "set", "250")
    assert budget.exit_code == 0 and "of $250.00" in budget.stdout
    assert "hard $250.00" in budget.stdout
    review = ai("review")
    assert review.exit_code == 0 and "Month to date" in review.stdout


def test_billing_invoice_refuses_an_open_month(tmp_path: Path) -> None:
    env = {"APEX_DATA_DIR": str(tmp_path)}
    this_month = dt.datetime.now(dt.UTC).strftime("%Y-%m")
    refused = apex("billing", "invoice", "--month", this_month, env=env)
    assert refused.returncode == 2 and "only a month that has ended" in refused.stdout
    malformed = apex("billing", "invoice", "--month", "2026-13", env=env)
    assert malformed.returncode == 2 and "YYYY-MM" in malformed.stdout


def test_notify_dead_and_requeue(fresh_database: str, tmp_path: Path) -> None:
    env = {"APEX_DATA_DIR": str(tmp_path), "DATABASE_URL": fresh_database, "COLUMNS": "200"}
    assert apex("migrate", env=env).returncode == 0
    with psycopg.connect(fresh_database, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO notification_outbox (channel, category, template, recipient, subject, "
            "body_text, status, attempts, last_error, dead_at) VALUES ('email', 'billing', "
            "'billing/invoice_paid', 'owner@example.com', 's', 'b', 'dead', 8, "
            "'550 mailbox unavailable', now())"
        )

    def notify(*args: str) -> Any:
        return runner.invoke(app, ["notify", *args], env=env)

    listed = notify("dead")
    assert listed.exit_code == 0, listed.stdout
    assert "email billing billing/invoice_paid to owner@example.com: 8 attempts" in listed.stdout
    assert "550 mailbox unavailable" in listed.stdout and "1 dead notification(s)" in listed.stdout
    both = notify("requeue", "--all", "0b1e2b4e-0000-4000-8000-000000000000")
    assert both.exit_code == 2 and "not both" in both.output
    bad = notify("requeue", "not-an-id")
    assert bad.exit_code == 2 and "not a notification id" in bad.output
    done = notify("requeue", "--all")
    assert done.exit_code == 0 and "requeued 1 notification(s)" in done.stdout
    assert "0 dead notification(s)" in notify("dead").stdout
    with psycopg.connect(fresh_database) as conn:
        row = conn.execute("SELECT status, attempts FROM notification_outbox").fetchone()
    assert row == ("pending", 0)


def test_backup_then_restore_into_new_stores(
    fresh_database: str, pg_admin_url: str, tmp_path: Path
) -> None:
    source = {"APEX_DATA_DIR": str(tmp_path / "source"), "DATABASE_URL": fresh_database}
    assert apex("migrate", env=source).returncode == 0
    made = apex(
        "admin", "create-publisher", "--name", "Backed Up", "--email", "ops@backed.example",
        "--password", "a long enough password", env=source,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    backed = apex("backup", "--out", str(tmp_path / "backup"), env=source)
    assert backed.returncode == 0, backed.stdout + backed.stderr
    assert "backed up to" in backed.stdout and "ClickHouse" in backed.stdout

    target_url = create_database(pg_admin_url, "apex_cli_restore")
    try:
        target = {"APEX_DATA_DIR": str(tmp_path / "target"), "DATABASE_URL": target_url}
        restored = apex("restore", str(tmp_path / "backup"), env=target)
        assert restored.returncode == 0, restored.stdout + restored.stderr
        assert "every table's rows and checksum match the manifest" in restored.stdout
        again = apex("restore", str(tmp_path / "backup"), env=target)
        assert again.returncode == 1 and "PostgreSQL database is not empty" in again.stdout
        with psycopg.connect(target_url) as conn:
            row = conn.execute("SELECT name FROM publishers").fetchone()
        assert row == ("Backed Up",)
    finally:
        drop_database(pg_admin_url, target_url)

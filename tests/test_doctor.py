"""`apex doctor`: findings from the settings alone, and from the stores of a running install
(the test session's: migrated, with a signing key); each check that must fail does."""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import delete

from apex_mediation.accounts.identity import Actor
from apex_mediation.ai import flags
from apex_mediation.db.models import AiFlag
from apex_mediation.doctor import Finding, settings_findings, store_findings
from apex_mediation.services import Services
from apex_mediation.settings import Settings

OPERATOR = Actor(kind="user", id="operator-1", publisher_id=None, is_platform_operator=True)


def _by_area(findings: list[Finding]) -> dict[str, Finding]:
    return {f.area: f for f in findings}


def test_a_development_install_needs_no_external_service(tmp_path: Path) -> None:
    found = settings_findings(Settings(APEX_DATA_DIR=tmp_path))
    assert [f for f in found if f.status != "ok"] == []
    assert "e-mails are written to the log" in _by_area(found)["mail"].detail


def test_production_names_what_is_missing(tmp_path: Path) -> None:
    settings = Settings(
        APEX_ENV="production",
        APEX_DATA_DIR=tmp_path,
        APEX_PUBLIC_URL="http://ads.example.com",
        APEX_STRIPE_SECRET_KEY="sk_live_x",
    )
    found = _by_area(settings_findings(settings))
    assert found["public url"].status == "fail"
    assert found["billing"].status == "fail" and "WEBHOOK_SECRET" in found["billing"].detail
    assert found["mail"].status == "warn" and found["redis"].status == "warn"
    assert found["database"].status == "warn"


async def test_a_healthy_install_passes_and_a_broken_one_is_named(
    services: Services, app: FastAPI
) -> None:
    found = _by_area(await store_findings(services))
    # The session's server may not preload pg_stat_statements: a warning naming the remedy.
    assert {area for area, f in found.items() if f.status != "ok"} <= {"query statistics"}
    assert found["query statistics"].status == "ok" or "pg_stat_statements" in (
        found["query statistics"].detail
    )
    assert found["migrations"].detail == "both schemas up to date"
    assert found["signing keys"].detail.startswith("active key ")

    pem = next(services.settings.keys_dir.glob("*.pem"))
    mode = pem.stat().st_mode
    os.chmod(pem, 0o644)
    async with services.postgres.session() as session:
        await flags.set_flag(session, services.settings, OPERATOR, "ENABLE_AI_AUTOMATION", True)
        await session.commit()
    try:
        broken = _by_area(await store_findings(services))
    finally:
        os.chmod(pem, mode)
        async with services.postgres.session() as session:
            await session.execute(delete(AiFlag))
            await session.commit()
    assert broken["key files"].status == "fail" and pem.name in broken["key files"].detail
    assert broken["ai"].status == "fail"
    assert "ENABLE_AI_AUTOMATION on but OPENAI_API_KEY is not set" in broken["ai"].detail

"""The PostgreSQL schema: named revisions, a linear chain, reversible, identical to the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import DBAPIError

from apex_mediation.db import migrate
from apex_mediation.db.models import Base

SEED_NAMES = [
    "001_initial_schema",
    "002_add_stripe_integration",
    "003_add_revenue_tracking",
    "004_add_sdk_metadata",
    "005_add_usage_records",
    "011_add_audit_logs",
]


def test_revisions_carry_the_seed_names_in_a_linear_chain() -> None:
    revisions = migrate.all_revisions()
    assert revisions[: len(SEED_NAMES)] == SEED_NAMES


def test_upgrade_downgrade_upgrade_on_a_fresh_database(fresh_database: str) -> None:
    assert migrate.pending_revisions(fresh_database) == migrate.all_revisions()
    migrate.upgrade(fresh_database)
    assert migrate.pending_revisions(fresh_database) == []
    # Step down one revision at a time so every downgrade runs on its own.
    for revision in reversed(migrate.all_revisions()[:-1]):
        migrate.downgrade(fresh_database, revision)
        assert migrate.current_revision(fresh_database) == revision
    migrate.downgrade(fresh_database, "base")
    engine = create_engine(migrate.sync_url(fresh_database))
    with engine.connect() as conn:
        assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    migrate.upgrade(fresh_database)
    assert migrate.current_revision(fresh_database) == migrate.all_revisions()[-1]
    engine.dispose()


def test_models_match_the_migrated_schema(pg_url: str) -> None:
    engine = create_engine(migrate.sync_url(pg_url))
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    engine.dispose()
    assert diff == []


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_logs SET action = 'forged'",
        "DELETE FROM audit_logs",
        "TRUNCATE audit_logs",
    ],
)
def test_audit_log_refuses_changes(pg_url: str, statement: str) -> None:
    engine = create_engine(migrate.sync_url(pg_url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO audit_logs (actor_type, action, object_type) "
                "VALUES ('system', 'test.append', 'test')"
            )
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement))
    with engine.connect() as conn:
        assert (
            conn.execute(
                text("SELECT count(*) FROM audit_logs WHERE action = 'test.append'")
            ).scalar_one()
            >= 1
        )
    engine.dispose()

"""No drift between the code's SQL and the migrated schema. Queries built from the models are
covered by test_models_match_the_migrated_schema; this finds every raw `text(...)` statement in
the code and has PostgreSQL plan it (EXPLAIN, nothing runs) against the migrated database, so a
column or table the migrations do not create fails here, not in production. Raw SQL must be a
constant string for this to see it; building it at run time fails the test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from sqlalchemy import create_engine, text

from apex_mediation.db import migrate

SOURCE = Path(__file__).resolve().parents[2] / "src" / "apex_mediation"
VERB = re.compile(r"\s*(SELECT|INSERT|UPDATE|DELETE|WITH|SHOW|CREATE)\b", re.IGNORECASE)
BIND = re.compile(r"(?<!:):([a-z_][a-z0-9_]*)", re.IGNORECASE)


def _is_text_call(node: ast.Call) -> bool:
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "text") or (
        isinstance(func, ast.Attribute) and func.attr == "text" and isinstance(func.value, ast.Name)
        and func.value.id in ("sa", "sqlalchemy")
    )  # fmt: skip


def raw_statements() -> tuple[list[tuple[str, str]], list[str]]:
    found: list[tuple[str, str]] = []
    dynamic: list[str] = []
    for path in sorted(SOURCE.rglob("*.py")):
        if "migrations" in path.parts:
            continue
        source = path.read_text()
        if not re.search(r"from sqlalchemy import [^\n]*\btext\b", source):
            continue  # `text` here is not SQLAlchemy's (the SDK wire formats have their own)
        tree = ast.parse(source, str(path))
        constants = {  # module-level NAME = "..." (a statement kept in a named constant)
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or not _is_text_call(node) or not node.args:
                continue
            where = f"{path.relative_to(SOURCE)}:{node.lineno}"
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                sql = first.value
            elif isinstance(first, ast.Name) and first.id in constants:
                sql = constants[first.id]
            else:
                dynamic.append(where)
                continue
            if VERB.match(sql):  # a statement; the rest are expressions (column defaults)
                found.append((where, sql))
    return found, dynamic


def test_raw_sql_is_constant_and_found() -> None:
    found, dynamic = raw_statements()
    assert dynamic == [], f"raw SQL built at run time cannot be checked: {dynamic}"
    assert len(found) >= 4  # the search found the code's statements, not nothing


def test_every_raw_statement_plans_against_the_migrated_schema(pg_url: str) -> None:
    found, _ = raw_statements()
    engine = create_engine(migrate.sync_url(pg_url))
    problems = []
    with engine.connect() as conn:
        for where, sql in found:
            statement = sql.strip()
            verb = statement.split(None, 1)[0].upper()
            if verb in ("SHOW", "CREATE") or "pg_stat_statements" in statement:
                # Settings, the extension's DDL and its view (present only where it is
                # installed, which stores/query_stats.py detects at run time).
                continue
            params = {name: None for name in BIND.findall(statement)}
            try:
                with conn.begin():
                    conn.execute(text(f"EXPLAIN {statement}"), params)
            except Exception as exc:
                problems.append(f"{where}: {str(exc).splitlines()[0]}")
    engine.dispose()
    assert problems == []

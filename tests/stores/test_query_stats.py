"""pg_stat_statements on an external server that does not preload it (the test server at
127.0.0.1 is such a server): detected, and the remedy named for the operator."""

from __future__ import annotations

from apex_mediation.services import Services
from apex_mediation.stores.query_stats import _advice, detect


async def test_an_external_server_without_preload_gets_the_remedy(services: Services) -> None:
    found = await detect(services.postgres)
    if found.preloaded:  # a server configured for it: then it must be usable
        assert found.usable and found.advice is None
        return
    assert not found.usable and not found.installed
    assert found.advice is not None and "shared_preload_libraries" in found.advice
    assert "parameter group" in found.advice  # what to change on a managed service


def test_each_missing_level_has_its_own_remedy() -> None:
    assert "contrib" in (_advice(False, False, False, None) or "")
    assert "shared_preload_libraries" in (_advice(True, False, False, None) or "")
    assert "CREATE EXTENSION" in (_advice(True, True, False, "permission denied") or "")
    assert _advice(True, True, True, None) is None

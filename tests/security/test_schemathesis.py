"""Every operation of the OpenAPI document, fuzzed with schemathesis as a real publisher.

Each operation gets a bounded number of generated requests, valid ones (positive) and invalid
ones (negative), sent as the publisher's owner (console session), with the publisher's API key
(all scopes but `sdk`) and as a platform operator in turn. Path ids are random or the
publisher's own objects, so both "not found" and the real answers are checked. Every answer
must be a documented status code with a body matching the documented schema, and never a 5xx;
invalid input must be refused.

The requests go through httpx's ASGI transport on the test session's event loop, where the
stores' connection pools live; schemathesis only generates the cases and checks the answers.
Generation is derandomised, so a failure reproduces on the next run.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apex_mediation.services import Services
from tests.helpers import Tenant
from tests.security.world import (
    PATH_KINDS,
    PUBLIC_OPERATIONS,
    Operator,
    log_in_operator,
    make_objects,
)

# Per operation and mode: about 60 operations x (positive + negative) x this runs in about a
# minute and a half on two cores. Generation is derandomised, so a run never flakes; raising
# this locally searches further.
EXAMPLES = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# Headers the generator fills from the parameters FastAPI documents for authentication; the
# test sets them itself from the identity it acts as.
AUTH_HEADERS = frozenset({"authorization", "x-publisher-id", "x-csrf-token", "cookie"})


@dataclass
class World:
    app: FastAPI
    loop: asyncio.AbstractEventLoop
    tenant: Tenant
    operator: Operator
    objects: dict[str, str]
    anonymous: httpx.AsyncClient


@pytest.fixture
async def world(
    app: FastAPI,
    tenant: Tenant,
    services: Services,
    make_client: Callable[[], httpx.AsyncClient],
) -> AsyncIterator[World]:
    async with make_client() as http, make_client() as anonymous:
        operator = await log_in_operator(services, http)
        objects = await make_objects(tenant, services)
        yield World(app, asyncio.get_running_loop(), tenant, operator, objects, anonymous)


def _identity(
    world: World, case: schemathesis.Case, turn: int
) -> tuple[httpx.AsyncClient, dict[str, str]]:
    """The client and headers of the turn'th request: owner session, API key, operator; a
    public operation (signup, login, logout) goes without any, so that it cannot end or
    replace the sessions the other requests use."""
    if f"{case.method.upper()} {case.path}" in PUBLIC_OPERATIONS:
        return world.anonymous, {}
    tenant = world.tenant
    return [
        (tenant.http, {"X-CSRF-Token": tenant.csrf}),
        (tenant.http, tenant.auth),
        (world.operator.http, {"X-CSRF-Token": world.operator.csrf}),
    ][turn % 3]


def _request_kwargs(case: schemathesis.Case) -> dict[str, Any]:
    """The case as httpx arguments (schemathesis serialises for `requests`)."""
    sent = case.as_transport_kwargs(base_url="http://testserver")
    headers = {k: v for k, v in sent.get("headers", {}).items() if k.lower() not in AUTH_HEADERS}
    kwargs: dict[str, Any] = {
        "method": sent["method"],
        "url": sent["url"],
        "params": sent.get("params") or None,
        "headers": headers,
    }
    if "json" in sent:
        kwargs["content"] = json.dumps(sent["json"]).encode()
    elif isinstance(sent.get("data"), (bytes, str)):
        kwargs["content"] = sent["data"]
    elif sent.get("data") is not None:
        kwargs["data"] = sent["data"]
    return kwargs


async def _send(world: World, case: schemathesis.Case, turn: int) -> httpx.Response:
    http, auth = _identity(world, case, turn)
    kwargs = _request_kwargs(case)
    kwargs["headers"] = {**kwargs["headers"], **auth}
    # The key wins over a session cookie; without a key, the cookie is the identity.
    response = await http.request(**kwargs)
    if http is world.anonymous:
        http.cookies.clear()  # a signup or login through it must not carry over
    return response


def _strategy(operation: Any, mode: GenerationMode, world: World) -> st.SearchStrategy[Any]:
    random_ids = operation.as_strategy(generation_mode=mode)
    names = [p.name for p in operation.path_parameters]
    if not names:
        return random_ids
    unknown = [name for name in names if name not in PATH_KINDS]
    assert not unknown, f"{operation.label}: add {unknown} to tests/security/world.PATH_KINDS"
    own = {name: world.objects[PATH_KINDS[name]] for name in names}
    return st.one_of(random_ids, operation.as_strategy(generation_mode=mode, path_parameters=own))


def _fuzz(world: World, operation: Any, mode: GenerationMode) -> None:
    turns = iter(range(10**9))

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        # No shrinking: each step is a request with database work, and the derandomised first
        # failing example reproduces as it is.
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        report_multiple_bugs=False,
    )
    @hypothesis.given(case=_strategy(operation, mode, world))
    def run(case: schemathesis.Case) -> None:
        response = world.loop.run_until_complete(_send(world, case, next(turns)))
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    except hypothesis.errors.Unsatisfiable:
        # Nothing about the operation can be made invalid (no parameters or body beyond the
        # credentials, which the test sets itself): there is no negative case to send.
        if mode is not GenerationMode.NEGATIVE:
            raise


def test_every_operation_answers_as_documented(world: World) -> None:
    schema = schemathesis.openapi.from_dict(world.app.openapi())
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(world, operation, mode)
            except Exception as exc:  # collect every operation's failure, then report them all
                failures.append(f"{operation.label} ({mode.value}): {exc}")
    assert operations >= 50
    assert not failures, "\n\n".join(failures)

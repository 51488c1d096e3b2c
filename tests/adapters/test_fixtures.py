"""One harness for every adapter fixture (the Prebid Server pattern).

Each JSON file under `tests/adapters/<network>/exemplary/` or `.../supplemental/` describes one
scenario: the bidder call, the HTTP requests the adapter must describe, the mocked replies, and the
bids, no-bid reason and errors expected from them. Adding a case is adding a file. Exemplary files
must expect no errors at all.

Fixture keys:
  call                      BidderCall fields; `request` holds the AuctionRequest
  expectedValidationErrors  registry.validate_line(...) for the call's params/credentials ([])
  expectedBuildError        build_requests raises AdapterError with this message
  expectedRequests          [{method, url, headers (subset, any case), body (JSON, exact)}]
  mockResponses             [{status, headers, body (JSON value, or a string sent as is)}]
  expectedBids              [Bid fields]
  expectedNoBidReason       the no_bid_reason of the (last) reply
  expectedErrors            parse errors, in order: "literal" or {"value", "comparison": "regex"}
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import msgspec
import pytest

from apex_mediation.auction.adapters.base import AdapterError, Bid, BidderCall, HttpReply
from apex_mediation.auction.adapters.registry import ADAPTERS, get_adapter, validate_line
from apex_mediation.auction.model import AuctionRequest

HERE = Path(__file__).parent
FILES = sorted(
    path for path in HERE.glob("*/*/*.json") if path.parent.name in ("exemplary", "supplemental")
)
KEYS = {
    "description",
    "call",
    "expectedValidationErrors",
    "expectedBuildError",
    "expectedRequests",
    "mockResponses",
    "expectedBids",
    "expectedNoBidReason",
    "expectedErrors",
}
Expected = str | dict[str, str]


def test_fixtures_are_found_for_every_network() -> None:
    networks = {path.parent.parent.name for path in FILES}
    assert networks == set(ADAPTERS)


@pytest.mark.parametrize("path", FILES, ids=lambda path: str(path.relative_to(HERE)))
def test_fixture(path: Path) -> None:
    fixture = json.loads(path.read_text())
    assert set(fixture) <= KEYS, f"unknown keys: {set(fixture) - KEYS}"
    network = path.parent.parent.name
    adapter = get_adapter(network)
    assert adapter is not None, f"no adapter named {network!r}"
    exemplary = path.parent.name == "exemplary"
    call = _call(fixture["call"])

    validation = validate_line(network, call.params, call.credentials)
    _match_all(validation, fixture.get("expectedValidationErrors", []))

    if "expectedBuildError" in fixture:
        assert not exemplary, "an exemplary fixture expects no error"
        with pytest.raises(AdapterError) as raised:
            adapter.build_requests(call)
        _match(str(raised.value), fixture["expectedBuildError"])
        assert "expectedRequests" not in fixture
        return

    sent = adapter.build_requests(call)
    expected_requests = fixture.get("expectedRequests", [])
    assert len(sent) == len(expected_requests)
    for http, expected in zip(sent, expected_requests, strict=True):
        assert http.method == expected["method"]
        assert http.url == expected["url"]
        headers = {name.lower(): value for name, value in http.headers.items()}
        for name, value in expected.get("headers", {}).items():
            assert headers.get(name.lower()) == value, f"header {name}"
        assert json.loads(http.body) == expected["body"]

    replies = fixture.get("mockResponses", [])
    assert len(replies) == len(sent), "one mocked reply per expected request"
    bids: list[Bid] = []
    errors: list[str] = []
    no_bid_reason = None
    for http, mocked in zip(sent, replies, strict=True):
        result = adapter.parse_response(call, http, _reply(mocked))
        bids += result.bids
        errors += result.errors
        no_bid_reason = result.no_bid_reason

    assert bids == [_bid(expected) for expected in fixture.get("expectedBids", [])]
    assert no_bid_reason == fixture.get("expectedNoBidReason")
    if exemplary:
        assert not validation and not errors and "expectedErrors" not in fixture
    _match_all(errors, fixture.get("expectedErrors", []))


def _call(data: dict[str, Any]) -> BidderCall:
    fields = dict(data)
    fields["request"] = msgspec.convert(fields["request"], AuctionRequest)
    for name in ("bcat", "badv"):
        if name in fields:
            fields[name] = tuple(fields[name])
    return BidderCall(**fields)


def _reply(mocked: dict[str, Any]) -> HttpReply:
    body = mocked.get("body")
    if body is None:
        raw = b""
    elif isinstance(body, str):
        raw = body.encode()
    else:
        raw = json.dumps(body).encode()
    return HttpReply(status=mocked["status"], headers=mocked.get("headers", {}), body=raw)


def _bid(expected: dict[str, Any]) -> Bid:
    fields = dict(expected)
    fields["adomain"] = tuple(fields.get("adomain", ()))
    return Bid(**fields)


def _match_all(actual: list[str], expected: list[Expected]) -> None:
    assert len(actual) == len(expected), f"{actual!r} != {expected!r}"
    for message, pattern in zip(actual, expected, strict=True):
        _match(message, pattern)


def _match(message: str, expected: Expected) -> None:
    if isinstance(expected, str):
        assert message == expected
    elif expected.get("comparison") == "regex":
        assert re.fullmatch(expected["value"], message), f"{message!r} !~ {expected['value']!r}"
    else:
        assert message == expected["value"]

"""US Privacy strings."""

from __future__ import annotations

import pytest

from apex_mediation.privacy import (
    ConsentStringError,
    USPrivacy,
    decode_us_privacy,
    parse_us_privacy,
)


@pytest.mark.parametrize(
    ("value", "expected", "opted_out"),
    [
        ("1YNN", USPrivacy(1, "Y", "N", "N"), False),
        ("1YYY", USPrivacy(1, "Y", "Y", "Y"), True),
        ("1NYN", USPrivacy(1, "N", "Y", "N"), True),
        ("1---", USPrivacy(1, "-", "-", "-"), False),
        ("1yyn", USPrivacy(1, "Y", "Y", "N"), True),
    ],
)
def test_valid(value: str, expected: USPrivacy, opted_out: bool) -> None:
    assert decode_us_privacy(value) == expected
    assert decode_us_privacy(value).opted_out is opted_out
    assert parse_us_privacy(value) == (expected, None)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1YN", "expected 4 characters, got 3"),
        ("1YNNN", "expected 4 characters"),
        ("2YNN", "unsupported version '2'"),
        ("1YXN", "is not three of Y, N or -"),
        ("1ßNN", "is not three of Y, N or -"),
    ],
)
def test_invalid_is_absent_with_a_reason(value: str, message: str) -> None:
    with pytest.raises(ConsentStringError, match=message):
        decode_us_privacy(value)
    usp, reason = parse_us_privacy(value)
    assert usp is None
    assert reason is not None
    assert reason.startswith("usp: invalid string ignored")
    assert message.split(",")[0] in reason


@pytest.mark.parametrize("value", [None, ""])
def test_absent(value: str | None) -> None:
    assert parse_us_privacy(value) == (None, None)

"""Periods: dates are whole UTC days (the end one included), date-times are exclusive ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from apex_mediation.accounts.errors import InvalidInput
from apex_mediation.reporting.params import Period, parse_period, realtime_period

NOW = datetime(2026, 3, 10, 15, 42, 7, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_dates_cover_whole_days_and_the_end_date_is_included() -> None:
    period = parse_period("2026-03-01", "2026-03-31", NOW)
    assert period == Period(utc(2026, 3, 1), utc(2026, 4, 1))
    assert period.whole_days


def test_date_times_are_instants_converted_to_utc_and_the_end_is_exclusive() -> None:
    period = parse_period("2026-03-01T10:00:00+02:00", "2026-03-01T12:00Z", NOW)
    assert period == Period(utc(2026, 3, 1, 8), utc(2026, 3, 1, 12))
    assert not period.whole_days
    assert parse_period("2026-03-01T10:00:00", None, NOW).start == utc(2026, 3, 1, 10)  # naive: UTC


def test_defaults_are_the_last_seven_days_including_today() -> None:
    assert parse_period(None, None, NOW) == Period(utc(2026, 3, 4), utc(2026, 3, 11))
    assert parse_period(None, "2026-02-28", NOW) == Period(utc(2026, 2, 22), utc(2026, 3, 1))


def test_the_realtime_window_is_sixty_minutes_ending_with_the_current_one() -> None:
    assert realtime_period(NOW) == Period(utc(2026, 3, 10, 14, 43), utc(2026, 3, 10, 15, 43))


def test_four_hundred_days_is_the_longest_period() -> None:
    start = datetime(2025, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=400)
    assert parse_period(start.isoformat(), end.isoformat(), NOW) == Period(start, end)


@pytest.mark.parametrize(
    ("start", "end", "field", "message"),
    [
        ("2026-13-01", None, "startDate", "ISO-8601"),
        ("yesterday", None, "startDate", "ISO-8601"),
        (None, "2026-03-01T10:30:00Z", "endDate", "on the hour"),
        ("2026-03-01T10:00:00.5Z", None, "startDate", "on the hour"),
        ("2026-03-02", "2026-03-01", "endDate", "after startDate"),
        ("2026-03-01T10:00Z", "2026-03-01T10:00Z", "endDate", "after startDate"),
        ("2024-01-01", "2025-12-31", "endDate", "at most 400 days"),
        ("1999-12-31", "2000-01-02", "startDate", "out of range"),
        ("9999-12-31", None, "startDate", "out of range"),
        ("0001-01-01T00:00+01:00", None, "startDate", "out of range"),
    ],
)
def test_bad_periods_name_their_field(
    start: str | None, end: str | None, field: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        parse_period(start, end, NOW)
    assert raised.value.field == field

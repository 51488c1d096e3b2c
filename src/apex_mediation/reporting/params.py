"""What a report is asked for: the period, the filters, the granularity; parsed strictly.

Periods are UTC and half-open, [start, end). A date means the whole UTC day at either end, so
`startDate=2026-03-01&endDate=2026-03-31` is all of March; a date-time is an instant, exclusive as
an end. Rollups are hourly, so a date-time must fall on the hour: a report never silently widens
the range it was asked for.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal

from apex_mediation.accounts.errors import InvalidInput

__all__ = [
    "DEFAULT_DAYS",
    "DEFAULT_LIMIT",
    "MAX_DAYS",
    "MAX_LIMIT",
    "REALTIME_MINUTES",
    "Filters",
    "Granularity",
    "Period",
    "parse_period",
    "realtime_period",
]

Granularity = Literal["hour", "day"]

MAX_DAYS = 400
DEFAULT_DAYS = 7
DEFAULT_LIMIT = 10
MAX_LIMIT = 100
REALTIME_MINUTES = 60
# DateTime in ClickHouse ends in 2106; a year outside these is a typo, not a report.
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)
_MIDNIGHT = time(tzinfo=UTC)
_OUT_OF_RANGE = "out of range (years 2000 to 2099)"


@dataclass(frozen=True)
class Filters:
    """Optional narrowing; `network` is the network that served (for auctions: that won)."""

    app_id: uuid.UUID | None = None
    placement_id: uuid.UUID | None = None
    network: str | None = None
    country: str | None = None
    format: str | None = None


@dataclass(frozen=True)
class Period:
    start: datetime  # aware UTC, inclusive
    end: datetime  # aware UTC, exclusive

    @property
    def whole_days(self) -> bool:
        """Both ends at midnight: per-day measures (DAU) are exact only then."""
        return self.start.timetz() == _MIDNIGHT and self.end.timetz() == _MIDNIGHT


def parse_period(start_text: str | None, end_text: str | None, now: datetime) -> Period:
    """Defaults: the end is the end of today (UTC), the start `DEFAULT_DAYS` before the end."""
    if end_text is None:
        end = datetime.combine(now.astimezone(UTC).date() + timedelta(days=1), _MIDNIGHT)
    else:
        end = _parse_bound(end_text, "endDate", is_end=True)
    start = end - timedelta(days=DEFAULT_DAYS)
    if start_text is not None:
        start = _parse_bound(start_text, "startDate", is_end=False)
    if start >= end:
        raise InvalidInput("must be after startDate", field="endDate")
    if end - start > timedelta(days=MAX_DAYS):
        raise InvalidInput(f"a report covers at most {MAX_DAYS} days", field="endDate")
    return Period(start, end)


def realtime_period(now: datetime) -> Period:
    """The last `REALTIME_MINUTES` whole minutes, the current (partial) minute included."""
    end = now.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
    return Period(end - timedelta(minutes=REALTIME_MINUTES), end)


def _parse_bound(text: str, field: str, *, is_end: bool) -> datetime:
    text = text.strip()
    try:
        day = date.fromisoformat(text)
    except ValueError:
        pass
    else:
        if not _EARLIEST.date() <= day < _LATEST.date():
            raise InvalidInput(_OUT_OF_RANGE, field=field)
        # An end date is inclusive: its whole day belongs to the period.
        return datetime.combine(day + timedelta(days=1 if is_end else 0), _MIDNIGHT)
    try:
        moment = datetime.fromisoformat(text)
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    except ValueError:
        raise InvalidInput(
            "not an ISO-8601 date (2026-03-01) or date-time (2026-03-01T10:00:00Z)", field=field
        ) from None
    except OverflowError:  # year 1 or 9999 shifted by its offset
        raise InvalidInput(_OUT_OF_RANGE, field=field) from None
    if not _EARLIEST <= moment <= _LATEST:
        raise InvalidInput(_OUT_OF_RANGE, field=field)
    if (moment.minute, moment.second, moment.microsecond) != (0, 0, 0):
        raise InvalidInput("reports are hourly: give a date or a time on the hour", field=field)
    return moment

"""Time is UTC and timezone-aware everywhere.

What the API takes as an instant or a day is kept well inside the calendar (years 1900 to
9000), so that turning an offset into UTC, or adding a day to the end of a period, never
overflows into a 500: `9999-12-31T23:59:59-14:00` is a 422 saying the range.
"""

import re
from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

FIRST_DAY, LAST_DAY = date(1900, 1, 1), date(9000, 12, 31)


def utcnow() -> datetime:
    return datetime.now(UTC)


def _in_range(value: datetime) -> datetime:
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not FIRST_DAY <= utc.date() <= LAST_DAY:
        raise ValueError(f"must be between {FIRST_DAY} and {LAST_DAY} (UTC)")
    return utc


# An instant with its offset, given back in UTC.
Instant = Annotated[AwareDatetime, AfterValidator(_in_range)]
_DAY_TEXT = re.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _a_day(value: Any) -> Any:
    """A day as a date, or written YYYY-MM-DD. Pydantic would also take a midnight with an
    offset (`2026-01-31T00:00:00+05:00`) or a Unix time as the UTC day on its face, dropping
    the offset, where any other time of day is refused."""
    if isinstance(value, datetime) or not (
        isinstance(value, date) or (isinstance(value, str) and _DAY_TEXT.fullmatch(value))
    ):
        raise ValueError("must be a day as YYYY-MM-DD (UTC)")
    return value


# A calendar day.
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY), BeforeValidator(_a_day)]

"""Time is UTC and timezone-aware everywhere.

What the API takes as an instant or a day is kept well inside the calendar (years 1900 to
9000), so that turning an offset into UTC, or adding a day to the end of a period, never
overflows into a 500: `9999-12-31T23:59:59-14:00` is a 422 saying the range.
"""

from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, Field

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
# A calendar day.
Day = Annotated[date, Field(ge=FIRST_DAY, le=LAST_DAY)]

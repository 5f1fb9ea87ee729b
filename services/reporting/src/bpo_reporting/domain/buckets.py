"""Time in reporting: rollups count per UTC hour; reports list hours or days."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from enum import StrEnum

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class Bucket(StrEnum):
    HOUR = "hour"
    DAY = "day"

    @property
    def width(self) -> timedelta:
        return HOUR if self is Bucket.HOUR else DAY


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def first_hour_from(moment: datetime) -> datetime:
    """The first UTC hour that begins at or after `moment`: a period counts the hours that
    begin in it, so that consecutive periods never count an hour twice, wherever they cut."""
    hour = hour_of(moment)
    return hour if hour == moment else hour + HOUR


def bucket_of(moment: datetime, bucket: Bucket) -> datetime:
    start = hour_of(moment)
    return start if bucket is Bucket.HOUR else start.replace(hour=0)


def bucket_starts(start: datetime, end: datetime, bucket: Bucket) -> Iterator[datetime]:
    """Every bucket (UTC) that holds an hour of the period: from the one holding its first
    hour (`first_hour_from`), each beginning before `end`."""
    moment = bucket_of(first_hour_from(start), bucket)
    while moment < end:
        yield moment
        moment += bucket.width

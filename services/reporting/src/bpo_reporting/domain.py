"""Pure rules of the reports: time buckets, turnaround bins and percentiles, forecasts."""

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

# Turnaround bins are log-spaced, BINS_PER_DOUBLING to each doubling of time: bin b holds
# [2^(b/8), 2^((b+1)/8)) seconds and is read as its geometric middle, so a percentile is
# within 2^(1/16) - 1 (4.4 %) of the true one. Bin 0 also holds everything under a second;
# the last bin, everything from about 34 years.
BINS_PER_DOUBLING = 8
LAST_BIN = 30 * BINS_PER_DOUBLING
TURNAROUND_PRECISION = 2 ** (1 / (2 * BINS_PER_DOUBLING)) - 1

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


def bucket_of(moment: datetime, bucket: Bucket) -> datetime:
    start = hour_of(moment)
    return start if bucket is Bucket.HOUR else start.replace(hour=0)


def bucket_starts(start: datetime, end: datetime, bucket: Bucket) -> Iterator[datetime]:
    """Every bucket (UTC) that begins before `end`, from the one holding `start`."""
    moment = bucket_of(start, bucket)
    while moment < end:
        yield moment
        moment += bucket.width


def turnaround_bin(seconds: float) -> int:
    if seconds < 1:
        return 0
    return min(int(math.log2(seconds) * BINS_PER_DOUBLING), LAST_BIN)


def bin_seconds(bin_: int) -> float:
    """The value a bin stands for: its geometric middle."""
    return float(2 ** ((bin_ + 0.5) / BINS_PER_DOUBLING))


def percentile(bins: Mapping[int, int], fraction: float) -> float | None:
    """The nearest-rank percentile of the binned values (None when there are none), to 0.1 s."""
    total = sum(bins.values())
    if total == 0:
        return None
    rank = max(1, math.ceil(fraction * total))
    seen = 0
    for bin_ in sorted(bins):
        seen += bins[bin_]
        if seen >= rank:
            return round(bin_seconds(bin_), 1)
    raise AssertionError("unreachable: the ranks add up to the total")


def ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


@dataclass(frozen=True)
class OpenJob:
    job_id: str
    due_at: datetime | None
    remaining: int


def forecast(jobs: list[OpenJob], per_hour: float, now: datetime) -> dict[str, datetime | None]:
    """When each open job should be done, at the recent throughput of the whole platform.

    Work is claimed earliest deadline first, so a job finishes once the remaining items of
    every job due no later than it (and its own) are done. None when nothing completes.
    """
    ordered = sorted(jobs, key=lambda job: (job.due_at is None, job.due_at or now, job.job_id))
    ahead = 0
    done_at: dict[str, datetime | None] = {}
    for job in ordered:
        ahead += job.remaining
        if job.remaining == 0:
            done_at[job.job_id] = now
        elif per_hour <= 0:
            done_at[job.job_id] = None
        else:
            done_at[job.job_id] = now + timedelta(hours=ahead / per_hour)
    return done_at

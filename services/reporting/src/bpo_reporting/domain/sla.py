"""The SLA outlook: when each open job should be done at the recent throughput, and whether
that is after its due time."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from bpo_reporting.domain.buckets import hour_of


@dataclass(frozen=True)
class OpenJob:
    job_id: str
    due_at: datetime | None
    # Its items the keyers still have to do.
    remaining: int
    # When its last item was finished, for a job none of whose items is left.
    finished_at: datetime | None = None
    # Its items held in exceptions, waiting for its client to resolve them.
    waiting: int = 0


def outstanding(received: int, finished: int, held: int) -> tuple[int, int]:
    """A job's items not finished yet (completed, rejected or closed by their erasure): those
    the keyers still have to do, and those waiting on the client, held in exceptions (no more
    than are not finished: an exception may be known before its item is)."""
    left = max(received - finished, 0)
    waiting = min(held, left)
    return left - waiting, waiting


def window_start(now: datetime, window_hours: int) -> datetime:
    """Where the throughput the forecast extrapolates starts: `window_hours` whole hours
    before the current one, which counts too (so the window never holds less than
    `window_hours`, even just after the hour turns)."""
    return hour_of(now) - timedelta(hours=window_hours)


def throughput_per_hour(finished: int, start: datetime, now: datetime) -> float:
    """Items finished per hour over the window from `start` to now: its whole hours and as
    much of the current one as has passed (not a whole hour for it: just after the hour
    turns, little could have been done in it yet)."""
    hours = (now - start) / timedelta(hours=1)
    return finished / hours if hours > 0 else 0.0


# Beyond this a forecast means "never" (and a datetime cannot hold it: 9999-12-31 is the last).
_HOURS_LEFT = 24 * 365 * 1000


def forecast(jobs: Sequence[OpenJob], per_hour: float, now: datetime) -> dict[str, datetime | None]:
    """When each open job should be done, at the recent throughput of the whole platform.

    Work is claimed earliest deadline first, so a job finishes once the remaining items of
    every job due no later than it (and its own) are done; items waiting on their client are
    none of that work. One with nothing left was done when its last item was finished (the
    time it completes at once closed), unless some wait on its client: no throughput says
    when they will be resolved. None when nothing completes, or not before the calendar ends.
    """
    ordered = sorted(jobs, key=lambda job: (job.due_at is None, job.due_at or now, job.job_id))
    ahead = 0
    done_at: dict[str, datetime | None] = {}
    for job in ordered:
        ahead += job.remaining
        if job.remaining == 0:
            done_at[job.job_id] = None if job.waiting else job.finished_at or now
        elif per_hour <= 0 or ahead / per_hour > _HOURS_LEFT:
            done_at[job.job_id] = None
        else:
            done_at[job.job_id] = now + timedelta(hours=ahead / per_hour)
    return done_at


def at_risk(job: OpenJob, forecast_at: datetime | None, now: datetime) -> bool:
    """A job due is at risk when it is forecast after its due time, or not at all; one whose
    items left all wait on its client only once its due time has passed (the keyers can do
    nothing for it, and the client may yet resolve them in time)."""
    if job.due_at is None:
        return False
    if job.remaining == 0 and job.waiting:
        return job.due_at < now
    return forecast_at is None or forecast_at > job.due_at

"""A starting service's checks wait for a database that is restarting (`retry_until` with
`unreachable`, as the lifespan runs them), and fail at once on anything else (a key ring
that does not unwrap the data keys kept)."""

from functools import partial

import asyncpg
import pytest
from sqlalchemy.exc import DBAPIError

from bpo_common.db import unreachable
from bpo_common.loops import retry_until

# What a starting service's checks are retried with.
starting = partial(retry_until, "database not reachable yet", passing=unreachable)


class Flaky:
    """A check that fails with `error` the first `failures` times it runs."""

    def __init__(self, error: Exception, failures: int) -> None:
        self.error, self.failures, self.runs = error, failures, 0

    async def __call__(self) -> None:
        self.runs += 1
        if self.runs <= self.failures:
            raise self.error


def _wrapped(cause: Exception) -> DBAPIError:
    """An error as SQLAlchemy raises it over asyncpg: the driver's, as its cause."""
    try:
        raise DBAPIError("SELECT 1", None, Exception(str(cause))) from cause
    except DBAPIError as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "Connection refused"),
        _wrapped(asyncpg.CannotConnectNowError("the database system is not yet accepting")),
        _wrapped(asyncpg.ConnectionDoesNotExistError("connection was closed")),
    ],
    ids=["refused", "recovering", "lost"],
)
async def test_a_check_waits_while_the_database_cannot_be_reached(error: Exception) -> None:
    assert unreachable(error)
    check = Flaky(error, failures=2)
    await starting(check, timeout_s=5)
    assert check.runs == 3


async def test_any_other_failure_stops_the_start_at_once() -> None:
    error = ValueError("the key ring does not unwrap the data keys kept")
    check = Flaky(error, failures=5)
    with pytest.raises(ValueError, match="key ring"):
        await starting(check, timeout_s=5)
    assert check.runs == 1
    assert not unreachable(_wrapped(asyncpg.UniqueViolationError("duplicate key")))


async def test_a_database_still_unreachable_after_the_timeout_stops_the_start() -> None:
    check = Flaky(ConnectionRefusedError(111, "Connection refused"), failures=100)
    with pytest.raises(ConnectionRefusedError):
        await starting(check, timeout_s=0.5)
    assert 2 <= check.runs < 100

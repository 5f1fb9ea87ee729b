"""`bpo dev chaos` starts intake with a lease intake takes, the shortest it takes."""

import pytest
from pydantic import ValidationError

from bpo_cli import chaos
from bpo_intake.settings import Settings

DATABASE = "postgresql+asyncpg://intake@db/intake"


def test_the_chaos_runs_lease_is_the_shortest_intake_starts_with() -> None:
    assert Settings(database_url=DATABASE, lease_seconds=chaos.LEASE_SECONDS).lease_seconds == 30
    with pytest.raises(ValidationError, match="lease_seconds"):
        Settings(database_url=DATABASE, lease_seconds=chaos.LEASE_SECONDS - 1)

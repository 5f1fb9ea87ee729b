"""Each migration commits on its own: an upgrade across several releases holds a table's lock
only as long as the migration that takes it (one transaction for all held every table any of
them locked until the last committed, the workbench's claims and submits waiting meanwhile),
and one that fails leaves those before it done."""

import asyncio

import asyncpg
import pytest

from bpo_common.ids import new_id
from bpo_common.migrations import upgrade
from bpo_devtools.testing import TestStack


def test_a_failing_migration_leaves_the_ones_before_it_committed(stack: TestStack) -> None:
    name = f"bpo_steps_{new_id().hex[-12:]}"

    async def admin(statement: str, database: str = "postgres") -> object:
        connection = await asyncpg.connect(stack.admin_dsn(database))
        try:
            return await connection.fetchval(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    try:
        # What reporting_0013 makes is there already: that migration fails.
        asyncio.run(admin("CREATE TABLE open_exception_fact (exception_id uuid)", name))
        server = stack.admin_dsn(name).removeprefix("postgresql://")
        with pytest.raises(Exception, match="open_exception_fact"):
            upgrade("bpo_reporting", f"postgresql+asyncpg://{server}")
        version = "SELECT version_num FROM alembic_version"
        assert asyncio.run(admin(version, name)) == "reporting_0012"
        assert asyncio.run(admin("SELECT to_regclass('job_fact') IS NOT NULL", name)) is True
    finally:
        asyncio.run(admin(f'DROP DATABASE "{name}" WITH (FORCE)'))

"""`rebuild_index`: a migration that changes an index builds it again under its name, and a
run stopped part way (an index left under the building name, or the old one already
dropped) runs again to the same end."""

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bpo_common.migrations import rebuild_index

from .conftest import Plumbing

TABLE = "rebuild_probe"


def _rebuild(connection: Connection) -> None:
    with Operations.context(MigrationContext.configure(connection)):
        rebuild_index(
            "ix_rebuild_probe", TABLE, ["a", "at"], postgresql_include=["b"],
            postgresql_where=text("a > 0"),
        )  # fmt: skip


async def _indexes(plumbing: Plumbing) -> dict[str, str]:
    async with plumbing.engine.connect() as connection:
        rows = await connection.execute(
            text("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = :t"), {"t": TABLE}
        )
        return {name: definition for name, definition in rows}


@pytest.mark.parametrize("left", ["old index", "building index", "no index"])
async def test_rebuild_index_leaves_the_new_index_under_its_name(
    plumbing: Plumbing, left: str
) -> None:
    left_by_a_stopped_run = {
        "old index": ["CREATE INDEX ix_rebuild_probe ON rebuild_probe (a)"],
        "building index": ["CREATE INDEX ix_rebuild_probe_next ON rebuild_probe (b)"],
        "no index": [],
    }[left]
    async with plumbing.engine.begin() as connection:
        for statement in [
            "DROP TABLE IF EXISTS rebuild_probe",
            "CREATE TABLE rebuild_probe (a int, b int, at timestamptz)",
            "INSERT INTO rebuild_probe SELECT n, n, now() FROM generate_series(1, 100) n",
            *left_by_a_stopped_run,
        ]:
            await connection.execute(text(statement))
    async with plumbing.engine.connect() as connection:
        await connection.run_sync(_rebuild)

    assert await _indexes(plumbing) == {
        "ix_rebuild_probe": (
            f"CREATE INDEX ix_rebuild_probe ON public.{TABLE} USING btree (a, at) INCLUDE (b) "
            "WHERE (a > 0)"
        )
    }

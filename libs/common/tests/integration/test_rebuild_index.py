"""`rebuild_index`: a migration that changes an index builds it again under its name, and a
run stopped at any step runs again to the same end."""

import pytest
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.engine import Connection

from bpo_common.migrations import rebuild_index

from .conftest import Plumbing

TARGET = "CREATE INDEX {name} ON public.rebuild_probe USING btree (a, at) INCLUDE (b) WHERE (a > 0)"
BUILT = "CREATE INDEX ix_rebuild_probe_next ON rebuild_probe (a, at) INCLUDE (b) WHERE a > 0"
# What a run stopped at each step leaves, besides the table.
STOPPED = {
    "before it began": ["CREATE INDEX ix_rebuild_probe ON rebuild_probe (a)"],
    "while building": [
        "CREATE INDEX ix_rebuild_probe ON rebuild_probe (a)",
        "CREATE INDEX ix_rebuild_probe_next ON rebuild_probe (b)",
        "UPDATE pg_index SET indisvalid = false "
        "WHERE indexrelid = 'ix_rebuild_probe_next'::regclass",
    ],
    "after building": ["CREATE INDEX ix_rebuild_probe ON rebuild_probe (a)", BUILT],
    "after the old index went": [BUILT],
    "on a table without the index": [],
}


def _rebuild(connection: Connection) -> None:
    with Operations.context(MigrationContext.configure(connection)):
        rebuild_index(
            "ix_rebuild_probe", "rebuild_probe", ["a", "at"], postgresql_include=["b"],
            postgresql_where=text("a > 0"),
        )  # fmt: skip


async def _indexes(plumbing: Plumbing) -> dict[str, tuple[str, bool, int]]:
    """Each index of the table: its definition, whether it is valid, its oid."""
    async with plumbing.engine.connect() as connection:
        rows = await connection.execute(
            text(
                "SELECT c.relname, pg_get_indexdef(c.oid), i.indisvalid, c.oid::int "
                "FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE i.indrelid = 'rebuild_probe'::regclass"
            )
        )
        return {name: (definition, valid, oid) for name, definition, valid, oid in rows}


@pytest.mark.parametrize("stopped", list(STOPPED))
async def test_rebuild_index_leaves_the_new_index_under_its_name(
    plumbing: Plumbing, stopped: str
) -> None:
    async with plumbing.engine.begin() as connection:
        for statement in [
            "DROP TABLE IF EXISTS rebuild_probe",
            "CREATE TABLE rebuild_probe (a int, b int, at timestamptz)",
            "INSERT INTO rebuild_probe SELECT n, n, now() FROM generate_series(1, 100) n",
            *STOPPED[stopped],
        ]:
            await connection.execute(text(statement))
    before = await _indexes(plumbing)
    async with plumbing.engine.connect() as connection:
        await connection.run_sync(_rebuild)

    after = await _indexes(plumbing)
    definition, valid, oid = after["ix_rebuild_probe"]
    assert (list(after), definition, valid) == (
        ["ix_rebuild_probe"],
        TARGET.format(name="ix_rebuild_probe"),
        True,
    )
    if stopped == "after the old index went":  # renamed, not built again
        assert oid == before["ix_rebuild_probe_next"][2]

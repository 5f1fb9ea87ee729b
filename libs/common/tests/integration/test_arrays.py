"""Statements that take their values as arrays (`insert_arrays`, `update_arrays`, `among`):
they store, change and find what a row-by-row statement would, and PostgreSQL receives the
same text whatever the number of values, so that it prepares it once."""

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, event, select
from sqlalchemy.dialects.postgresql import JSONB

from bpo_common.db import among, as_arrays, insert_arrays, update_arrays
from bpo_common.ids import new_id

from .conftest import Plumbing

probe = Table(
    "array_probe",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("run", String(40), nullable=False),
    Column("n", Integer, nullable=False),
)
COLUMNS = ("id", "run", "n")
INSERT = insert_arrays(probe, COLUMNS)
# A table of its own: one with JSON values, lists among them.
tagged = Table(
    "array_probe_tagged",
    MetaData(),
    Column("id", Uuid, primary_key=True),
    Column("n", Integer, nullable=False),
    Column("tags", JSONB),
)
TAGGED = ("id", "n", "tags")
UPDATE = update_arrays(tagged, "id", ("n", "tags"))


@contextmanager
def sent(plumbing: Plumbing) -> Iterator[list[str]]:
    """The text of every statement sent to the server meanwhile."""
    texts: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        texts.append(statement)

    event.listen(plumbing.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield texts
    finally:
        event.remove(plumbing.engine.sync_engine, "before_cursor_execute", record)


async def _table(plumbing: Plumbing) -> None:
    async with plumbing.engine.begin() as connection:
        await connection.run_sync(probe.create, checkfirst=True)


async def _insert(plumbing: Plumbing, run: str, numbers: list[int]) -> list[UUID]:
    rows: list[dict[str, Any]] = [{"id": new_id(), "run": run, "n": n} for n in numbers]
    async with plumbing.sessions.begin() as session:
        await session.execute(INSERT, as_arrays(rows, COLUMNS))
    return [row["id"] for row in rows]


async def test_insert_arrays_stores_every_row_with_one_text_for_any_number(
    plumbing: Plumbing,
) -> None:
    await _table(plumbing)
    run = str(new_id())
    with sent(plumbing) as texts:
        one = await _insert(plumbing, run, [7])
        five = await _insert(plumbing, run, [1, 2, 3, 4, 5])
    async with plumbing.sessions() as session:
        stored = await session.execute(
            select(probe.c.id, probe.c.n).where(probe.c.run == run).order_by(probe.c.n)
        )
        assert [(row.id, row.n) for row in stored] == sorted(
            zip([*one, *five], [7, 1, 2, 3, 4, 5], strict=True), key=lambda pair: pair[1]
        )
    inserts = [t for t in texts if t.startswith("INSERT")]
    assert len(inserts) == 2
    assert inserts[0] == inserts[1]


async def test_among_finds_the_rows_of_the_values_with_one_text_for_any_number(
    plumbing: Plumbing,
) -> None:
    await _table(plumbing)
    run = str(new_id())
    ids = await _insert(plumbing, run, [10, 20, 30, 40])
    found: list[list[int]] = []
    with sent(plumbing) as texts:
        async with plumbing.sessions() as session:
            for asked in ([ids[1]], [ids[0], ids[3], new_id()], []):
                query = select(probe.c.n).where(among(probe.c.id, asked)).order_by(probe.c.n)
                found.append(list((await session.scalars(query)).all()))
    assert found == [[20], [10, 40], []]
    selects = [t for t in texts if t.startswith("SELECT")]
    assert len(selects) == 3
    assert len(set(selects)) == 1


async def test_among_compares_whole_values_whatever_the_column_length(
    plumbing: Plumbing,
) -> None:
    """A value longer than the column matches nothing (a cast to the column's varchar(40)
    would cut it to a stored value)."""
    await _table(plumbing)
    run = str(new_id())[:36] + "abcd"
    await _insert(plumbing, run, [1])
    async with plumbing.sessions() as session:
        for asked, expected in (([run + "e"], []), ([run], [1])):
            query = select(probe.c.n).where(among(probe.c.run, asked))
            assert list((await session.scalars(query)).all()) == expected


async def test_update_arrays_sets_each_row_to_its_own_values_with_one_text_for_any_number(
    plumbing: Plumbing,
) -> None:
    """A JSON list is one value (not a dimension of the array); rows not named stay as they
    were."""
    async with plumbing.engine.begin() as connection:
        await connection.run_sync(tagged.create, checkfirst=True)
    rows: list[dict[str, Any]] = [{"id": new_id(), "n": n, "tags": None} for n in range(4)]
    ids = [row["id"] for row in rows]
    async with plumbing.sessions.begin() as session:
        await session.execute(insert_arrays(tagged, TAGGED), as_arrays(rows, TAGGED))
    changes: list[list[dict[str, Any]]] = [
        [{"id": ids[0], "n": 10, "tags": ["a", "b"]}],
        [
            {"id": ids[1], "n": 11, "tags": ["c"]},
            {"id": ids[2], "n": 12, "tags": {"k": [1, 2]}},
        ],
    ]
    with sent(plumbing) as texts:
        for change in changes:
            async with plumbing.sessions.begin() as session:
                await session.execute(UPDATE, as_arrays(change, TAGGED))
    async with plumbing.sessions() as session:
        stored = await session.execute(
            select(tagged.c.id, tagged.c.n, tagged.c.tags).where(tagged.c.id.in_(ids))
        )
        by_id = {row.id: (row.n, row.tags) for row in stored}
    assert [by_id[i] for i in ids] == [
        (10, ["a", "b"]),
        (11, ["c"]),
        (12, {"k": [1, 2]}),
        (3, None),
    ]
    updates = [t for t in texts if t.startswith("UPDATE")]
    assert len(updates) == 2
    assert updates[0] == updates[1]

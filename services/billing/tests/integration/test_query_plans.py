"""Reads whose cost must follow what they ask for, not the history kept: each is planned on
an index that holds what it reads."""

import re
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.repository import earnings, margin, usage
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id


async def plan(session: AsyncSession, query: Select[*tuple[Any, ...]]) -> str:
    """PostgreSQL's plan for the query, told to read a table whole only when no index can
    serve it (the test's tables are small enough for a whole read to look cheapest)."""
    connection = await session.connection()
    await connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
    sql = query.compile(connection, compile_kwargs={"literal_binds": True})
    result = await connection.exec_driver_sql(f"EXPLAIN {sql}")
    return "\n".join(row[0] for row in result)


async def test_usage_waiting_for_a_price_is_read_from_an_index_of_only_such_lines(
    billing_db: SessionFactory,
) -> None:
    client_id, march = new_id(), datetime(2026, 3, 1, tzinfo=UTC)
    async with billing_db() as session, session.begin():
        first = await plan(session, usage.waiting_usage(client_id, ["receipt"], None, 5000))
        after = (march, new_id())
        next_chunk = await plan(session, usage.waiting_usage(client_id, ["receipt"], after, 5000))
        counts = await plan(session, usage.waiting_counts(client_id, march))
    for found in (first, next_chunk, counts):
        assert "ix_usage_line_waiting" in found, found
    assert "Index Cond: ((client_id = " in next_chunk
    assert "(ROW(completed_at, id) > ROW(" in next_chunk, next_chunk


async def test_earnings_waiting_for_a_rate_are_read_from_an_index_of_only_such_earnings(
    billing_db: SessionFactory,
) -> None:
    async with billing_db() as session, session.begin():
        first = await plan(session, earnings.waiting_earnings("receipt", None, 5000))
        next_chunk = await plan(session, earnings.waiting_earnings("receipt", new_id(), 5000))
    for found in (first, next_chunk):
        assert "ix_earning_waiting" in found, found


async def test_the_margin_report_reads_its_period_of_one_client_or_of_every_client(
    billing_db: SessionFactory,
) -> None:
    since, until = datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC)
    async with billing_db() as session, session.begin():
        every = await plan(session, margin.margin_query(None, since, until))
        one = await plan(session, margin.margin_query(new_id(), since, until))
    for found in (every, one):
        assert "Seq Scan" not in found, found
        for index, column in (
            ("ix_usage_line_client_id_completed_at", "completed_at"),
            ("ix_earning_client_id_earned_at", "earned_at"),
        ):
            # The period bounds what the index reads, not a filter of what it read, whether
            # it is read as an index scan or as a bitmap (as the table's statistics choose).
            read = rf"(using {index} on .*|Bitmap Index Scan on {index} .*)"
            assert re.search(rf"{read}\n *Index Cond: .*\b{column} >= ", found), found

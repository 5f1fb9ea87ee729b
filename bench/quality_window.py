"""The windows of judged fields validation reads, for keyers with a long history, against
fresh keyers.

    .venv/bin/python bench/quality_window.py [--history 100000] [--keyers 16] [--reads 200]
        [--quick]

Starts validation (harness.full_stack). Seeds judged fields straight into validation's
database: `--keyers` veterans who keyed together, `--history` judged fields each on one work
type (their rows interleaved in time, as a crew's are), then as many fresh keyers with a
window's worth each, and analyzes the table. Then, `--reads` times each, p50:

- the read every decision run makes, `repository.quality.latest_judged` (each keyer's latest
  200 judged fields on the work type, one statement for all of them), for the veterans
  (product) and for fresh keyers with 200 judged fields each (baseline);
- adaptive QC's reads for a first keying, `repository.accuracy.recent_by_field` (the keyer's
  latest 5,000 judged fields, by field) and `crew_by_keyer` (the crew's latest 20,000, by
  keyer and field; read again only after the run judged fields), for a veteran (product) and
  for a keyer of a fresh crew on another work type, 5,000 judged fields each (baseline).

Ratio = fresh / veteran (target >= 0.8 each: the reads' cost does not grow with history).
The last line is the RESULT of bench/README.md.
"""

import argparse
import asyncio
import statistics
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from time import perf_counter
from uuid import UUID

import asyncpg
from harness import FullStack, full_stack, result_line
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.db import asyncpg_dsn, create_engine, create_session_factory
from bpo_common.ids import new_id
from bpo_validation.repository.accuracy import crew_by_keyer, recent_by_field
from bpo_validation.repository.quality import latest_judged
from bpo_validation.settings import Settings

HISTORY_TARGET = 0.8
WORK_TYPE = "bench"
FRESH_WORK_TYPE = "bench-fresh"
FIELDS = ("invoice_number", "issued_on", "vendor", "total", "currency")
COLUMNS = ("id", "contractor_id", "item_id", "task_id", "work_type", "field", "correct")


async def _seed(
    bench: FullStack, keyers: list[UUID], fields: int, start: datetime, work_type: str = WORK_TYPE
) -> None:
    """`fields` judged fields of `work_type` for each keyer, a task of five at a time, the
    keyers taking turns, one second apart from `start`; one in a hundred wrong."""
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["validation"]))
    try:
        rows = []
        for task in range(fields // len(FIELDS)):
            at = start + timedelta(seconds=task)
            for keyer in keyers:
                item_id, task_id = new_id(), new_id()
                for n, field in enumerate(FIELDS):
                    right = (task * len(FIELDS) + n) % 100 != 0
                    rows.append((new_id(), keyer, item_id, task_id, work_type, field, right, at))
        await connection.copy_records_to_table(
            "judgement",
            records=[(*row, False) for row in rows],
            columns=[*COLUMNS, "judged_at", "golden"],
        )
        await connection.execute("ANALYZE judgement")
    finally:
        await connection.close()


async def _p50(
    bench: FullStack, read: Callable[[AsyncSession, int], Awaitable[None]], reads: int
) -> float:
    """p50 of `reads` calls of `read(session, n)`, n counting from 0."""
    engine = create_engine(bench.urls.database_urls["validation"], pool_size=1)
    sessions = create_session_factory(engine, source="bench")
    times = []
    try:
        async with sessions() as session:
            for n in range(reads):
                started = perf_counter()
                await read(session, n)
                times.append(perf_counter() - started)
    finally:
        await engine.dispose()
    return statistics.median(times)


def _floor_read(keyers: list[UUID], window: int) -> Callable[[AsyncSession, int], Awaitable[None]]:
    asked = {(keyer, WORK_TYPE): (None, window) for keyer in keyers}

    async def read(session: AsyncSession, _: int) -> None:
        found = await latest_judged(session, asked)
        assert all(len(fields) == window for fields in found.values())

    return read


def _adaptive_read(
    keyers: list[UUID], work_type: str, settings: Settings
) -> Callable[[AsyncSession, int], Awaitable[None]]:
    async def read(session: AsyncSession, n: int) -> None:
        keyer = keyers[n % len(keyers)]
        own = await recent_by_field(session, keyer, work_type, settings.adaptive_window)
        crew = await crew_by_keyer(session, work_type, settings.adaptive_crew_window)
        assert sum(tally.judged for tally in own.values()) == settings.adaptive_window
        assert sum(tally.judged for tally in crew.by_field.values()) == (
            settings.adaptive_crew_window
        )

    return read


async def measure(bench: FullStack, history: int, keyers: int, reads: int) -> dict[str, float]:
    settings = Settings.model_construct()  # the defaults; no service to configure
    window = settings.quality_window
    veterans = [new_id() for _ in range(keyers)]
    fresh = [new_id() for _ in range(keyers)]
    fresh_crew = [new_id() for _ in range(keyers)]
    now = datetime.now(UTC)
    await _seed(bench, veterans, history, now - timedelta(days=30))
    await _seed(bench, fresh, window, now - timedelta(days=1))
    await _seed(bench, fresh_crew, settings.adaptive_window, now, work_type=FRESH_WORK_TYPE)
    return {
        "veteran": await _p50(bench, _floor_read(veterans, window), reads),
        "fresh": await _p50(bench, _floor_read(fresh, window), reads),
        "adaptive veteran": await _p50(bench, _adaptive_read(veterans, WORK_TYPE, settings), reads),
        "adaptive fresh": await _p50(
            bench, _adaptive_read(fresh_crew, FRESH_WORK_TYPE, settings), reads
        ),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--history", type=int, default=100_000)
    parser.add_argument("--keyers", type=int, default=16)
    parser.add_argument("--reads", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="10,000 / 16 / 50")
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.history, arguments.reads = 10_000, 50
    with full_stack("validation") as bench:
        p50 = asyncio.run(measure(bench, arguments.history, arguments.keyers, arguments.reads))
    ms = {name: seconds * 1000 for name, seconds in p50.items()}
    history = f"{arguments.keyers} keyers of {arguments.history:,} judged fields"
    fresh = f"{arguments.keyers} fresh keyers"
    for label, key in (
        (f"window read p50, {history}", "veteran"),
        (f"window read p50, {fresh}", "fresh"),
        (f"adaptive reads p50, {history}", "adaptive veteran"),
        (f"adaptive reads p50, {fresh} of a fresh crew", "adaptive fresh"),
    ):
        print(f"{label:66} {ms[key]:7.2f} ms")
    figures = [
        {
            "figure": f"{what} for keyers with a long history vs fresh keyers (ratio = fresh / "
            "veteran)",
            "product": round(ms[veteran], 2),
            "baseline": round(ms[fresh], 2),
            "unit": "ms",
            "ratio": round(ms[fresh] / ms[veteran], 3),
            "target": HISTORY_TARGET,
        }
        for what, veteran, fresh in (
            ("quality floor's window read", "veteran", "fresh"),
            ("adaptive QC's reads for a first keying", "adaptive veteran", "adaptive fresh"),
        )
    ]
    notes = [
        f"{history} each, seeded with SQL and analyzed; {arguments.reads} reads per p50: the "
        "quality floor's latest 200 of every keyer; adaptive QC's keyer's latest 5,000 by field "
        "and crew's latest 20,000 by keyer and field (fresh: a crew of as many with 5,000 each)"
    ]
    print(result_line("quality_window", figures, notes))


if __name__ == "__main__":
    main()

"""The quality floor's window read for keyers with a long history, against fresh keyers.

    .venv/bin/python bench/quality_window.py [--history 100000] [--keyers 16] [--reads 200]
        [--quick]

Starts validation (harness.full_stack). Seeds judged fields straight into validation's
database: `--keyers` veterans who keyed together, `--history` judged fields each on one work
type (their rows interleaved in time, as a crew's are), then as many fresh keyers with a
window's worth each (`quality_window`, 200), and analyzes the table. Then the read every
decision run makes, `repository.quality.latest_judged` (each keyer's latest 200 judged
fields on the work type, one statement for all of them), `--reads` times for the veterans
(product) and for the fresh keyers (baseline); p50 of each. Ratio = fresh / veteran (target
>= 0.8: the read's cost does not grow with the keyers' history).

The last line is the RESULT of bench/README.md.
"""

import argparse
import asyncio
import statistics
from datetime import UTC, datetime, timedelta
from time import perf_counter
from uuid import UUID

import asyncpg
from harness import FullStack, full_stack, result_line

from bpo_common.db import asyncpg_dsn, create_engine, create_session_factory
from bpo_common.ids import new_id
from bpo_validation.repository.quality import latest_judged
from bpo_validation.settings import Settings

HISTORY_TARGET = 0.8
WORK_TYPE = "bench"
FIELDS = ("invoice_number", "issued_on", "vendor", "total", "currency")
COLUMNS = ("id", "contractor_id", "item_id", "task_id", "work_type", "field", "correct")


async def _seed(bench: FullStack, keyers: list[UUID], fields: int, start: datetime) -> None:
    """`fields` judged fields for each keyer, a task of five at a time, the keyers taking
    turns, one second apart from `start`; one in a hundred wrong."""
    connection = await asyncpg.connect(asyncpg_dsn(bench.urls.database_urls["validation"]))
    try:
        rows = []
        for task in range(fields // len(FIELDS)):
            at = start + timedelta(seconds=task)
            for keyer in keyers:
                item_id, task_id = new_id(), new_id()
                for n, field in enumerate(FIELDS):
                    right = (task * len(FIELDS) + n) % 100 != 0
                    rows.append((new_id(), keyer, item_id, task_id, WORK_TYPE, field, right, at))
        await connection.copy_records_to_table(
            "judgement",
            records=[(*row, False) for row in rows],
            columns=[*COLUMNS, "judged_at", "golden"],
        )
        await connection.execute("ANALYZE judgement")
    finally:
        await connection.close()


async def _reads_p50(bench: FullStack, keyers: list[UUID], window: int, reads: int) -> float:
    engine = create_engine(bench.urls.database_urls["validation"], pool_size=1)
    sessions = create_session_factory(engine, source="bench")
    asked = {(keyer, WORK_TYPE): (None, window) for keyer in keyers}
    times = []
    try:
        async with sessions() as session:
            for _ in range(reads):
                started = perf_counter()
                found = await latest_judged(session, asked)
                times.append(perf_counter() - started)
                assert all(len(fields) == window for fields in found.values())
    finally:
        await engine.dispose()
    return statistics.median(times)


async def measure(bench: FullStack, history: int, keyers: int, reads: int) -> dict[str, float]:
    window = Settings.model_fields["quality_window"].default
    veterans = [new_id() for _ in range(keyers)]
    fresh = [new_id() for _ in range(keyers)]
    now = datetime.now(UTC)
    await _seed(bench, veterans, history, now - timedelta(days=30))
    await _seed(bench, fresh, window, now - timedelta(days=1))
    return {
        "veteran": await _reads_p50(bench, veterans, window, reads),
        "fresh": await _reads_p50(bench, fresh, window, reads),
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
    print(
        f"window read p50, {arguments.keyers} keyers of {arguments.history:,} judged fields "
        f"{ms['veteran']:7.2f} ms"
    )
    print(f"window read p50, {arguments.keyers} fresh keyers             {ms['fresh']:7.2f} ms")
    figures = [
        {
            "figure": "quality floor's window read for keyers with a long history vs fresh "
            "keyers (ratio = fresh / veteran)",
            "product": round(ms["veteran"], 2),
            "baseline": round(ms["fresh"], 2),
            "unit": "ms",
            "ratio": round(ms["fresh"] / ms["veteran"], 3),
            "target": HISTORY_TARGET,
        }
    ]
    notes = [
        f"{arguments.keyers} keyers with {arguments.history:,} judged fields each, seeded with "
        f"SQL and analyzed; {arguments.reads} reads of their latest 200 each per p50"
    ]
    print(result_line("quality_window", figures, notes))


if __name__ == "__main__":
    main()

"""Outbox relay: committed outbox rows to JetStream, against raw JetStream async publishing.

    .venv/bin/python bench/outbox_relay.py [--events 30000] [--runs 2] [--quick]

Starts its own durable PostgreSQL and NATS (JetStream on file storage, fsync always, as
`make run` starts them) on free ports, migrates the intake database (the outbox and its
commit trigger come with it) and creates the BPO stream.

- product: `--events` TaskSubmitted events go into the outbox through the real publish path,
  `bpo_common.outbox.publish_many`, in sessions of 1,000 events a transaction (not timed).
  Then `OutboxRelay.relay_once` is called until it finds nothing left, which is the loop
  `OutboxRelay.run` spins while there is work: claim a batch of 500 rows FOR UPDATE SKIP
  LOCKED and mark them sent in one statement, publish them with acks in flight together,
  commit. Timed from the first call until every row is marked sent.
- baseline: the same payloads and subjects, read back from the outbox, published with
  nats.py `js.publish_async` (a fresh `Nats-Msg-Id` each, so JetStream's duplicate window
  treats them as the new messages they are), 500 in flight at a time as the relay does,
  each batch's acks awaited before the next.

The two alternate `--runs` times and the best of each is kept. The ratio is product events/s
/ baseline events/s (target >= 0.50). It exits 0 whatever the figures: it measures, it does
not judge. The last line of its output is the machine-readable `RESULT {...}` of
bench/README.md.
"""

import asyncio
import sys
from collections.abc import Sequence
from time import perf_counter
from typing import Any

from harness import EventBench, Stack, Timed, connected, cpu_snapshot, run_event_bench
from nats.js import JetStreamContext
from sqlalchemy import func, select

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.events import STREAM_NAME
from bpo_common.ids import new_id
from bpo_common.outbox import publish_many
from bpo_common.relay import OutboxRelay
from bpo_common.tables import outbox_event

TARGET_RATIO = 0.50
BATCH = 500  # the relay's default batch, and its acks in flight
FILL_PER_TRANSACTION = 1000


# The work


def submitted(n: int) -> TaskSubmitted:
    """A realistic event: what intake publishes for every keyed task."""
    now = utcnow()
    return TaskSubmitted(
        task_id=new_id(),
        job_id=new_id(),
        item_id=new_id(),
        client_id=new_id(),
        work_type="invoice",
        kind="entry",
        contractor_id=new_id(),
        data={"invoice_number": f"INV-{n:07d}", "total": f"{n % 9973}.{n % 100:02d}"},
        golden=None,
        entries_expected=1,
        claimed_at=now,
        submitted_at=now,
    )


async def fill_outbox(sessions: Any, count: int) -> None:
    """`count` events into the outbox through `publish_many`, 1,000 a transaction."""
    for start in range(0, count, FILL_PER_TRANSACTION):
        events = [submitted(n) for n in range(start, min(start + FILL_PER_TRANSACTION, count))]
        async with sessions() as session, session.begin():
            await publish_many(session, events)


async def product(bench: Stack, js: JetStreamContext, sessions: Any, count: int) -> Timed:
    await fill_outbox(sessions, count)
    relay = OutboxRelay(sessions, js, batch_size=BATCH)
    before = cpu_snapshot(bench)
    started = perf_counter()
    relayed = 0
    while sent := await relay.relay_once():
        relayed += sent
    elapsed = perf_counter() - started
    after = cpu_snapshot(bench)
    async with sessions() as session:
        unsent = await session.scalar(
            select(func.count()).select_from(outbox_event).where(outbox_event.c.sent_at.is_(None))
        )
    if relayed != count or unsent:
        raise RuntimeError(f"the relay sent {relayed} of {count}; {unsent} rows left unsent")
    return Timed(elapsed, {name: after[name] - before[name] for name in after})


async def baseline(
    bench: Stack, js: JetStreamContext, messages: Sequence[tuple[str, bytes]]
) -> Timed:
    """The same subjects and payloads straight to JetStream, 500 acks in flight at a time."""
    ids = [str(new_id()) for _ in messages]  # ready beforehand: the relay reads its ids too
    before = cpu_snapshot(bench)
    started = perf_counter()
    for first in range(0, len(messages), BATCH):
        futures = [
            await js.publish_async(subject, payload, headers={"Nats-Msg-Id": message_id})
            for (subject, payload), message_id in zip(
                messages[first : first + BATCH], ids[first : first + BATCH], strict=True
            )
        ]
        await asyncio.wait(futures)
        failed = [future.exception() for future in futures if future.exception() is not None]
        if failed:
            raise RuntimeError(f"{len(failed)} publishes failed: {failed[0]!r}")
    elapsed = perf_counter() - started
    after = cpu_snapshot(bench)
    return Timed(elapsed, {name: after[name] - before[name] for name in after})


async def stored_messages(sessions: Any, count: int) -> list[tuple[str, bytes]]:
    """Subjects and payloads of the last `count` outbox rows, as the relay published them."""
    async with sessions() as session:
        rows = await session.execute(
            select(outbox_event.c.subject, outbox_event.c.payload)
            .order_by(outbox_event.c.created_at.desc(), outbox_event.c.id.desc())
            .limit(count)
        )
        return [(subject, bytes(payload)) for subject, payload in rows][::-1]


async def measure(bench: Stack, count: int, runs: int) -> tuple[list[Timed], list[Timed], int]:
    """Alternating product and baseline runs; also the mean payload size in bytes."""
    async with connected(bench, "bench-outbox-relay") as connection:
        js, sessions = connection.js, connection.sessions
        products, baselines = [], []
        size = 0
        for _ in range(runs):
            products.append(await product(bench, js, sessions, count))
            messages = await stored_messages(sessions, count)
            size = sum(len(payload) for _, payload in messages) // len(messages)
            baselines.append(await baseline(bench, js, messages))
        info = await js.stream_info(STREAM_NAME)
        expected = 2 * count * runs
        if info.state.messages != expected:
            raise RuntimeError(f"the stream holds {info.state.messages} messages, not {expected}")
        return products, baselines, size


# The report


def main() -> int:
    return run_event_bench(
        EventBench(
            name="outbox_relay",
            title="outbox relay",
            figure="outbox relay to JetStream",
            product="OutboxRelay",
            baseline="js.publish_async",
            target=TARGET_RATIO,
            events=30_000,
            quick_events=5_000,
            setting=("in flight", f"{BATCH} (the relay's batch; baseline the same)"),
            method=f"{BATCH} in flight; rows inserted with publish_many (untimed), drained with "
            "OutboxRelay.relay_once; baseline js.publish_async of the same payloads",
        ),
        measure,
        __doc__,
    )


if __name__ == "__main__":
    sys.exit(main())

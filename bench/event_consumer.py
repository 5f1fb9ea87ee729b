"""Event consumer: fetch, apply idempotently in PostgreSQL, ack; against raw fetch and ack.

    .venv/bin/python bench/event_consumer.py [--events 6000] [--runs 2] [--quick]

Starts its own durable PostgreSQL and NATS (JetStream on file storage, fsync always, as
`make run` starts them) on free ports, migrates the intake database (for its inbox table),
adds a one-table effect, creates the BPO stream and publishes `--events` TaskSubmitted
envelopes to it (not timed). Each run then drains all of them with a new durable consumer:

- product: `bpo_common.inbox.InboxConsumer.run` with its defaults (up to 100 events a
  fetch), one set-based handler whose effect is one INSERT per run of events, in the
  transaction that records the events in the inbox; parse, inbox rows, effect, commit and
  ack as the consumer does them.
- baseline: a raw nats.py pull subscription on a consumer with the same configuration,
  fetching 100 at a time and acking each message.

Both are timed from the consumer's creation until the server's ack floor reaches the last
event (polled every 5 ms, for both only once the consumer has seen every event). The two
alternate `--runs` times and the best of each is kept. The ratio is product events/s /
baseline events/s (target >= 0.30). It exits 0 whatever the figures. The last line of its
output is the `RESULT {...}` of bench/README.md.
"""

import asyncio
import sys
from collections.abc import Sequence
from contextlib import suppress
from time import perf_counter

from harness import EventBench, Stack, Timed, connected, cpu_snapshot, run_event_bench
from nats.js import JetStreamContext
from sqlalchemy import Column, MetaData, String, Table, Uuid, func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.events import STREAM_NAME, Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import InboxConsumer, Subscription
from bpo_common.tables import inbox_event

TARGET_RATIO = 0.30
FETCH_BATCH = 100  # InboxConsumer's default; the baseline fetches as many
PUBLISH_BATCH = 500
POLL_S = 0.005

# The trivial effect: one row per applied event, written in the inbox's transaction.
bench_metadata = MetaData()
bench_effect = Table(
    "bench_effect",
    bench_metadata,
    Column("consumer", String(100), primary_key=True),
    Column("event_id", Uuid, primary_key=True),
)


# The work


def envelope(n: int) -> Envelope:
    """A realistic event: what intake publishes for every keyed task."""
    now = utcnow()
    event = TaskSubmitted(
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
    return wrap(event, source="intake", correlation_id=str(new_id()))


async def publish_events(js: JetStreamContext, count: int) -> tuple[int, int]:
    """`count` envelopes into the stream; (the stream's last sequence, mean payload bytes)."""
    size = 0
    for first in range(0, count, PUBLISH_BATCH):
        futures = []
        for n in range(first, min(first + PUBLISH_BATCH, count)):
            wrapped = envelope(n)
            payload = wrapped.model_dump_json().encode()
            size += len(payload)
            futures.append(
                await js.publish_async(
                    wrapped.subject, payload, headers={"Nats-Msg-Id": str(wrapped.id)}
                )
            )
        await asyncio.gather(*futures)
    info = await js.stream_info(STREAM_NAME)
    if info.state.messages != count:
        raise RuntimeError(f"the stream holds {info.state.messages} events, not {count}")
    return info.state.last_seq, size // count


async def drained(js: JetStreamContext, consumer: str, last_seq: int) -> None:
    """Return once the server has every event up to `last_seq` acked by `consumer`; called
    when the consumer has seen them all, so it polls only for the last acks."""
    while True:
        info = await js.consumer_info(STREAM_NAME, consumer)
        if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= last_seq:
            return
        await asyncio.sleep(POLL_S)


def inbox_consumer(
    name: str, sessions: SessionFactory, js: JetStreamContext, applied: "Applied | None" = None
) -> InboxConsumer:
    async def apply(session: AsyncSession, events: Sequence[Envelope]) -> None:
        # Set-based, as the services' handlers: one INSERT for the run.
        rows = [{"consumer": name, "event_id": event.id} for event in events]
        await session.execute(insert(bench_effect), rows)
        if applied is not None:
            applied.add(len(events))

    return InboxConsumer(Subscription(name, {TaskSubmitted.event_type: apply}), sessions, js)


class Applied:
    """Counts handler calls, so the run polls the server only once all events were seen."""

    def __init__(self, expected: int) -> None:
        self.expected = expected
        self.count = 0
        self.all_seen = asyncio.Event()

    def add(self, count: int) -> None:
        self.count += count
        if self.count >= self.expected:
            self.all_seen.set()


async def product(
    bench: Stack,
    js: JetStreamContext,
    sessions: SessionFactory,
    name: str,
    count: int,
    last_seq: int,
) -> Timed:
    applied = Applied(count)
    consumer = inbox_consumer(name, sessions, js, applied)
    before = cpu_snapshot(bench)
    started = perf_counter()
    running = asyncio.create_task(consumer.run())
    try:
        await applied.all_seen.wait()
        await drained(js, name, last_seq)
        elapsed = perf_counter() - started
    finally:
        running.cancel()
        with suppress(asyncio.CancelledError):
            await running
    after = cpu_snapshot(bench)
    return Timed(elapsed, {key: after[key] - before[key] for key in after})


async def baseline(
    bench: Stack, js: JetStreamContext, sessions: SessionFactory, name: str, count: int, last: int
) -> Timed:
    """The same consumer configuration, fetched and acked without touching the database."""
    config = inbox_consumer(name, sessions, js).consumer_config()
    before = cpu_snapshot(bench)
    started = perf_counter()
    await js.add_consumer(STREAM_NAME, config)
    pull = await js.pull_subscribe_bind(durable=name, stream=STREAM_NAME)
    acked = 0
    while acked < count:
        try:
            messages = await pull.fetch(FETCH_BATCH, timeout=1.0)
        except TimeoutError:
            continue
        for message in messages:
            await message.ack()
        acked += len(messages)
    await drained(js, name, last)
    elapsed = perf_counter() - started
    after = cpu_snapshot(bench)
    await pull.unsubscribe()
    return Timed(elapsed, {key: after[key] - before[key] for key in after})


async def measure(bench: Stack, count: int, runs: int) -> tuple[list[Timed], list[Timed], int]:
    """Alternating product and baseline runs; also the mean payload size in bytes."""
    async with connected(bench, "bench-event-consumer") as connection:
        js, sessions = connection.js, connection.sessions
        async with connection.engine.begin() as ddl:
            await ddl.run_sync(bench_metadata.create_all)
        last_seq, size = await publish_events(js, count)
        products, baselines = [], []
        for run in range(runs):
            name = f"bench-inbox-{run}"
            products.append(await product(bench, js, sessions, name, count, last_seq))
            async with sessions() as session:
                recorded = await session.scalar(
                    select(func.count())
                    .select_from(inbox_event)
                    .where(inbox_event.c.consumer == name)
                )
            if recorded != count:
                raise RuntimeError(f"the inbox recorded {recorded} events, not {count}")
            baselines.append(
                await baseline(bench, js, sessions, f"bench-raw-{run}", count, last_seq)
            )
        async with sessions() as session:
            effects = await session.scalar(select(func.count()).select_from(bench_effect))
        if effects != count * runs:
            raise RuntimeError(f"{effects} effects applied, not {count * runs}")
        return products, baselines, size


# The report


def main() -> int:
    return run_event_bench(
        EventBench(
            name="event_consumer",
            title="event consumer",
            figure="event consumer: fetch, apply in PostgreSQL, ack",
            product="InboxConsumer",
            baseline="raw fetch and ack",
            target=TARGET_RATIO,
            events=6_000,
            quick_events=2_000,
            setting=("fetch batch", f"{FETCH_BATCH} (InboxConsumer's default; baseline the same)"),
            method=f"fetch {FETCH_BATCH}; InboxConsumer.run (inbox row + one INSERT effect per "
            "event) vs raw fetch + ack",
        ),
        measure,
        __doc__,
    )


if __name__ == "__main__":
    sys.exit(main())

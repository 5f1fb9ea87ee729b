"""A database of its own for the messaging plumbing, with a probe event and its effect table."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from uuid import UUID

import asyncpg
import pytest
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bpo_common.db import SessionFactory, create_engine, create_session_factory
from bpo_common.events import Envelope, Event
from bpo_common.ids import new_id
from bpo_common.inbox import Handler
from bpo_common.messaging import connect, ensure_stream
from bpo_common.migrations import create_plumbing_tables
from bpo_common.tables import outbox_event
from bpo_devtools.testing import TestStack

DATABASE = "plumbing_test"


class ProbeRecorded(Event):
    """A test event; `run` keeps one test's events apart from another's."""

    event_type = "bpo.test.probe.recorded"

    run: str
    n: int


class ProbeCounted(ProbeRecorded):
    """A type of event a newer release handles and an older one does not."""

    event_type = "bpo.test.probe.counted"


@dataclass
class Plumbing:
    engine: AsyncEngine
    sessions: SessionFactory
    dsn: str

    async def effects(self, consumer: str) -> list[int]:
        """Every `n` the consumer applied, once per application (duplicates would show)."""
        async with self.sessions() as session:
            rows = await session.execute(
                text("SELECT n FROM probe_effect WHERE consumer = :c ORDER BY n"), {"c": consumer}
            )
            return [row.n for row in rows]

    async def applied_at_least(self, consumer: str, count: int) -> bool:
        return len(await self.effects(consumer)) >= count

    async def unsent(self, ids: list[UUID]) -> int:
        async with self.sessions() as session:
            result = await session.execute(
                text("SELECT count(*) FROM outbox_event WHERE id = ANY(:ids) AND sent_at IS NULL"),
                {"ids": ids},
            )
            return int(result.scalar_one())

    async def publish_failures(self, event_id: UUID) -> tuple[int, str | None]:
        """An outbox row's failed publish attempts and the last one's error."""
        async with self.sessions() as session:
            query = select(outbox_event.c.publish_attempts, outbox_event.c.last_error)
            attempts, error = (
                await session.execute(query.where(outbox_event.c.id == event_id))
            ).one()
            return int(attempts), error

    @asynccontextmanager
    async def stray_row(self, subject: str, payload: bytes) -> AsyncIterator[UUID]:
        """An outbox row written by hand (a subject no stream takes, a payload too large for
        the server), gone after the block: the relays of later tests would meet it first."""
        row_id = new_id()
        async with self.sessions() as session, session.begin():
            await session.execute(
                insert(outbox_event).values(id=row_id, subject=subject, payload=payload)
            )
        try:
            yield row_id
        finally:
            async with self.sessions() as session, session.begin():
                await session.execute(delete(outbox_event).where(outbox_event.c.id == row_id))

    def applier(
        self,
        consumer: str,
        run: str,
        *,
        poison: int | None = None,
        event: type[ProbeRecorded] = ProbeRecorded,
    ) -> Handler:
        """A handler of `event` that records one effect per application; it always fails on
        `poison`."""

        async def apply(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
            for envelope in envelopes:
                probe = envelope.payload(event)
                if probe.run != run:
                    continue
                if probe.n == poison:
                    raise RuntimeError(f"probe {probe.n} is poison")
                await session.execute(
                    text("INSERT INTO probe_effect (consumer, event_id, n) VALUES (:c, :e, :n)"),
                    {"c": consumer, "e": envelope.id, "n": probe.n},
                )

        return apply


@pytest.fixture(scope="session")
async def plumbing(stack: TestStack) -> AsyncIterator[Plumbing]:
    admin = await asyncpg.connect(stack.admin_dsn())
    try:
        await admin.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        await admin.execute(f"CREATE DATABASE {DATABASE}")
    finally:
        await admin.close()
    dsn = stack.admin_dsn(DATABASE)
    engine = create_engine(dsn.replace("postgresql://", "postgresql+asyncpg://", 1))
    async with engine.begin() as connection:
        await connection.run_sync(create_plumbing_tables)
        await connection.execute(
            text(
                "CREATE TABLE probe_effect (id serial PRIMARY KEY, consumer text NOT NULL, "
                "event_id uuid NOT NULL, n integer NOT NULL)"
            )
        )
    yield Plumbing(engine, create_session_factory(engine, source="test"), dsn)
    await engine.dispose()


@pytest.fixture(scope="session")
async def nats_client(stack: TestStack) -> AsyncIterator[NATS]:
    client = await connect(stack.urls.nats_url, name="tests")
    await ensure_stream(client.jetstream())
    yield client
    await client.close()


@pytest.fixture(scope="session")
def js(nats_client: NATS) -> JetStreamContext:
    return nats_client.jetstream()

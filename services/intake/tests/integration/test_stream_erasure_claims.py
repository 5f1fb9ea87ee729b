"""The stream erasure run by the test in an app without workers (so that none runs beside it):
a pass claims its erasures in a short transaction and holds none open while it reads the
stream, so that a server ending idle transactions stops nothing and the erasure is recorded
as emptied from the stream; a pass renews its claim while it reads, so that no other pass
takes its erasures meanwhile, and the claim of a pass that died runs out for another to take."""

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from bpo_common import messaging
from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory, create_session_factory, engine_url
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, eventually
from bpo_intake import workers
from bpo_intake.models import Erasure
from bpo_intake.repository import erasure as repository
from bpo_intake.service import erasure
from bpo_intake.settings import Settings

from .conftest import worker_free
from .documents import open_job

Redact = Callable[..., Awaitable[list[Envelope]]]


settings, db = worker_free("stream-erasure")


async def _done_by_every_service(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory
) -> UUID:
    """An erasure of an item of a new job that every service has answered: the stream's
    events are to be emptied of it (none names the item)."""
    _, job = await open_job(api, tokens)
    now = utcnow()
    done = {f"{service}_erased_at": now for service in repository.SERVICES}
    row = Erasure(
        id=new_id(),
        job_id=UUID(job["id"]),
        client_id=UUID(job["client_id"]),
        item_ids=[str(new_id())],
        requested_by="test",
        requested_at=now,
        **done,
    )
    async with db() as session, session.begin():
        session.add(row)
    return row.id


async def _erasure(db: SessionFactory, erasure_id: UUID) -> Erasure:
    async with db() as session:
        found = await session.get(Erasure, erasure_id)
    assert found is not None
    return found


def _slowed(seconds: float, *, first_only: bool) -> Redact:
    """The stream's reads (or only the first) made to take `seconds` longer, as a long
    stream's do."""
    read = messaging.redact
    calls = 0

    async def slow(*args: Any) -> list[Envelope]:
        nonlocal calls
        calls += 1
        if calls == 1 or not first_only:
            await asyncio.sleep(seconds)
        return await read(*args)

    return slow


async def test_a_pass_outlasting_the_servers_idle_transaction_timeout_records_its_erasure(
    app: FastAPI,
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    erasure_id = await _done_by_every_service(api, tokens, db)
    # Each read of the stream takes 3 s; the server ends a transaction idle for 1 s.
    monkeypatch.setattr(erasure, "redact", _slowed(3.0, first_only=False))
    address, arguments = engine_url(settings.database_url.get_secret_value())
    idle = {"idle_in_transaction_session_timeout": "1s"}
    strict = create_async_engine(address, connect_args={**arguments, "server_settings": idle})
    loop: asyncio.Task[None] | None = None
    try:
        sessions = create_session_factory(strict, source="intake")
        async with sessions() as session:
            shown = await session.execute(text("SHOW idle_in_transaction_session_timeout"))
            assert shown.scalar_one() == "1s"
        # The intake worker's loop, on the strict server's sessions.
        loop = asyncio.create_task(
            workers.erase_from_the_stream(replace(app.state.runtime, sessions=sessions))
        )

        async def recorded() -> bool:
            return (await _erasure(db, erasure_id)).stream_erased_at is not None

        await eventually(recorded, timeout_s=20, what="the stream erasure recorded")
    finally:
        if loop is not None:
            loop.cancel()
            await asyncio.wait([loop])
        await strict.dispose()
    assert (await _erasure(db, erasure_id)).stream_claimed_until is None


async def test_a_pass_holds_its_erasures_while_it_reads_and_a_dead_pass_s_claim_runs_out(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    js: JetStreamContext,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # A claim of 2 s, renewed every 0.5 s: the first pass reads for 3 s.
    monkeypatch.setattr(erasure, "STREAM_CLAIM_S", 2.0)
    monkeypatch.setattr(erasure, "STREAM_RENEW_S", 0.5)
    monkeypatch.setattr(erasure, "STREAM_HELD_S", 1.0)
    monkeypatch.setattr(erasure, "redact", _slowed(3.0, first_only=True))
    claimed: list[list[UUID]] = []
    claim = repository.claim_for_the_stream

    async def recorded_claim(session: AsyncSession, limit: int, held_s: float) -> list[Erasure]:
        taken = await claim(session, limit, held_s)
        claimed.append([row.id for row in taken])
        return taken

    monkeypatch.setattr(repository, "claim_for_the_stream", recorded_claim)
    erasure_id = await _done_by_every_service(api, tokens, db)
    first = asyncio.create_task(erasure.erase_from_the_stream(db, js))

    async def taken() -> bool:
        return any(erasure_id in ids for ids in claimed)

    await eventually(taken, what="the first pass's claim")
    await asyncio.sleep(2.5)  # past the claim as first taken: renewed since
    await erasure.erase_from_the_stream(db, js)
    assert not first.done()
    assert [erasure_id in ids for ids in claimed] == [True, False]
    await asyncio.wait_for(first, 10)
    done = await _erasure(db, erasure_id)
    assert done.stream_erased_at is not None
    assert done.stream_claimed_until is None

    # A pass that claimed an erasure and died: no other takes it until its claim runs out.
    orphaned = await _done_by_every_service(api, tokens, db)
    async with db() as session, session.begin():
        assert [row.id for row in await claim(session, 100, 1.0)] == [orphaned]
    await erasure.erase_from_the_stream(db, js)
    assert (await _erasure(db, orphaned)).stream_erased_at is None
    await asyncio.sleep(1.5)
    await erasure.erase_from_the_stream(db, js)
    assert (await _erasure(db, orphaned)).stream_erased_at is not None


async def test_a_renewal_or_release_fails_rather_than_waits_on_a_pass_of_the_last_release(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A pass of the last release knows no claims: it locks the erasures it reads for its whole
    # read, and this pass, waiting on them, would stop for as long.
    monkeypatch.setattr(repository, "STREAM_LOCK_WAIT", "200ms")
    erasure_id = await _done_by_every_service(api, tokens, db)
    async with db() as session, session.begin():
        taken = await repository.claim_for_the_stream(session, 100, 60.0)
        until = taken[0].stream_claimed_until
        assert until is not None
        # Others' erasures (earlier tests') go back at once.
        others = [row.id for row in taken if row.id != erasure_id]
        await repository.release_stream_claim(session, others, until, (), utcnow())
    assert erasure_id in {row.id for row in taken}
    ids = [erasure_id]

    async def renew(session: AsyncSession) -> None:
        await repository.renew_stream_claim(session, ids, until, 60.0)

    async def release(session: AsyncSession) -> None:
        await repository.release_stream_claim(session, ids, until, (), utcnow())

    async with db() as old, old.begin():
        await old.execute(select(Erasure.id).where(Erasure.id == erasure_id).with_for_update())
        for attempt in (renew, release):
            with pytest.raises(DBAPIError, match="lock timeout"):
                async with db() as session, session.begin():
                    await asyncio.wait_for(attempt(session), 30)

    async with db() as session, session.begin():
        await release(session)
    assert (await _erasure(db, erasure_id)).stream_claimed_until is None

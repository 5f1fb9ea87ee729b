"""A request whose transaction PostgreSQL ends for meeting another's locks in another order (a
deadlock: two releases of a service taking them so while one replaces the other, say) is a
503 that says to send it again, never a 500; sent again, it is served."""

import asyncio
from types import SimpleNamespace

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from bpo_common.db import SessionDep
from bpo_common.errors import install_error_handlers
from bpo_devtools.testing import assert_problem, serve, someone_waits_for_a_lock

from .conftest import Plumbing

# Advisory lock keys of this test's own.
FIRST, SECOND = 4_710_001, 4_710_002


def _app(plumbing: Plumbing) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.runtime = SimpleNamespace(sessions=plumbing.sessions)

    @app.post("/both")
    async def both(session: SessionDep) -> dict[str, bool]:
        for key in (FIRST, SECOND):
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
        return {"locked": True}

    return app


async def test_a_request_ended_by_a_deadlock_is_a_503_to_send_again(plumbing: Plumbing) -> None:
    other = await asyncpg.connect(plumbing.dsn)
    try:
        # The other transaction waits long before it looks for a deadlock: the request's is
        # the one PostgreSQL ends.
        await other.execute("SET deadlock_timeout = '30s'")
        async with serve(_app(plumbing)) as client:
            holding = other.transaction()
            await holding.start()
            await other.execute("SELECT pg_advisory_xact_lock($1)", SECOND)
            sent = asyncio.create_task(client.post("/both"))
            async with plumbing.sessions() as watching:
                await someone_waits_for_a_lock(watching)
            await other.execute("SELECT pg_advisory_xact_lock($1)", FIRST)
            await holding.rollback()

            response: httpx.Response = await sent
            body = assert_problem(response, 503)
            assert body["detail"] == "the request met another at the same data; send it again"
            assert response.headers["Retry-After"] == "1"
            again = await client.post("/both")
            assert again.json() == {"locked": True}
    finally:
        await other.close()


async def test_a_failed_statement_names_no_value_it_was_given(plumbing: Plumbing) -> None:
    # The error is logged with its traceback (a 503's, a 500's): values in it would be in logs.
    statement = text("SELECT 1 / 0 WHERE CAST(:name AS text) <> ''")
    async with plumbing.engine.connect() as connection:
        with pytest.raises(DBAPIError) as failed:
            await connection.execute(statement, {"name": "Jane Doe, DE89370400440532013000"})
    assert "division by zero" in str(failed.value)
    assert "Jane Doe" not in str(failed.value)
    assert "DE89370400440532013000" not in str(failed.value)

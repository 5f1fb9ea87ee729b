"""PostgreSQL restarting, down or out of reach under a service, or its pool's connections all taken
past its wait: a 503 that says to retry, never a 500, and requests are served again as soon as
it is back; a server that vanishes unseen is found within about a minute, and the server finds a
client that vanished as soon, or, refusing to, serves it all the same."""

import asyncio
import socket
from types import SimpleNamespace
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from structlog.testing import capture_logs

from bpo_common.db import SessionDep, create_engine, create_session_factory, engine_url
from bpo_common.errors import install_error_handlers
from bpo_common.notifications import Notifications
from bpo_devtools.servers import PostgresServer, free_port
from bpo_devtools.testing import TestStack, assert_problem, serve

from .conftest import Plumbing

PASSWORD = "outage"


def _app(server: PostgresServer | str) -> FastAPI:
    """An app answering from the server's database, or from the engine at a URL."""
    if isinstance(server, PostgresServer):
        url = f"postgresql+asyncpg://postgres:{PASSWORD}@127.0.0.1:{server.port}/postgres"
        return _app_of(create_engine(url, pool_size=2))
    return _app_of(create_engine(server, pool_size=2))


def _app_of(engine: AsyncEngine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    sessions = create_session_factory(engine, source="outage-test")
    app.state.runtime = SimpleNamespace(sessions=sessions)

    @app.get("/answer")
    async def answer(session: SessionDep) -> dict[str, int]:
        return {"answer": (await session.execute(text("SELECT 41 + 1"))).scalar_one()}

    return app


def _unavailable(response: httpx.Response) -> None:
    body = assert_problem(response, 503)
    assert body["detail"] == "the database connection was lost or refused; retry the request"
    assert response.headers["Retry-After"] == "1"


async def test_a_database_restart_or_outage_is_a_503_to_retry_and_then_requests_are_served(
    stack: TestStack,
) -> None:
    server = PostgresServer(stack.root / "postgres-outage", free_port(), durable=False)
    server.start(PASSWORD)
    try:
        async with serve(_app(server)) as client:
            assert (await client.get("/answer")).json() == {"answer": 42}

            server.stop()
            _unavailable(await client.get("/answer"))  # the pooled connection is dead
            _unavailable(await client.get("/answer"))  # no new one can be opened

            server.start(PASSWORD)
            assert (await client.get("/answer")).json() == {"answer": 42}

            # A restart while the service runs: its pooled connection is closed under it, and
            # the next request is served on a new one.
            await asyncio.to_thread(server.stop)
            await asyncio.to_thread(server.start, PASSWORD)
            assert (await client.get("/answer")).json() == {"answer": 42}
    finally:
        server.stop()


async def test_a_database_host_that_does_not_resolve_is_a_503_to_retry() -> None:
    """Its name not resolved (a DNS outage), as a connect that times out or finds no route:
    the driver's OSError, not one of its own."""
    async with serve(_app("postgresql+asyncpg://u:p@bpo-database.invalid:5432/db")) as client:
        _unavailable(await client.get("/answer"))


async def test_a_pool_whose_connections_are_all_taken_past_its_wait_is_a_503_to_retry(
    stack: TestStack,
) -> None:
    address, arguments = engine_url(stack.urls.database_urls["intake"])
    engine = create_async_engine(
        address, connect_args=arguments, pool_size=1, max_overflow=0, pool_timeout=0.5
    )
    try:
        async with serve(_app_of(engine)) as client, engine.connect() as held:
            await held.execute(text("SELECT 1"))  # the pool's only connection, held
            answer = await client.get("/answer")
        body = assert_problem(answer, 503)
        assert body["detail"] == "no database connection came free in time; retry the request"
        assert answer.headers["Retry-After"] == "1"
        async with serve(_app_of(engine)) as client:
            assert (await client.get("/answer")).json() == {"answer": 42}, "served once free"
    finally:
        await engine.dispose()


def _probing(driver: Any) -> list[int]:
    """How the socket of an asyncpg connection watches its server: keepalive on, seconds
    silent before the first probe, seconds between probes, probes, and milliseconds that
    what it sent may go unacknowledged."""
    sock = driver._transport.get_extra_info("socket")
    options = [socket.TCP_KEEPIDLE, socket.TCP_KEEPINTVL, socket.TCP_KEEPCNT]
    return [
        int(sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) != 0),
        *(sock.getsockopt(socket.IPPROTO_TCP, option) for option in options),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
    ]


async def _probed(driver: Any) -> list[str]:
    """How the server watches the client of an asyncpg connection's session, as SHOW says it:
    seconds silent before the first probe, seconds between probes, probes, and milliseconds
    that what it sent may go unacknowledged."""
    names = ["idle", "interval", "count"]
    shown = [await driver.fetchval(f"SHOW tcp_keepalives_{name}") for name in names]
    return [*shown, await driver.fetchval("SHOW tcp_user_timeout")]


async def _asked_by(driver: Any) -> set[str]:
    """Where the server took those settings from: `session` for a SET once connected, `client`
    for the startup packet (which a pooler such as PgBouncer refuses)."""
    names = ["tcp_keepalives_idle", "tcp_keepalives_interval", "tcp_keepalives_count"]
    query = "SELECT source FROM pg_settings WHERE name = ANY($1)"
    return {row["source"] for row in await driver.fetch(query, [*names, "tcp_user_timeout"])}


async def test_the_pools_and_the_listeners_connections_probe_and_are_probed(
    plumbing: Plumbing,
) -> None:
    async with plumbing.engine.connect() as connection:
        pooled = (await connection.get_raw_connection()).driver_connection
        assert _probing(pooled) == [1, 30, 10, 3, 30_000]
        assert await _probed(pooled) == ["30", "10", "3", "30000"]
        assert await _asked_by(pooled) == {"session"}
    listening = Notifications(plumbing.dsn)
    try:
        listening.waiter("probe_test")
        await listening.listen()
        assert _probing(listening._connection) == [1, 30, 10, 3, 30_000]
        assert await _probed(listening._connection) == ["30", "10", "3", "30000"]
        assert await _asked_by(listening._connection) == {"session"}
    finally:
        await listening.close()


REFUSING = "keepalive_refused"


async def test_a_server_refusing_to_probe_its_clients_still_serves_the_pool_and_the_listener(
    stack: TestStack,
) -> None:
    """In a database whose users may not call set_config, the pool's connections and the
    listener's open and serve, the server keeps its own keepalive settings, and the refusal
    is logged once for them all."""
    admin = await asyncpg.connect(stack.admin_dsn())
    await admin.execute(f"DROP DATABASE IF EXISTS {REFUSING}")
    await admin.execute(f"DROP ROLE IF EXISTS {REFUSING}")
    await admin.execute(f"CREATE ROLE {REFUSING} LOGIN PASSWORD '{PASSWORD}'")
    await admin.execute(f"CREATE DATABASE {REFUSING}")
    refusing = await asyncpg.connect(stack.admin_dsn(REFUSING))
    await refusing.execute("REVOKE EXECUTE ON FUNCTION pg_catalog.set_config FROM PUBLIC")
    await refusing.close()
    own = await _probed(admin)  # a connection that asked nothing
    where = f"{stack.postgres_host}:{stack.postgres_port}/{REFUSING}"
    dsn = f"postgresql://{REFUSING}:{PASSWORD}@{where}"
    engine = create_engine(f"postgresql+asyncpg://{REFUSING}:{PASSWORD}@{where}", pool_size=2)
    listening = Notifications(dsn)
    try:
        with capture_logs() as logs:
            async with engine.connect() as first, engine.connect() as second:
                for connection in (first, second):
                    assert (await connection.execute(text("SELECT 41 + 1"))).scalar_one() == 42
                    pooled = (await connection.get_raw_connection()).driver_connection
                    assert await _probed(pooled) == own
            listening.waiter("refused_test")
            await listening.listen()
            assert listening._connection is not None, "the listener did not connect"
            channels = await listening._connection.fetch("SELECT pg_listening_channels()")
            assert [row[0] for row in channels] == ["refused_test"]
            assert await _probed(listening._connection) == own
        warnings = [entry for entry in logs if entry["log_level"] == "warning"]
        assert len(warnings) == 1, warnings
        assert "permission denied for function set_config" in warnings[0]["error"]
    finally:
        await listening.close()
        await engine.dispose()
        await admin.execute(f"DROP DATABASE {REFUSING}")
        await admin.execute(f"DROP ROLE {REFUSING}")
        await admin.close()

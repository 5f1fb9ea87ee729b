"""Pytest fixtures: a real PostgreSQL and NATS per test run, tokens, and in-process apps.

Loaded as a plugin by the repository's conftest. Each run gets free ports and its own folder
under `.run/test/`, so tests run beside `make run` and beside each other.
"""

import asyncio
import importlib.util
import os
import shutil
import signal
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterable,
    Iterator,
    Sequence,
)
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, NoReturn, TypeVar
from uuid import UUID

import asyncpg
import httpx
import pytest
import uvicorn
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from fastapi import FastAPI
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import cast, func, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bpo_common.auth import API_KEY_SUBJECT, KeyScope, Role, Scope, ensure_key_pair, issue_token
from bpo_common.crypto import DataKey, is_sealed
from bpo_common.db import SessionFactory
from bpo_common.errors import PROBLEM_JSON
from bpo_common.events import STREAM_NAME, Envelope
from bpo_common.ids import new_id
from bpo_common.inbox import Handler, Subscription, apply
from bpo_common.messaging import connect
from bpo_common.settings import ServiceSettings
from bpo_common.tables import outbox_event
from bpo_devtools import servers

S = TypeVar("S", bound=ServiceSettings)

TEST_ISSUER = "bpo-local"
TEST_AUDIENCE = "bpo"
TEST_API_KEY_ISSUER = "bpo-api-keys"


@dataclass(frozen=True)
class TestStack:
    __test__: ClassVar[bool] = False  # a fixture's value, not a test class

    root: Path
    urls: servers.StackUrls
    postgres_host: str
    postgres_port: int
    credentials: servers.Credentials
    public_key: Path
    private_key: Path
    # The key-encryption key of the run (BPO_KEK).
    kek: str

    def settings(self, cls: type[S], service: str, **overrides: Any) -> S:
        values: dict[str, Any] = {
            "database_url": self.urls.database_urls[service],
            "nats_url": self.urls.nats_url,
            "jwt_public_key_file": self.public_key,
            # Locally intake signs its API keys' tokens with the same key pair.
            "api_key_public_key_file": self.public_key,
            "api_key_private_key_file": self.private_key,
            "manager_unscoped": True,
            "consumer_backoff_s": 0.05,
            # As for the service processes (service_environment): events an app stopped with,
            # taken and not acked yet, go to the next module's app of the service within 3 s.
            "consumer_ack_wait_s": 3.0,
            # The shared stream holds other tests' events of jobs a service never saw.
            "consumer_wait_s": 5.0,
            # Intake's and validation's (the others ignore it).
            "kek": self.kek,
            # Intake's documents in the run's folder (other services ignore the setting).
            "document_store_url": self.documents.as_uri(),
            **overrides,
        }
        return cls(**values)

    @property
    def documents(self) -> Path:
        return self.root / "documents"

    def admin_dsn(self, database: str = "postgres") -> str:
        return (
            f"postgresql://postgres:{self.credentials.superuser}"
            f"@{self.postgres_host}:{self.postgres_port}/{database}"
        )

    def service_environment(self, ports: dict[str, int]) -> dict[str, str]:
        return servers.service_environment(
            self.urls,
            jwt_public_key_file=self.public_key,
            kek=self.kek,
            api_key_private_key_file=self.private_key,
            ports=ports,
        ) | {
            "BPO_CONSUMER_BACKOFF_S": "0.05",
            "BPO_CONSUMER_ACK_WAIT_S": "3",
            "BPO_CONSUMER_WAIT_S": "5",
            "BPO_INTAKE_DOCUMENT_STORE_URL": self.documents.as_uri(),
        }


@dataclass(frozen=True)
class Tokens:
    private_key: str

    def token(
        self,
        role: Role,
        subject: str = "tester",
        client_id: UUID | None = None,
        scopes: Iterable[str] | None = None,
        issuer: str = TEST_ISSUER,
    ) -> str:
        return issue_token(
            self.private_key,
            subject=subject,
            role=role,
            client_id=client_id,
            issuer=issuer,
            audience=TEST_AUDIENCE,
            scopes=scopes,
        )

    def headers(
        self,
        role: Role,
        subject: str = "tester",
        client_id: UUID | None = None,
        scopes: Iterable[str] | None = None,
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, subject, client_id, scopes)}"}

    def manager(self, *scopes: Scope) -> dict[str, str]:
        """A manager with these scopes; with none, a token without a scope claim (which the
        test settings let do everything, BPO_MANAGER_UNSCOPED)."""
        return self.headers(Role.MANAGER, "manager", scopes=scopes or None)

    def api_key(self, client_id: UUID, *scopes: KeyScope) -> dict[str, str]:
        """A token as intake issues one for an API key of `client_id` with these scopes."""
        token = self.token(
            Role.CLIENT, f"{API_KEY_SUBJECT}{new_id()}", client_id, scopes, TEST_API_KEY_ISSUER
        )
        return {"Authorization": f"Bearer {token}"}

    def client(self, client_id: UUID) -> dict[str, str]:
        return self.headers(Role.CLIENT, "client", client_id)

    def contractor(self, contractor_id: UUID | str) -> dict[str, str]:
        return self.headers(Role.CONTRACTOR, str(contractor_id))


def repository_root() -> Path:
    here = Path.cwd()
    for candidate in [here, *here.parents]:
        if (candidate / "uv.lock").exists():
            return candidate
    return here


@pytest.fixture(scope="session")
def stack() -> Iterator[TestStack]:
    """PostgreSQL and NATS for this test run: from the PyPI wheels, or from Docker images
    with BPO_TEST_SERVERS=containers (needs the `docker` dependency group and an engine)."""
    runs = repository_root() / ".run" / "test"
    _remove_abandoned_runs(runs)
    root = runs / str(os.getpid())
    shutil.rmtree(root, ignore_errors=True)
    # A run stopped with SIGTERM (a CI timeout, say) or by its terminal closing still tears
    # its servers down.
    signal.signal(signal.SIGTERM, _interrupt)
    servers.on_hangup(_interrupt)
    private_key, public_key = ensure_key_pair(root / "jwt")
    credentials = servers.Credentials.load_or_create(root / "credentials.json")
    start = _containers if os.environ.get("BPO_TEST_SERVERS") == "containers" else _local_stack
    try:
        with start(root, credentials) as (urls, host, port):
            servers.migrate_all(urls.database_urls)
            kek = servers.local_kek(root / "kek")
            yield TestStack(root, urls, host, port, credentials, public_key, private_key, kek)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _remove_abandoned_runs(runs: Path) -> None:
    """Stop the servers of earlier runs whose process died without tearing down, and
    remove their folders."""
    for run in runs.glob("*"):
        if run.name.isdigit() and not servers.process_alive(int(run.name)):
            servers.stop_abandoned(run)
            shutil.rmtree(run, ignore_errors=True)


Servers = tuple[servers.StackUrls, str, int]


@contextmanager
def _local_stack(root: Path, credentials: servers.Credentials) -> Iterator[Servers]:
    local = servers.LocalStack(
        root, postgres_port=servers.free_port(), nats_port=servers.free_port(), durable=False
    )
    try:
        yield local.start(), "127.0.0.1", local.postgres.port
    finally:
        local.stop()


@contextmanager
def _containers(root: Path, credentials: servers.Credentials) -> Iterator[Servers]:
    from testcontainers.nats import NatsContainer
    from testcontainers.postgres import PostgresContainer

    with (
        PostgresContainer("postgres:18", password=credentials.superuser) as postgres,
        NatsContainer("nats:2.11", jetstream=True) as nats,
    ):
        host = postgres.get_container_host_ip()
        port = int(postgres.get_exposed_port(5432))
        admin = f"postgresql://postgres:{credentials.superuser}@{host}:{port}/postgres"
        asyncio.run(servers.provision_databases(admin, credentials))
        urls = servers.StackUrls(
            nats_url=nats.nats_uri(),
            database_urls={
                service: servers.database_url(service, password, port, host)
                for service, password in credentials.services.items()
            },
        )
        yield urls, host, port


@pytest.fixture(scope="session")
def tokens(stack: TestStack) -> Tokens:
    return Tokens(stack.private_key.read_text())


@asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run an app's lifespan (relay, consumers) and talk to it over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
            yield client


@asynccontextmanager
async def serve_http(app: FastAPI) -> AsyncIterator[str]:
    """Run an app under uvicorn on a free port, lifespan and all, for a browser: its URL."""
    port = servers.free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()  # a server that could not start says why
        return bool(server.started)

    await eventually(started, what="the server to start")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


# Debian's Chromium (`make test` installs it), as the browser tests launch it through Playwright.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 30.0, what: str = "condition"
) -> None:
    """Wait until `check()` holds; fail the test with `what` when it does not in time."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what} did not happen within {timeout_s:.0f} s")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def background(work: Coroutine[Any, Any, None]) -> AsyncIterator[asyncio.Task[None]]:
    """Run `work` (a relay, a consumer) for the length of the block, then cancel it."""
    task = asyncio.create_task(work)
    try:
        yield task
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task


async def consumer_drained(js: JetStreamContext, consumer: str) -> bool:
    """The durable consumer exists and has nothing left to deliver or to be acked."""
    try:
        info = await js.consumer_info(STREAM_NAME, consumer)
    except NotFoundError:
        return False
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def acked_for(js: JetStreamContext, consumer: str) -> None:
    """Ack everything the durable consumer holds, as its service would: for a test that
    stands in for a service that is not running (whose consumer an earlier test left)."""
    pull = await js.pull_subscribe_bind(durable=consumer, stream=STREAM_NAME)

    async def caught_up() -> bool:
        try:
            messages = await pull.fetch(1_000, timeout=0.5)
        except TimeoutError:
            messages = []
        for message in messages:
            await message.ack()
        return await consumer_drained(js, consumer)

    try:
        await eventually(caught_up, what=f"the consumer {consumer} to be done")
    finally:
        await pull.unsubscribe()


async def outbox_events(
    sessions: SessionFactory, subject: str | None = None, **data: str
) -> list[Envelope]:
    """Events in a service's outbox, sent or not, oldest first: of one type (`subject`) if
    given, and whose data has these values (`job_id="..."`)."""
    payload = cast(func.convert_from(outbox_event.c.payload, "UTF8"), JSONB)
    query = select(outbox_event.c.payload).order_by(outbox_event.c.id)
    if subject is not None:
        query = query.where(outbox_event.c.subject == subject)
    for key, value in data.items():
        query = query.where(payload[("data", key)].as_string() == value)
    async with sessions() as session:
        return [Envelope.model_validate_json(row) for row in await session.scalars(query)]


def opened(envelope: Envelope, key: DataKey) -> Envelope:
    """The envelope with every value its data carries sealed (bpo_common.crypto) opened with
    the job's `key`: what the event says, for a test to read."""
    return envelope.model_copy(update={"data": _opened(envelope.data, key)})


def _opened(value: Any, key: DataKey) -> Any:
    if is_sealed(value):
        return key.open(value)
    if isinstance(value, dict):
        return {name: _opened(inner, key) for name, inner in value.items()}
    if isinstance(value, list):
        return [_opened(inner, key) for inner in value]
    return value


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is an RFC 9457 problem with this status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM_JSON
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["title"]
    assert body["detail"]
    return body


def error_fields(problem: dict[str, Any]) -> list[str]:
    return [error["field"] for error in problem.get("errors", [])]


async def stream_messages(nats_url: str) -> list[bytes]:
    """Every message left on the stream, as it is stored (events, and whatever else a test
    published), read to the stream's end through an ephemeral consumer that acks nothing. The
    end is where the consumer has nothing left pending, as bpo_common.messaging.replay
    stops, rather than a fetch waiting in vain for more."""
    client = await connect(nats_url, name="stream-reader")
    try:
        subscription = await client.jetstream().pull_subscribe(
            "",
            stream=STREAM_NAME,
            config=ConsumerConfig(
                deliver_policy=DeliverPolicy.ALL,
                ack_policy=AckPolicy.NONE,
                filter_subject="bpo.>",
                inactive_threshold=60.0,
            ),
        )
        found: list[bytes] = []
        pending = (await subscription.consumer_info()).num_pending
        while pending:
            try:
                messages = await subscription.fetch(500, timeout=5)
            except TimeoutError:
                break  # fewer left than counted: erased, or aged out, meanwhile
            found += [message.data for message in messages]
            pending = messages[-1].metadata.num_pending
        return found
    finally:
        await client.close()


async def tables_holding(
    stack: "TestStack",
    services: Iterable[str],
    values: Iterable[str],
    skip: Iterable[str] = (),
) -> dict[str, list[tuple[str, str]]]:
    """For each value, the (service, table) whose rows hold it in clear, case ignored: every
    column of every table of the services' databases read as text (bytea as escaped text);
    `skip` names tables left out."""
    found: dict[str, list[tuple[str, str]]] = {}
    left_out = set(skip)
    wanted = list(values)
    if not wanted:
        return found
    for service in services:
        connection = await asyncpg.connect(stack.admin_dsn(f"bpo_{service}"))
        try:
            tables = await connection.fetch(
                "SELECT table_name FROM information_schema.tables "
                "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'"
            )
            for (table,) in tables:
                if table in left_out:
                    continue
                binary = await connection.fetch(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_schema = 'public' AND table_name = $1 AND data_type = 'bytea'",
                    table,
                )
                # One read of the table for all the values: each row's texts made once, in
                # lower case (the OFFSET keeps PostgreSQL from making them again for each
                # value), and searched for each value as it is, case aside.
                texts = ["t::text", *(f"encode(t.{c}, 'escape')" for (c,) in binary)]
                columns = ", ".join(f"lower({text}) AS x{n}" for n, text in enumerate(texts))
                holds = ", ".join(
                    "bool_or("
                    + " OR ".join(f"strpos(x{n}, lower(${v})) > 0" for n in range(len(texts)))
                    + ")"
                    for v in range(1, len(wanted) + 1)
                )
                query = f'SELECT {holds} FROM (SELECT {columns} FROM "{table}" t OFFSET 0) r'  # noqa: S608
                held = await connection.fetchrow(query, *wanted)
                for value, holding in zip(wanted, held, strict=True):
                    if holding:
                        found.setdefault(value, []).append((service, table))
        finally:
            await connection.close()
    return found


async def waits_for_lock(sessions: SessionFactory, name: str, waiters: int = 1) -> bool:
    """Whether `waiters` transactions (or more) wait for the advisory lock `name`
    (bpo_common.db.advisory_lock's key, `hashtextextended(name, 0)`)."""
    waiting = text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND classid = ((hashtextextended(:name, 0) >> 32) & 4294967295)::oid"
        " AND objid = (hashtextextended(:name, 0) & 4294967295)::oid"
    )
    async with sessions() as session:
        return int((await session.execute(waiting, {"name": name})).scalar_one()) >= waiters


async def apply_crossed(
    sessions: SessionFactory,
    subscription: Subscription,
    first: Sequence[Envelope],
    second: Sequence[Envelope],
) -> None:
    """Apply two deliveries at once, each in a transaction of its own as two replicas'
    consumers would (bpo_common.inbox.apply): the second is begun once the first has applied
    its first run, and the first goes on once the second waits for a lock. Raises what either
    raised (a deadlock, PostgreSQL aborting one of them)."""
    ran_once, go_on = asyncio.Event(), asyncio.Event()

    def pausing(handler: Handler) -> Handler:
        async def handle(session: AsyncSession, envelopes: Sequence[Envelope]) -> None:
            await handler(session, envelopes)
            if not ran_once.is_set():
                ran_once.set()
                await go_on.wait()

        return handle

    paused = replace(
        subscription,
        handlers={name: pausing(handler) for name, handler in subscription.handlers.items()},
    )

    async def applying(applied: Subscription, envelopes: Sequence[Envelope]) -> None:
        async with sessions() as session, session.begin():
            await apply(session, applied, envelopes)

    one = asyncio.create_task(applying(paused, first))
    started = asyncio.create_task(ran_once.wait())
    await asyncio.wait({one, started}, timeout=30, return_when=asyncio.FIRST_COMPLETED)
    started.cancel()
    if one.done():
        await one
    two = asyncio.create_task(applying(subscription, second))
    try:
        async with sessions() as watching:
            await someone_waits_for_a_lock(watching)
    finally:
        go_on.set()
    await asyncio.gather(one, two)


class _NotConnecting(Exception):
    """Raised where an engine would connect: only its arguments were wanted."""


async def connect_arguments(engine: AsyncEngine) -> dict[str, Any]:
    """What the engine hands `asyncpg.connect` for a new connection (nothing connects); the
    engine is disposed of."""
    given: dict[str, Any] = {}

    def capture(*_args: Any, **params: Any) -> NoReturn:
        given.update(params)
        raise _NotConnecting

    # Where every connect of the engine ends up (its own do_connect listener's too).
    engine.sync_engine.dialect.connect = capture  # type: ignore[method-assign]
    with pytest.raises(_NotConnecting):
        async with engine.connect():
            pass
    await engine.dispose()
    return given


async def someone_waits_for_a_lock(session: AsyncSession) -> None:
    """Until a transaction of the database waits for a lock (a row's or an advisory one)."""
    query = text(
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )

    async def waiting() -> bool:
        # A transaction sees the activity as it was when it first looked, unless it asks anew.
        await session.execute(text("SELECT pg_stat_clear_snapshot()"))
        return bool((await session.execute(query)).scalar_one())

    await eventually(waiting, timeout_s=10, what="a transaction waiting for a lock")


async def run_upgrade(sessions: SessionFactory, migration: Path) -> None:
    """Run the `upgrade` of the migration in file `migration` once more, on the database as
    the test left it (a data migration's effect on rows made to look as before it)."""
    spec = importlib.util.spec_from_file_location(migration.stem, migration)
    assert spec is not None
    assert spec.loader is not None
    module: Any = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def upgrade(connection: Connection) -> None:
        # As Alembic runs it: in a transaction of the migration's own, which an autocommit
        # block of the migration may commit.
        migration_context = MigrationContext.configure(connection)
        with Operations.context(migration_context), migration_context.begin_transaction():
            module.upgrade()

    async with sessions() as session:
        engine = session.bind
    assert isinstance(engine, AsyncEngine), "sessions are bound to an engine"
    async with engine.connect() as connection:
        await connection.run_sync(upgrade)

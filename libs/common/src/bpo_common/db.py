"""Database plumbing: metadata conventions, the engine, and the request-scoped session.

The entry point owns the transaction: a request's session commits once before the response
is sent, a consumer wraps its work in `session.begin()`. Nothing below the entry point commits.

A connection to a server that vanished without closing it (its host down, the network cut, a
hard failover) fails within about a minute: its socket probes a server silent for 30 s every
10 s and gives up after 3 probes unanswered, or once what it sent has gone unacknowledged for
30 s. Without these, a statement sent after the cut would wait out the kernel's
retransmissions (some 15 minutes), and one the server received before it vanished would wait
for its answer for ever, and the worker loop that sent it with it. A query that takes long on
a live server is not cut short: the server's host answers the probes.

Each connection, once open, asks its server to watch it the same way (the session's
`tcp_keepalives_*` and `tcp_user_timeout`), so that the server ends a session whose client
vanished within about a minute too. Without it, the session of a worker whose host died
mid-transaction stays open with every lock it took until the server's operating system gives
up on the peer (some two hours on Linux): another worker's consumer of the same events waits
behind those locks all that time. It asks with a statement, not in the startup packet: a
pooler such as PgBouncer refuses a connection whose startup packet names settings it does not
know, and passes the statement on.
"""

import socket
import ssl
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from enum import StrEnum
from operator import itemgetter
from typing import Annotated, Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import asyncpg
import structlog
from fastapi import Depends, Request
from pydantic_core import to_json
from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    Enum,
    FromClause,
    MetaData,
    String,
    Table,
    Text,
    any_,
    bindparam,
    event,
    func,
    literal,
    select,
    update,
)
from sqlalchemy import (
    inspect as sa_inspect,
)
from sqlalchemy.dialects.postgresql import JSONB, Insert, insert
from sqlalchemy.exc import DBAPIError, DisconnectionError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.dml import Update

log = structlog.get_logger(__name__)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SessionFactory = async_sessionmaker[AsyncSession]

# Python types that map to JSONB in every service's declarative base.
JSON_TYPES: dict[Any, Any] = {
    dict[str, Any]: JSONB,
    list[dict[str, Any]]: JSONB,
    list[str]: JSONB,
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


# How a connection finds that its server vanished (see the module's docstring).
KEEPALIVE_IDLE_S = 30
KEEPALIVE_INTERVAL_S = 10
KEEPALIVE_PROBES = 3
UNACKNOWLEDGED_S = 30


def probe_silent_server(sock: socket.socket) -> None:
    """Have the kernel probe the server when the connection has been silent, and drop the
    connection when it does not answer, or leaves what was sent unacknowledged (options a
    platform lacks are left as they are; a Unix socket needs none)."""
    if sock.family == socket.AF_UNIX:
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    options = {
        "TCP_KEEPIDLE": KEEPALIVE_IDLE_S,
        "TCP_KEEPINTVL": KEEPALIVE_INTERVAL_S,
        "TCP_KEEPCNT": KEEPALIVE_PROBES,
        "TCP_USER_TIMEOUT": UNACKNOWLEDGED_S * 1000,
    }
    for name, value in options.items():
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


class ProbingConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg has no hints
    """An asyncpg connection that finds within about a minute that its server vanished
    (asyncpg itself sets no keepalive, and takes no option for one): pass it as
    `connection_class`."""

    def __init__(self, protocol: Any, transport: Any, *args: Any) -> None:
        super().__init__(protocol, transport, *args)
        probe_silent_server(transport.get_extra_info("socket"))


# How the server is to watch each connection (see the module's docstring): settings a session
# may make, so the server needs no change; they apply to TCP connections (a Unix socket needs
# none). One statement, one round trip.
_ASK_TO_BE_PROBED = "SELECT " + ", ".join(
    f"pg_catalog.set_config('{name}', '{value}', false)"
    for name, value in {
        "tcp_keepalives_idle": KEEPALIVE_IDLE_S,
        "tcp_keepalives_interval": KEEPALIVE_INTERVAL_S,
        "tcp_keepalives_count": KEEPALIVE_PROBES,
        "tcp_user_timeout": UNACKNOWLEDGED_S * 1000,
    }.items()
)

# The refusals already logged, each once: every connection a process opens meets the same.
_REFUSALS_LOGGED: set[str] = set()


async def ask_to_be_probed(connection: asyncpg.Connection) -> None:
    """Have the server of a connection just opened probe it as it probes the server (see the
    module's docstring). A server or pooler that refuses leaves the connection as it is, and
    usable: the refusal is logged once, and the server's own keepalive settings decide."""
    try:
        await connection.execute(_ASK_TO_BE_PROBED)
    except asyncpg.PostgresError as exc:
        if str(exc) not in _REFUSALS_LOGGED:
            _REFUSALS_LOGGED.add(str(exc))
            log.warning(
                "database refused to probe this service's connections; its own keepalive "
                "settings apply",
                error=repr(exc),
            )


async def open_connection(dsn: str) -> asyncpg.Connection:
    """A raw asyncpg connection to `dsn` (asyncpg_dsn) that probes its server and is probed
    by it, as the engine's are."""
    connection = await asyncpg.connect(dsn, connection_class=ProbingConnection)
    try:
        await ask_to_be_probed(connection)
    except BaseException:
        # Lost or cancelled meanwhile (a caller's timeout): not left open unowned.
        connection.terminate()
        raise
    return connection


# libpq's TLS modes: asyncpg takes them as its `ssl` argument, and as `sslmode` in a DSN.
TLS_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")


def database_tls(url: str) -> tuple[str, str | None]:
    """The database URL without the TLS its query asks for, and that TLS mode (None: none
    asked for, and asyncpg reads PGSSLMODE, else tries TLS without checking the server).
    The mode is read as libpq spells it, `sslmode=` (as providers give URLs), or as SQLAlchemy
    does, `ssl=`: SQLAlchemy would hand `sslmode` to asyncpg as an argument it has not, and
    raw asyncpg would send `ssl` to the server as a setting, so every connection takes the
    mode from here. ValueError for a mode libpq has not, for the two spellings asking
    differently, and for libpq's other TLS parameters, which only raw asyncpg would read
    (asyncpg reads certificates from PGSSLROOTCERT, PGSSLCERT and PGSSLKEY)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    modes = {value for name, value in query if name in ("sslmode", "ssl")}
    if len(modes) > 1:
        raise ValueError("sslmode and ssl ask for different TLS: give one")
    if not modes <= set(TLS_MODES):
        raise ValueError(f"sslmode must be one of {', '.join(TLS_MODES)}")
    others = sorted({name for name, _ in query if name.startswith("ssl")} - {"sslmode", "ssl"})
    if others:
        raise ValueError(
            f"{', '.join(others)}: only sslmode is read from the URL; give certificates in "
            "PGSSLROOTCERT, PGSSLCERT and PGSSLKEY"
        )
    if not modes:
        return url, None
    kept = urlencode([(name, value) for name, value in query if name not in ("sslmode", "ssl")])
    # Rebuilt as text: urlunsplit drops the `//` of an empty host (a Unix socket's URL,
    # postgresql:///db?host=/socket), which SQLAlchemy cannot parse.
    fragment = f"#{parts.fragment}" if parts.fragment else ""
    return url.partition("?")[0] + (f"?{kept}" if kept else "") + fragment, modes.pop()


def engine_url(url: str) -> tuple[str, dict[str, Any]]:
    """What SQLAlchemy is given for a database URL: the URL without its TLS mode, and the
    arguments of each connection: that mode as asyncpg's `ssl`, and a connection that probes
    a silent server (`probed_both_ways` has the server probe it)."""
    address, tls = database_tls(url)
    arguments: dict[str, Any] = {"connection_class": ProbingConnection}
    if tls is not None:
        arguments["ssl"] = tls
    return address, arguments


def probed_both_ways(engine: AsyncEngine) -> AsyncEngine:
    """The engine, each connection it opens asking its server to probe it
    (`ask_to_be_probed`) before it is used."""
    event.listen(engine.sync_engine, "connect", _ask_to_be_probed)
    return engine


def _ask_to_be_probed(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.run_async(ask_to_be_probed)


def create_engine(url: str, *, pool_size: int = 40) -> AsyncEngine:
    address, arguments = engine_url(url)
    # A failed statement's error (logged with its traceback) names no value it was given.
    engine = create_async_engine(
        address,
        pool_size=pool_size,
        max_overflow=pool_size // 4,
        connect_args=arguments,
        hide_parameters=True,
    )
    event.listen(engine.sync_engine, "checkout", _refuse_closed)
    event.listen(engine.sync_engine, "do_connect", _connect_or_unreachable)
    return probed_both_ways(engine)


class DatabaseUnreachable(ConnectionError):
    """The database's host could not be reached to connect: its name not resolved, no route
    to it, the connect timed out (OSErrors the driver lets through as they are, and which are
    no ConnectionError, told so from any other OSError a request meets)."""


def _connect_or_unreachable(dialect: Any, _record: Any, arguments: Any, options: Any) -> Any:
    try:
        return dialect.connect(*arguments, **options)
    except ConnectionError:
        raise  # a refusal, a reset: a ConnectionError already
    except _TLS_CUT_SHORT as exc:  # a server restarting mid-handshake
        raise DatabaseUnreachable(str(exc) or type(exc).__name__) from exc
    except ssl.SSLError:
        raise  # a certificate or key refused or unreadable, a protocol mismatch: settings to fix
    except OSError as exc:
        raise DatabaseUnreachable(str(exc) or type(exc).__name__) from exc


# TLS handshakes ended by the other side going away, not refused for what they carry.
_TLS_CUT_SHORT = (ssl.SSLEOFError, ssl.SSLZeroReturnError, ssl.SSLSyscallError)


def _refuse_closed(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """A pooled connection the server closed (PostgreSQL restarted) is replaced before it is
    used, so the first request after a restart is served. asyncpg saw the socket close, so
    this costs no round trip; pre-ping would cost three per checkout (BEGIN, a ping,
    ROLLBACK). A connection that dies unseen (a network cut) fails its statement within about
    a minute (see the module's docstring): the pool then drops every connection as old and
    the request answers 503 (bpo_common.errors)."""
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the server closed this pooled connection")


def create_session_factory(engine: AsyncEngine, *, source: str) -> SessionFactory:
    """Sessions know which service they belong to, so events added to them name their source."""
    return async_sessionmaker(engine, expire_on_commit=False, info={"source": source})


async def copy_rows(
    session: AsyncSession, table: Table | FromClause, rows: Sequence[Mapping[str, Any]]
) -> None:
    """Insert rows (all with the same keys) with COPY, in the session's transaction: many
    times faster than INSERT for big batches. JSON values go as JSON text; None is NULL."""
    if not rows:
        return
    assert isinstance(table, Table)
    names = list(rows[0])
    as_json = [i for i, name in enumerate(names) if isinstance(table.c[name].type, JSON)]
    values = itemgetter(*names)
    records: list[Any] = []
    for row in rows:
        record = list(values(row)) if len(names) > 1 else [values(row)]
        for i in as_json:
            if record[i] is not None:
                record[i] = to_json(record[i]).decode()
        records.append(record)
    driver = await driver_connection(session, in_transaction=True)
    await driver.copy_records_to_table(table.name, records=records, columns=names)


def insert_arrays(table: Table | FromClause, columns: Sequence[str]) -> Insert:
    """`INSERT INTO table (columns) SELECT * FROM unnest(:column_values, ...)`: many rows in
    one execution whose text does not depend on how many rows go, so that SQLAlchemy compiles
    it and PostgreSQL prepares it once (a multi-row VALUES is compiled again for every number
    of rows: most of a consumer's CPU). Execute it with `as_arrays(rows, columns)`; add ON
    CONFLICT and RETURNING to it, and build it once. On the table, not the model: the ORM
    would read the arrays as rows."""
    assert isinstance(table, Table)
    rows = _unnested(table, columns)
    return insert(table).from_select(list(columns), select(*(rows.c[name] for name in columns)))


def update_arrays(table: Table | FromClause, key: str, columns: Sequence[str]) -> Update:
    """`UPDATE table SET column = arrays.column, ... FROM unnest(:key_values, :column_values,
    ...) AS arrays WHERE table.key = arrays.key`: many rows, each to values of its own, in one
    execution whose text does not depend on how many rows change (see `insert_arrays`; the
    ORM's unit of work sends one UPDATE a row). Execute it with `as_arrays(rows, [key,
    *columns])`, and build it once."""
    assert isinstance(table, Table)
    rows = _unnested(table, [key, *columns])
    return (
        update(table)
        .where(table.c[key] == rows.c[key])
        .values({name: rows.c[name] for name in columns})
    )


def _unnested(table: Table, columns: Sequence[str]) -> Any:
    """`unnest(:column_values, ...) AS arrays(column, ...)`, each column's values one array
    parameter. One dimension: a JSON value that is a list is one element, not a row of them.
    The parameters are named apart from the columns: an INSERT takes parameters named as its
    columns as values."""
    arrays = [
        bindparam(f"{name}_values", type_=ARRAY(table.c[name].type, dimensions=1))
        for name in columns
    ]
    return func.unnest(*arrays).table_valued(*columns).render_derived(name="arrays")


def among(
    column: ColumnElement[Any] | QueryableAttribute[Any], values: Iterable[Any]
) -> ColumnElement[bool]:
    """`column = ANY(:values)`, the values as one array: a statement whose text does not
    depend on how many values there are, so that PostgreSQL prepares it once (`IN` lists a
    new statement, prepared again, for every length)."""
    element = column.type
    if isinstance(element, String) and not isinstance(element, Enum) and element.length:
        # Cast to varchar(n), a longer value would be cut, and match what it starts with.
        element = String()
    return column == any_(bindparam(None, list(values), type_=ARRAY(element)))


def as_arrays(rows: Sequence[Mapping[str, Any]], columns: Sequence[str]) -> dict[str, list[Any]]:
    """The parameters of an `insert_arrays` or `update_arrays` statement: each column's values
    as one array."""
    return {f"{name}_values": [row[name] for row in rows] for name in columns}


async def copy_instances(session: AsyncSession, instances: Sequence[Any]) -> None:
    """Insert new ORM instances of one class with COPY (`copy_rows`): one statement for the
    lot, without the unit of work. A column set on any of them is written for all (NULL where
    unset); the others take their server defaults. The instances stay transient: read them,
    but change them through statements."""
    if not instances:
        return
    mapper = sa_inspect(type(instances[0]))
    assigned = set().union(*(vars(instance) for instance in instances))
    columns = [
        (prop.key, prop.columns[0].name) for prop in mapper.column_attrs if prop.key in assigned
    ]
    rows = [{name: getattr(instance, key) for key, name in columns} for instance in instances]
    await copy_rows(session, mapper.local_table, rows)


async def driver_connection(session: AsyncSession, *, in_transaction: bool = False) -> Any:
    """The asyncpg connection under the session, for what SQLAlchemy adds nothing to (COPY,
    a hot statement). A statement sent on it before any through the session runs outside
    the session's transaction, on its own (autocommit), unless `in_transaction`: the
    session's transaction is then begun first (a round trip), so that what is sent on it
    commits or rolls back with the rest."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None, "the connection was invalidated"
    if in_transaction and not driver.is_in_transaction():
        # SQLAlchemy begins the transaction with its first statement.
        await connection.execute(select(literal(1)))
    return driver


def asyncpg_dsn(url: str) -> str:
    """The same database URL without the SQLAlchemy driver suffix, for raw asyncpg: its TLS
    mode as asyncpg's DSN takes it, `sslmode`."""
    address, tls = database_tls(url.replace("postgresql+asyncpg://", "postgresql://", 1))
    if tls is None:
        return address
    return f"{address}{'&' if urlsplit(address).query else '?'}sslmode={tls}"


# Where a request keeps its session, for the audit trail to write its row in the same
# transaction as the change (bpo_common.audit).
_SESSION = "bpo_session"


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessions: SessionFactory = request.app.state.runtime.sessions
    async with sessions() as session, session.begin():
        request.scope.setdefault("state", {})[_SESSION] = session
        yield session


def request_session(request: Request) -> AsyncSession | None:
    """The session of the request (`SessionDep`), if its route took one."""
    session: AsyncSession | None = request.scope.get("state", {}).get(_SESSION)
    return session


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


async def get_session_factory(request: Request) -> SessionFactory:
    sessions: SessionFactory = request.app.state.runtime.sessions
    return sessions


# For work that outlives the request's session, such as the body of a streamed response
# (SessionDep's session is closed before that body runs).
SessionFactoryDep = Annotated[SessionFactory, Depends(get_session_factory)]


def enum_column(cls: type[StrEnum], *, name: str | None = None) -> Enum:
    """A PostgreSQL enum type holding the values of a StrEnum (named after it by default)."""
    return Enum(
        cls, name=name or cls.__name__.lower(), values_callable=lambda e: [m.value for m in e]
    )


async def advisory_lock(session: AsyncSession, *keys: str, shared: bool = False) -> None:
    """Hold locks named `keys`, taken in the order given, in one statement, until the
    session's transaction ends: serializes work that no row lock covers (a name not yet
    stored, all of one client's drafts, an item's keyings). Shared holders only keep the
    exclusive one out."""
    lock = func.pg_advisory_xact_lock_shared if shared else func.pg_advisory_xact_lock
    key = func.unnest(literal(list(keys), ARRAY(Text))).column_valued("key")
    await session.execute(select(lock(func.hashtextextended(key, 0))))


async def try_advisory_lock(session: AsyncSession, key: str) -> bool:
    """Hold the lock named `key` until the session's transaction ends, if no other
    transaction holds it (False then, at once): work one holder at a time does, where others
    pass it over rather than wait."""
    locked = select(func.pg_try_advisory_xact_lock(func.hashtextextended(key, 0)))
    return bool((await session.execute(locked)).scalar_one())


# SQLSTATE classes of a database out of reach: connection exceptions (08), a server shutting
# down, crashed or starting up (57P), and one with all its connections taken (53300: a rolling
# update starting new pods over a tight max_connections, say). A pool none of whose
# connections came free in time (PoolTimeout: a rebuild's locks holding every reader) is as
# much out of reach for now.
UNREACHABLE_STATES = ("08", "57P", "53300")


def unreachable(error: BaseException) -> bool:
    """Whether an error says the database cannot be reached now (down, restarting, still
    recovering, failing over, the connection lost, no connection left for another client),
    not that what was asked of it is wrong."""
    for found in _chain(error):
        if isinstance(
            found,
            OSError
            | TimeoutError
            | PoolTimeout
            | asyncpg.CannotConnectNowError
            | asyncpg.ConnectionDoesNotExistError,
        ):
            return True
        if isinstance(found, DBAPIError) and found.connection_invalidated:
            return True
        if _sqlstate(found).startswith(UNREACHABLE_STATES):
            return True
    return False


# SQLSTATEs of a transaction ended for meeting another at the same rows or locks: a
# serialization failure, or a deadlock (two releases of a service taking locks in other orders
# while one replaces the other, say). Rolled back whole, it may be asked again as it was.
CONTENDED_STATES = ("40001", "40P01")


def contended(error: BaseException) -> bool:
    """Whether an error says the transaction met another and was rolled back for it."""
    return any(_sqlstate(found) in CONTENDED_STATES for found in _chain(error))


def _sqlstate(error: BaseException) -> str:
    state = getattr(error, "sqlstate", None) or getattr(error, "pgcode", None)
    return state if isinstance(state, str) else ""


def _chain(error: BaseException) -> Iterator[BaseException]:
    """The error and what it came from: its causes, and for SQLAlchemy's, the driver's own."""
    waiting: list[BaseException | None] = [error]
    seen: set[int] = set()
    while waiting:
        found = waiting.pop()
        if found is None or id(found) in seen:
            continue
        seen.add(id(found))
        yield found
        waiting += [found.__cause__, found.orig if isinstance(found, DBAPIError) else None]

"""The audit trail: every state-changing call (POST, PUT, PATCH, DELETE) of a manager or a
client, an API key's token included, one row per call in the service that handled it.

A row says who (the token's subject, role, scopes and client), what (the method and the
route's path template; the main object: the route's first path parameter, else the id a 201
answer created), how it ended (the status, 2xx or 4xx alike), what changed (`summary`: names
and counts, never values; see `summarize`), when, from which address (X-Forwarded-For is
believed only from BPO_TRUSTED_PROXIES) and the correlation id. Not audited: contractors'
work (claims, submits), calls without a valid token (nobody to name), 429s of the rate
limiter and paths no route serves.

Where and when a row is written:
- A call whose route answers below 400 with a session (SessionDep): in the request's own
  transaction, once the route has answered and before the commit. The change and its row
  commit together or not at all: no change without its row, no row of a change rolled back.
  An audit insert that fails fails the call (5xx) and takes the change with it.
- Every other call (refused with a 4xx, a replayed Idempotency-Key, a route without a session,
  a commit that failed after the route answered): nothing of it was committed, so its row is
  written in a short transaction of its own once the answer is decided, before the answer's
  first byte leaves. Should that write fail, the answer still goes out (turning a refusal
  that changed nothing into a 500 helps no one), and the row goes to the error log and to
  bpo_audit_write_failures_total instead.

How: `AuditMiddleware` (in every service's app, bpo_common.service) marks each such call and
writes the rows of the second kind; `with_the_change` wraps every route's handler (through
bpo_common.text.CheckedRoute), which FastAPI runs before the session dependency commits,
and adds the rows of the first kind. Whom the token names comes from bpo_common.auth (kept
as the route authenticates; a token refused before that is verified here).

Rows never change: a trigger refuses UPDATE, DELETE and TRUNCATE of the table
(bpo_common.migrations.create_audit_table), to the services and to anyone with their
credentials. The table's owner could still drop the trigger: where that matters, let a role
of its own run the migrations. Admins read the rows at GET /v1/audit (`router()`, which
every service mounts), a page at a time or all as NDJSON.
"""

import json
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network, ip_address
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import Row, Select, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bpo_common.auth import Admin, Principal, Role, request_caller
from bpo_common.clock import Instant, utcnow
from bpo_common.context import current_correlation_id
from bpo_common.db import SessionDep, SessionFactory, SessionFactoryDep, request_session
from bpo_common.errors import FieldError, Invalid
from bpo_common.idempotency import REPLAYED_HEADER
from bpo_common.ids import new_id
from bpo_common.media import negotiate
from bpo_common.metrics import AUDIT_WRITE_FAILURES
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.pagination import Page, PageDep, PageRequest, make_page, paginate
from bpo_common.tables import audit_event

log = structlog.get_logger(__name__)

AUDITED_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
AUDITED_ROLES = frozenset({Role.MANAGER, Role.CLIENT})
JSON, NDJSON = "application/json", "application/x-ndjson"
EXPORT_BATCH = 1000

Network = IPv4Network | IPv6Network
# What a summary may hold: statuses and kinds (enums), counts, money, ids, instants, lists of
# names. Free text has no place: whatever a person typed (a name, a reason, keyed data) is
# a value, and values stay out of the trail.
Fact = StrEnum | int | Decimal | UUID | datetime | list[str] | Sequence[StrEnum] | None

_FACTS = "bpo_audit_facts"
_CALL = "bpo_audit_call"
_REPLAYED = REPLAYED_HEADER.lower().encode()


def summarize(session: AsyncSession, **facts: Fact) -> None:
    """Add facts to the summary of the audit row of the change made in `session`, from a
    route or its use case: `before=`/`after=` a status, a version, an amount, counts, the
    names of fields set. Never a value someone gave (keyed data, a source, a name, a secret)."""
    summary: dict[str, Any] = session.info.setdefault(_FACTS, {})
    summary.update({name: to_jsonable_python(value) for name, value in facts.items()})


# Recording


@dataclass
class _Call:
    """What the trail knows of one call while it runs."""

    address: str | None
    # The status of the row added to the request's transaction, if one was.
    written: int | None = None


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


def with_the_change(handler: Handler) -> Handler:
    """A route's handler that adds the audit row of an answer below 400 to the request's
    session. Every route's handler is made so (bpo_common.text.CheckedRoute): it runs inside
    FastAPI's per-request scope, before the session dependency commits."""

    async def handle(request: Request) -> Response:
        response = await handler(request)
        call: _Call | None = request.scope.get(_CALL)
        session = request_session(request)
        if call is None or session is None or response.status_code >= 400:
            return response
        caller = await request_caller(request)
        if caller is None or caller.role not in AUDITED_ROLES:
            return response
        summary = session.info.pop(_FACTS, {})
        row = _row(request.scope, call, caller, response.status_code, summary, response)
        await session.execute(insert(audit_event).values(row))
        call.written = response.status_code
        return response

    return handle


class AuditMiddleware:
    """Sees every state-changing call through: makes sure that its answer has its audit row,
    added to the change's transaction (`with_the_change`) or else written on its own before
    the answer is sent. `trusted_proxies`: whose X-Forwarded-For names the caller."""

    def __init__(self, app: ASGIApp, *, trusted_proxies: Sequence[Network] = ()) -> None:
        self.app = app
        self.trusted_proxies = tuple(trusted_proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in AUDITED_METHODS:
            await self.app(scope, receive, send)
            return
        call = _Call(client_address(scope, self.trusted_proxies))
        scope[_CALL] = call
        answered = False

        async def send_after_the_row(message: Message) -> None:
            nonlocal answered
            if message["type"] == "http.response.start" and not answered:
                answered = True
                await _settle(scope, call, message["status"], message.get("headers", []))
            await send(message)

        try:
            await self.app(scope, receive, send_after_the_row)
        except Exception:
            if not answered:  # a bug: Starlette answers 500 outside every middleware
                await _settle(scope, call, 500, [])
            raise


async def _settle(
    scope: Scope, call: _Call, status: int, headers: Sequence[tuple[bytes, bytes]]
) -> None:
    """Write the call's row on its own, unless it was committed with the change (or no
    route took the call: a path or a method this service does not serve)."""
    runtime = getattr(scope["app"].state, "runtime", None)
    if call.written == status or scope.get("route") is None or runtime is None:
        return
    caller = await request_caller(Request(scope))
    if caller is None or caller.role not in AUDITED_ROLES:
        return
    replayed = any(name == _REPLAYED for name, _ in headers)
    row = _row(scope, call, caller, status, {"replayed": True} if replayed else {}, None)
    sessions: SessionFactory = runtime.sessions
    try:
        async with sessions() as session, session.begin():
            await session.execute(insert(audit_event).values(row))
    except Exception:
        AUDIT_WRITE_FAILURES.inc()
        log.exception("audit row not written", **{k: str(v) for k, v in row.items()})


def _row(
    scope: Scope,
    call: _Call,
    caller: Principal,
    status: int,
    summary: dict[str, Any],
    response: Response | None,
) -> dict[str, Any]:
    path = getattr(scope.get("route"), "path", scope["path"])
    object_id = _object_id(scope, response)
    return {
        "id": new_id(),
        "at": utcnow(),
        "actor": caller.subject[:255],
        "role": caller.role,
        "scopes": sorted(caller.scopes),
        "client_id": caller.client_id,
        "action": f"{scope['method']} {path}"[:300],
        "object_id": object_id[:255] if object_id else None,
        "status_code": status,
        "summary": summary,
        "address": call.address[:64] if call.address else None,
        "correlation_id": current_correlation_id(),
    }


def _object_id(scope: Scope, response: Response | None) -> str | None:
    """The route's main object: its first path parameter, else the id of what a 201 created
    (from the JSON answer; nothing else of it is kept)."""
    parameters: dict[str, Any] = scope.get("path_params") or {}
    for value in parameters.values():
        return str(value)
    body = getattr(response, "body", None)
    if response is None or response.status_code != 201 or not isinstance(body, bytes):
        return None
    try:
        created = json.loads(body)
    except ValueError:
        return None
    value = created.get("id") if isinstance(created, dict) else None
    return value if isinstance(value, str) else None


def client_address(scope: Scope, trusted_proxies: Sequence[Network]) -> str | None:
    """The caller's address: the peer's, or, while the peer is a trusted proxy, the address
    that proxy heard from (the last of X-Forwarded-For), and so on leftwards; an address an
    untrusted hop passed on could be anything, so it is never taken."""
    peer = scope.get("client")
    current: str | None = peer[0] if peer else None
    if current is None or not trusted_proxies:
        return current
    hops = [
        hop.strip()
        for name, value in scope["headers"]
        if name == b"x-forwarded-for"
        for hop in value.decode("latin-1").split(",")
    ]
    for hop in reversed(hops):
        if not _trusted(current, trusted_proxies):
            break
        try:
            current = str(ip_address(hop))
        except ValueError:
            break  # not an address: the proxy that passed it on is as far as it goes
    return current


def _trusted(address: str, trusted_proxies: Sequence[Network]) -> bool:
    try:
        parsed = ip_address(address)
    except ValueError:
        return False
    return any(parsed in network for network in trusted_proxies)


# Reading


class AuditEventOut(BaseModel):
    id: UUID
    at: datetime
    actor: str
    role: Role
    scopes: list[str]
    client_id: UUID | None
    action: str
    object_id: str | None
    status_code: int
    summary: dict[str, Any]
    address: str | None
    correlation_id: str | None


@dataclass(frozen=True)
class AuditFilter:
    actor: str | None = None
    object_id: str | None = None
    start: datetime | None = None
    end: datetime | None = None

    def query(self) -> Select[Any]:
        query = select(audit_event)
        if self.actor is not None:
            query = query.where(audit_event.c.actor == self.actor)
        if self.object_id is not None:
            query = query.where(audit_event.c.object_id == self.object_id)
        if self.start is not None:
            query = query.where(audit_event.c.at >= self.start)
        if self.end is not None:
            query = query.where(audit_event.c.at < self.end)
        return query


async def audit_filter(
    actor: Annotated[
        str | None,
        Query(max_length=255, description="whose calls: a token's subject (api-key:<id>)"),
    ] = None,
    object_id: Annotated[
        str | None, Query(max_length=255, description="calls on this object")
    ] = None,
    start: Annotated[Instant | None, Query(alias="from", description="at or after")] = None,
    end: Annotated[Instant | None, Query(alias="to", description="before")] = None,
) -> AuditFilter:
    if start is not None and end is not None and start >= end:
        raise Invalid("from must be before to", errors=[FieldError("to", "must be after from")])
    return AuditFilter(actor, object_id, start, end)


AuditFilterDep = Annotated[AuditFilter, Depends(audit_filter)]


async def audit_page(
    session: AsyncSession, filters: AuditFilter, page: PageRequest
) -> Page[AuditEventOut]:
    rows = (await session.execute(paginate(filters.query(), audit_event.c.id, page))).all()
    return make_page([_view(row) for row in rows], page, lambda event: event)


async def audit_export(sessions: SessionFactory, filters: AuditFilter) -> AsyncIterator[bytes]:
    """Every matching row, oldest first, one JSON object a line; read in a session of its
    own as the answer is sent."""
    query = filters.query().order_by(audit_event.c.id).execution_options(yield_per=EXPORT_BATCH)
    async with sessions() as session, session.begin():
        result = await session.stream(query)
        async for rows in result.partitions():
            yield "".join(_view(row).model_dump_json() + "\n" for row in rows).encode()


def _view(row: Row[Any]) -> AuditEventOut:
    return AuditEventOut.model_validate(dict(row._mapping))


def router() -> APIRouter:
    """GET /v1/audit, for a service to include: the trail of that service, for admins."""
    # Here, not at the top: the route class builds every handler with `with_the_change`.
    from bpo_common.text import CheckedRoute

    routes = APIRouter(prefix="/v1", tags=["audit"], route_class=CheckedRoute)

    @routes.get(
        "/audit",
        response_model=Page[AuditEventOut],
        responses={
            200: {"content": {NDJSON: {"schema": {"type": "string"}}}},
            406: PROBLEM_RESPONSE,
            422: PROBLEM_RESPONSE,
        },
    )
    async def list_audit_events(
        _: Admin,
        filters: AuditFilterDep,
        page: PageDep,
        session: SessionDep,
        sessions: SessionFactoryDep,
        accept: Annotated[str | None, Header()] = None,
    ) -> Response | Page[AuditEventOut]:
        """Who changed what in this service, when and from where, oldest first;
        `Accept: application/x-ndjson` exports every matching call."""
        refusal = f"the audit trail comes as {JSON} or {NDJSON}; Accept allows neither"
        if negotiate(accept, [JSON, NDJSON], refusal) == NDJSON:
            rows = audit_export(sessions, filters)
            return StreamingResponse(rows, media_type=NDJSON, headers={"Vary": "Accept"})
        return await audit_page(session, filters, page)

    return routes

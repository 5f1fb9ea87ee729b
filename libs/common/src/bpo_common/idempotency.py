"""Idempotency-Key for client POSTs.

The same key and body give the first response again (`Idempotent-Replayed: true`); the same
key with another body is a 422; the same key while the first request still runs is a 409.
The stored response is written in the request's own transaction, with its effects. A route
that streams its body takes `StreamedIdempotencyDep` and reads the body through it; one that
parses its body itself takes `ParsedIdempotencyDep` and hashes what it parsed. One that must
not keep its answer (a claim's holds personal values opened) takes `RequestKeyDep` and keeps
what the key did in a table of its own.
"""

import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Row, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import CurrentPrincipal, Principal
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep, try_advisory_lock
from bpo_common.errors import Conflict, FieldError, Invalid
from bpo_common.tables import idempotency_key

if TYPE_CHECKING:
    from hashlib import _Hash

REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255

# A key's header, as documented: one that a request still running holds is a 409 (the OpenAPI
# document says so, bpo_common.openapi); for `RequestKeyDep`, the route waits for it instead.
KEY_DESCRIPTION = "repeat a request safely with the same key"
KeyHeader = Annotated[str | None, Header(alias="Idempotency-Key", description=KEY_DESCRIPTION)]
WaitingKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="repeat a request safely with the same key; sent while the first one "
        "still runs, it waits for that one",
    ),
]


class IdempotentReplay(Exception):
    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.body = body


class Idempotency:
    """What a route answers through, so that its response can be replayed."""

    def __init__(
        self, session: AsyncSession, owner: str, key: str | None, request_hash: "_Hash"
    ) -> None:
        self._session = session
        self._owner = owner
        self._key = key
        self._request_hash = request_hash

    def digest(self) -> str:
        """The hash of the request (method, path, body) as far as it has been read."""
        return self._request_hash.hexdigest()

    async def respond(self, status_code: int, body: BaseModel) -> JSONResponse:
        content = body.model_dump(mode="json")
        if self._key is not None:
            answer = {
                "request_hash": self.digest(),
                "status_code": status_code,
                "response_body": content,
                "created_at": func.now(),
            }
            # Over one kept past its time (bpo_common.pruning deletes it a little later).
            await self._session.execute(
                insert(idempotency_key)
                .values(principal=self._owner, key=self._key, **answer)
                .on_conflict_do_update(constraint="pk_idempotency_key", set_=answer)
            )
        return JSONResponse(content, status_code=status_code)


class StreamedIdempotency(Idempotency):
    """For a route that reads its body as a stream, through `body()`, never whole: the body
    is hashed as it passes, and the hash is stored with the response."""

    def __init__(
        self,
        session: AsyncSession,
        owner: str,
        key: str | None,
        request_hash: "_Hash",
        request: Request,
    ) -> None:
        super().__init__(session, owner, key, request_hash)
        self._request = request
        self._read = False

    async def body(self) -> AsyncIterator[bytes]:
        """The request body in chunks as they arrive; read it once."""
        async for chunk in self._request.stream():
            self._request_hash.update(chunk)
            if chunk:
                yield chunk
        self._read = True

    async def drain(self) -> None:
        """Read (and hash) whatever of the body the route left unread."""
        if not self._read:
            async for _ in self.body():
                pass

    async def respond(self, status_code: int, body: BaseModel) -> JSONResponse:
        await self.drain()
        return await super().respond(status_code, body)


class ParsedIdempotency(Idempotency):
    """For a route that parses its body itself, where the same request need not come as the
    same bytes (a multipart body, whose boundary a client draws anew on each try): it hashes
    what it parsed, through `parsed()`, before it writes anything."""

    def __init__(
        self,
        session: AsyncSession,
        owner: str,
        key: str | None,
        request_hash: "_Hash",
        stored: Row[str, int, Any] | None,
    ) -> None:
        super().__init__(session, owner, key, request_hash)
        self._stored = stored

    def parsed(self, content: bytes) -> None:
        """Hash what the body holds; if the key answered the same already, that answer again
        (IdempotentReplay); a 422 if it answered another request."""
        self._request_hash.update(content)
        if self._stored is not None:
            _replay(self._stored, self.digest())


def _owner(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.client_id or principal.subject}"


def _request_hash(request: Request) -> "_Hash":
    """The hash of a request so far: method and path; the caller adds the body."""
    return hashlib.sha256(request.method.encode() + b" " + request.url.path.encode() + b"\n")


async def _claim(
    request: Request, session: AsyncSession, owner: str, key: str
) -> Row[str, int, Any] | None:
    """Lock the key for this transaction and return the response stored under it, if any
    kept for less than BPO_IDEMPOTENCY_KEEP_HOURS (an older one is a new request's).

    A key another request holds (its transaction still running) is a 409.
    """
    check_key(key)
    if not await try_advisory_lock(session, f"{owner}\n{key}"):
        raise Conflict("a request with this Idempotency-Key is still being processed; retry later")
    return (
        await session.execute(
            select(
                idempotency_key.c.request_hash,
                idempotency_key.c.status_code,
                idempotency_key.c.response_body,
            ).where(
                idempotency_key.c.principal == owner,
                idempotency_key.c.key == key,
                idempotency_key.c.created_at > utcnow() - _kept(request),
            )
        )
    ).first()


def _kept(request: Request) -> timedelta:
    """How long the service keeps an answer (BPO_IDEMPOTENCY_KEEP_HOURS)."""
    return timedelta(hours=request.app.state.runtime.settings.idempotency_keep_hours)


def check_key(key: str) -> None:
    """A 422 naming the header unless the key has 1 to MAX_KEY_LENGTH characters."""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Invalid(
            "the Idempotency-Key header is empty or too long",
            errors=[FieldError("Idempotency-Key", f"use 1 to {MAX_KEY_LENGTH} characters")],
        )


def check_same_request(stored_hash: str, digest: str) -> None:
    """A 422 naming the header unless the request is the one the key was first sent with."""
    if stored_hash != digest:
        raise Invalid(
            "this Idempotency-Key was already used with a different request body",
            errors=[FieldError("Idempotency-Key", "use a new key for a different request")],
        )


def _replay(stored: Row[str, int, Any], digest: str) -> NoReturn:
    """The first response again, if this is the same request; a 422 if the body differs."""
    check_same_request(stored.request_hash, digest)
    raise IdempotentReplay(stored.status_code, stored.response_body)


async def idempotency(
    request: Request, session: SessionDep, principal: CurrentPrincipal, key: KeyHeader = None
) -> Idempotency:
    owner = _owner(principal)
    stored = await _claim(request, session, owner, key) if key is not None else None
    request_hash = _request_hash(request)
    request_hash.update(await request.body())
    if stored is not None:
        _replay(stored, request_hash.hexdigest())
    return Idempotency(session, owner, key, request_hash)


async def streamed_idempotency(
    request: Request, session: SessionDep, principal: CurrentPrincipal, key: KeyHeader = None
) -> StreamedIdempotency:
    """Like `idempotency`, without holding the body: a replay reads it through the hash only."""
    owner = _owner(principal)
    stored = await _claim(request, session, owner, key) if key is not None else None
    streamed = StreamedIdempotency(session, owner, key, _request_hash(request), request)
    if stored is not None:
        await streamed.drain()
        _replay(stored, streamed.digest())
    return streamed


async def parsed_idempotency(
    request: Request, session: SessionDep, principal: CurrentPrincipal, key: KeyHeader = None
) -> ParsedIdempotency:
    """Like `idempotency`, without reading the body: the route hashes what it parsed."""
    owner = _owner(principal)
    stored = await _claim(request, session, owner, key) if key is not None else None
    return ParsedIdempotency(session, owner, key, _request_hash(request), stored)


@dataclass(frozen=True)
class RequestKey:
    """A request's Idempotency-Key, checked, for a route that keeps what the key did itself:
    the hash of the request (method, path, body), and the oldest instant a key sent then is
    still the same request's (BPO_IDEMPOTENCY_KEEP_HOURS ago)."""

    key: str
    request_hash: str
    kept_since: datetime


async def request_key(request: Request, key: WaitingKeyHeader = None) -> RequestKey | None:
    """The request's key, if it sent one; a 422 naming the header if it is empty or too long."""
    if key is None:
        return None
    check_key(key)
    request_hash = _request_hash(request)
    request_hash.update(await request.body())
    return RequestKey(key, request_hash.hexdigest(), utcnow() - _kept(request))


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]
StreamedIdempotencyDep = Annotated[StreamedIdempotency, Depends(streamed_idempotency)]
ParsedIdempotencyDep = Annotated[ParsedIdempotency, Depends(parsed_idempotency)]
RequestKeyDep = Annotated[RequestKey | None, Depends(request_key)]


def install_idempotency_handler(app: FastAPI) -> None:
    async def on_replay(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, IdempotentReplay)
        return JSONResponse(
            exc.body, status_code=exc.status_code, headers={REPLAYED_HEADER: "true"}
        )

    app.add_exception_handler(IdempotentReplay, on_replay)

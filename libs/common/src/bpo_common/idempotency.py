"""Idempotency-Key for client POSTs.

The same key and body give the first response again (`Idempotent-Replayed: true`); the same
key with another body is a 422; the same key while the first request still runs is a 409.
The stored response is written in the request's own transaction, with its effects.
"""

import hashlib
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import CurrentPrincipal, Principal
from bpo_common.db import SessionDep
from bpo_common.errors import Conflict, FieldError, Invalid
from bpo_common.tables import idempotency_key

REPLAYED_HEADER = "Idempotent-Replayed"
MAX_KEY_LENGTH = 255


class IdempotentReplay(Exception):
    def __init__(self, status_code: int, body: Any) -> None:
        self.status_code = status_code
        self.body = body


class Idempotency:
    """What a route answers through, so that its response can be replayed."""

    def __init__(self, session: AsyncSession, owner: str, key: str | None, digest: str) -> None:
        self._session = session
        self._owner = owner
        self._key = key
        self._digest = digest

    async def respond(self, status_code: int, body: BaseModel) -> JSONResponse:
        content = body.model_dump(mode="json")
        if self._key is not None:
            await self._session.execute(
                insert(idempotency_key).values(
                    principal=self._owner,
                    key=self._key,
                    request_hash=self._digest,
                    status_code=status_code,
                    response_body=content,
                )
            )
        return JSONResponse(content, status_code=status_code)


def _owner(principal: Principal) -> str:
    return f"{principal.role.value}:{principal.client_id or principal.subject}"


async def idempotency(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    key: Annotated[
        str | None,
        Header(alias="Idempotency-Key", description="repeat a request safely with the same key"),
    ] = None,
) -> Idempotency:
    owner = _owner(principal)
    body = await request.body()
    digest = hashlib.sha256(
        request.method.encode() + b" " + request.url.path.encode() + b"\n" + body
    ).hexdigest()
    if key is None:
        return Idempotency(session, owner, None, digest)
    if not key or len(key) > MAX_KEY_LENGTH:
        raise Invalid(
            "the Idempotency-Key header is empty or too long",
            errors=[FieldError("Idempotency-Key", f"use 1 to {MAX_KEY_LENGTH} characters")],
        )
    locked = (
        await session.execute(
            select(func.pg_try_advisory_xact_lock(func.hashtextextended(f"{owner}\n{key}", 0)))
        )
    ).scalar_one()
    if not locked:
        raise Conflict("a request with this Idempotency-Key is still being processed; retry later")
    stored = (
        await session.execute(
            select(
                idempotency_key.c.request_hash,
                idempotency_key.c.status_code,
                idempotency_key.c.response_body,
            ).where(idempotency_key.c.principal == owner, idempotency_key.c.key == key)
        )
    ).first()
    if stored is None:
        return Idempotency(session, owner, key, digest)
    if stored.request_hash != digest:
        raise Invalid(
            "this Idempotency-Key was already used with a different request body",
            errors=[FieldError("Idempotency-Key", "use a new key for a different request")],
        )
    raise IdempotentReplay(stored.status_code, stored.response_body)


IdempotencyDep = Annotated[Idempotency, Depends(idempotency)]


def install_idempotency_handler(app: FastAPI) -> None:
    async def on_replay(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, IdempotentReplay)
        return JSONResponse(
            exc.body, status_code=exc.status_code, headers={REPLAYED_HEADER: "true"}
        )

    app.add_exception_handler(IdempotentReplay, on_replay)

"""One error format: RFC 9457 problem+json. Domain errors carry their status.

A 4xx says what to fix; a 503 says a server the service needs is out of reach for now, or
that the request met another at the same data and was rolled back, and when to retry; any
other 5xx is a bug and is logged with its traceback.
"""

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from bpo_common.crypto import KeyUnavailable
from bpo_common.db import contended, unreachable
from bpo_common.headers import SECURITY_HEADERS

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class BodyRefused(StarletteHTTPException):
    """A 422 naming fields of the body, raised while FastAPI reads it: there only an
    HTTPException gets through as it is (any other error becomes a 400)."""

    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__(422, f"invalid request: {_names(errors)}")
        self.errors = errors


def _names(errors: Sequence[FieldError]) -> str:
    return ", ".join(dict.fromkeys(error.field for error in errors))


class DomainError(Exception):
    """Base of every error a user can act on; subclasses set status and title."""

    status: int = 400
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        errors: Sequence[FieldError] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = list(errors)
        self.headers = headers or {}


class Unauthorized(DomainError):
    status = 401
    title = "Unauthorized"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(DomainError):
    status = 403
    title = "Forbidden"


class NotFound(DomainError):
    status = 404
    title = "Not found"


class Conflict(DomainError):
    status = 409
    title = "Conflict"


class Invalid(DomainError):
    status = 422
    title = "Unprocessable content"


class Unavailable(DomainError):
    """A server the service needs (its database, a store) is out of reach for now, or the
    request's transaction met another's and was rolled back: what the request would have
    changed is not, and it may be sent again after `Retry-After` (`retry_after_s`)."""

    status = 503
    title = "Service unavailable"

    def __init__(self, detail: str, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


class NotAcceptable(DomainError):
    """None of the media types the `Accept` header asks for can be produced."""

    status = 406
    title = "Not acceptable"


class UnsupportedMediaType(DomainError):
    status = 415
    title = "Unsupported media type"


# What PostgreSQL cannot store and a JSON answer cannot carry: NUL and unpaired surrogates.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def shown(text: str) -> str:
    """Text as an answer can show it: what cannot be stored or encoded becomes U+FFFD (an
    error naming a key someone sent may quote what is wrong with it)."""
    return UNSTORABLE.sub("\ufffd", text)


def problem(
    status: int,
    title: str,
    detail: str,
    *,
    errors: Sequence[FieldError] = (),
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": title,
        "status": status,
        "detail": shown(detail),
    }
    if errors:
        body["errors"] = [{"field": shown(e.field), "message": shown(e.message)} for e in errors]
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _location(loc: Sequence[int | str]) -> str:
    """('body', 'items', 3, 'source') -> 'items[3].source'; query and header names as they are;
    a mapping's bad key by itself ('rates', 'Invoice', '[key]' -> 'rates.Invoice')."""
    parts = list(loc[1:]) if loc and loc[0] in {"body", "query", "path", "header"} else list(loc)
    text = ""
    for part in parts:
        if part == "[key]":
            continue
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text or str(loc[0] if loc else "body")


def said(error: Mapping[str, Any]) -> str:
    """A pydantic error's message as it is said: a validator's own words without pydantic's
    "Value error, " before them."""
    return str(error["msg"]).removeprefix("Value error, ")


def install_error_handlers(app: FastAPI) -> None:
    async def on_domain_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, DomainError)
        return problem(exc.status, exc.title, exc.detail, errors=exc.errors, headers=exc.headers)

    async def on_validation_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = [FieldError(_location(e["loc"]), said(e)) for e in exc.errors()]
        detail = f"invalid request: {_names(errors)}"
        return problem(422, "Unprocessable content", detail, errors=errors)

    async def on_http_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        return problem(
            exc.status_code,
            _reason(exc.status_code),
            str(exc.detail),
            errors=exc.errors if isinstance(exc, BodyRefused) else (),
            headers=dict(exc.headers or {}),
        )

    async def on_database_error(request: Request, exc: Exception) -> JSONResponse:
        refused = database_refusal(request, exc)
        if refused is None:
            return await on_unexpected(request, exc)
        return await on_domain_error(request, refused)

    async def on_key_unavailable(request: Request, exc: Exception) -> JSONResponse:
        # A replica started before a KEK rotation meets a job's data key wrapped by the new
        # KEK, or validation one whose key has not come yet: nothing was changed.
        log.error("data key unavailable", path=request.url.path, error=str(exc))
        unavailable = Unavailable(
            "the job's data key cannot be opened here yet (a key being rotated, or on its "
            "way); retry the request",
            retry_after_s=KEY_RETRY_AFTER_S,
        )
        return await on_domain_error(request, unavailable)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path, error=repr(exc))
        # Starlette answers this outside every middleware: the security headers come here.
        return problem(
            500,
            "Internal server error",
            "an unexpected error occurred",
            headers=dict(SECURITY_HEADERS),
        )

    app.add_exception_handler(DomainError, on_domain_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(KeyUnavailable, on_key_unavailable)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    # What the hot routes' statements on the driver connection raise is unwrapped.
    for kind in DATABASE_ERRORS:
        app.add_exception_handler(kind, on_database_error)
    app.add_exception_handler(Exception, on_unexpected)


# How long a request meeting a data key it cannot open is told to wait: a rollout's restart.
KEY_RETRY_AFTER_S = 5

# What the database and its driver raise, unwrapped or wrapped by SQLAlchemy.
DATABASE_ERRORS = (DBAPIError, asyncpg.PostgresError, ConnectionError, PoolTimeout)


def database_refusal(request: Request, exc: Exception) -> Unavailable | None:
    """What a database error that is no bug says to the caller, logged: a transaction that met
    another, or a database out of reach, both to be asked again. None for any other error."""
    if not isinstance(exc, DATABASE_ERRORS):
        return None
    if contended(exc):
        # Rolled back whole for meeting another request or a worker at the same rows.
        # With its traceback: within one release, a deadlock is a lock-order bug to find.
        log.warning("transaction contended", path=request.url.path, exc_info=exc)
        return Unavailable("the request met another at the same data; send it again")
    if not unreachable(exc):
        return None
    # PostgreSQL restarted or is down: the pool drops the dead connections, and the
    # transaction was rolled back (a POST with an Idempotency-Key is safe to repeat).
    log.warning("database unreachable", path=request.url.path, error=repr(exc))
    if isinstance(exc, PoolTimeout):
        return Unavailable("no database connection came free in time; retry the request")
    return Unavailable("the database connection was lost or refused; retry the request")


def _reason(status: int) -> str:
    if status == 422:
        return "Unprocessable content"  # RFC 9110's name, as every other 422 here says
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"

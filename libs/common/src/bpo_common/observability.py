"""Structured JSON logs, correlation ids, request metrics, body limits, and a request line
whose text cannot be stored refused."""

import logging
import re
import sys
import time
from http import HTTPStatus
from urllib.parse import parse_qsl

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bpo_common.context import bind_correlation_id
from bpo_common.errors import FieldError, problem
from bpo_common.ids import new_id
from bpo_common.metrics import HTTP_LATENCY, HTTP_REQUESTS
from bpo_common.text import MESSAGE, has_unstorable

CORRELATION_HEADER = "x-correlation-id"
_VALID_CORRELATION_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def configure_logging(level: str, service: str) -> None:
    """JSON lines on stdout for our logs and for the libraries' (uvicorn, SQLAlchemy, nats)."""

    def add_service(
        _: object, __: str, event: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        event["service"] = service
        return event

    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # uvicorn.access is left as uvicorn set it, so --no-access-log stays off.
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class RequestContextMiddleware:
    """Correlation id from `X-Correlation-ID` (or a new one), request metrics, body size limit."""

    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        incoming = headers.get(CORRELATION_HEADER.encode(), b"").decode("latin-1")
        correlation_id = incoming if _VALID_CORRELATION_ID.match(incoming) else str(new_id())
        bind_correlation_id(correlation_id)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            too_large = HTTPStatus.REQUEST_ENTITY_TOO_LARGE
            response = problem(too_large.value, too_large.phrase, self._too_large_detail())
            await response(scope, receive, send)
            return
        refused = _unstorable_request_line(scope)
        if refused:
            fields = ", ".join(error.field for error in refused)
            response = problem(422, "Unprocessable content", f"invalid request: {fields}",
                               errors=refused)  # fmt: skip
            await response(scope, receive, send)
            return

        started = time.perf_counter()
        status = 500
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    # FastAPI turns any other error raised while it reads the body into a 400.
                    raise HTTPException(413, self._too_large_detail())
            return message

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (CORRELATION_HEADER.encode(), correlation_id.encode()),
                ]
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", "unmatched")
            HTTP_REQUESTS.labels(scope["method"], template, str(status)).inc()
            HTTP_LATENCY.labels(scope["method"], template).observe(time.perf_counter() - started)
            bind_correlation_id(None)

    def _too_large_detail(self) -> str:
        return f"the request body is larger than the limit of {self.max_body_bytes} bytes"


def _unstorable_request_line(scope: Scope) -> list[FieldError]:
    """The path and the query parameters whose decoded text cannot be stored (a `%00`)."""
    refused = [FieldError("path", MESSAGE)] if has_unstorable(scope["path"]) else []
    query = scope.get("query_string", b"").decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        if has_unstorable(name) or has_unstorable(value):
            refused.append(FieldError(name.replace("\x00", "\ufffd") or "query", MESSAGE))
    return refused

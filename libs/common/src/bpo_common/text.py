"""Text PostgreSQL cannot store, refused where it comes in.

PostgreSQL's text and JSONB hold neither the NUL character nor a UTF-16 surrogate without its
partner (a JSON `\\ud83d` escape alone), so such a value would fail in the database as a
500. Every way in checks for it instead and answers a 422 naming the field, the line or the
parameter:
- JSON request bodies, through `CheckedRoute` (every service router uses it);
- streamed uploads (items, reference datasets), row by row, by their parsers;
- the path and query string, in `RequestContextMiddleware`.
"""

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request, Response, params
from fastapi.routing import APIRoute

from bpo_common import audit, json_input
from bpo_common.errors import UNSTORABLE, BodyRefused, FieldError
from bpo_common.media import content_type

MESSAGE = "contains a NUL character or an unpaired surrogate, which cannot be stored"


def has_unstorable(text: str) -> bool:
    return UNSTORABLE.search(text) is not None


def unstorable(value: Any, path: str = "") -> list[FieldError]:
    """Every place in a JSON value (names included) whose text cannot be stored, named as
    errors name fields (`items[3].source.total`); `path` is where the value sits."""
    if isinstance(value, str):
        return [FieldError(path or "body", MESSAGE)] if has_unstorable(value) else []
    found: list[FieldError] = []
    if isinstance(value, dict):
        for name, item in value.items():
            where = json_input.member_path(path, str(name))
            if isinstance(name, str) and has_unstorable(name):
                found.append(FieldError(where, f"the name {MESSAGE}"))
            found += unstorable(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += unstorable(item, f"{path}[{index}]")
    return found


def _has_body(request: Request) -> bool:
    """Whether the request comes with a body (by its headers: it is read once, by FastAPI)."""
    length = request.headers.get("content-length")
    return "transfer-encoding" in request.headers or (length is not None and length != "0")


class _CheckedRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            try:
                self._json = json_input.loads(await self.body())
            except UnicodeDecodeError as exc:
                message = f"not UTF-8 (byte {exc.start + 1})"
                raise BodyRefused([FieldError("body", message)]) from exc
            except json_input.BadJson as exc:
                raise BodyRefused([FieldError(exc.path or "body", exc.message)]) from exc
            errors = unstorable(self._json)
            if errors:
                raise BodyRefused(errors)
        return self._json


class CheckedRoute(APIRoute):
    """The route of every router: its JSON body is refused with a 422 when it is not JSON
    this platform takes (`json_input`), holds text that cannot be stored, or is not UTF-8
    (the body is checked once, as FastAPI parses it), and with a 415 when it is sent as
    another media type or as none (FastAPI would not read it, and answer that it is no object);
    and a change it makes is committed with its audit row (`bpo_common.audit.with_the_change`)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        field = self.body_field
        takes_json = field is not None and not isinstance(field.field_info, params.Form)

        async def checked(request: Request) -> Response:
            if takes_json and _has_body(request):
                content_type(request.headers.get("content-type"), ["application/json"], "the body")
            return await handler(_CheckedRequest(request.scope, request.receive))

        return audit.with_the_change(checked)

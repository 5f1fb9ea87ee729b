"""The OpenAPI document says what the services answer: every error as
`application/problem+json` with one `Problem` schema (bpo_common.errors), never FastAPI's
default JSON validation-error body."""

from typing import Any

from fastapi import FastAPI

from bpo_common.errors import PROBLEM_JSON
from bpo_common.idempotency import KEY_DESCRIPTION

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details; `errors` names the fields at fault.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
# For a route's `responses`, to document an error status it answers (409, 415, ...).
PROBLEM_RESPONSE: dict[str, Any] = {
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
}
TOO_MANY = "Past the caller's rate limit: retry after `Retry-After` seconds"


def document_problems(app: FastAPI) -> None:
    """Build the app's OpenAPI document once, with every 4xx and 5xx response as a Problem."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = _with_problems(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way


def _with_problems(document: dict[str, Any]) -> dict[str, Any]:
    """Every error response a Problem (unless the route documents a format of its own); 401,
    403 and 429 on every route that takes a token, 404 on every route that names an object,
    415 on every route that takes a JSON body, 409 on every route that takes an
    Idempotency-Key a request still running holds (KeyHeader's)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    for path, path_item in document.get("paths", {}).items():
        for operation in path_item.values():
            responses = operation.setdefault("responses", {})
            if operation.get("security"):
                responses.setdefault("401", {"description": "No valid bearer token"})
                responses.setdefault(
                    "403", {"description": "The token's role or scope may not do this"}
                )
                responses.setdefault("429", {"description": TOO_MANY})
            if "{" in path:
                responses.setdefault("404", {"description": "No such object for this caller"})
            if "application/json" in operation.get("requestBody", {}).get("content", {}):
                responses.setdefault(
                    "415", {"description": "The body was not sent as UTF-8 application/json"}
                )
            if any(
                p.get("description") == KEY_DESCRIPTION for p in operation.get("parameters", [])
            ):
                responses.setdefault(
                    "409", {"description": "A request with this Idempotency-Key is still running"}
                )
            for status, response in responses.items():
                if status[:1] in ("4", "5") and not _own_format(response):
                    response["content"] = PROBLEM_RESPONSE["content"]
    return document


def _own_format(response: dict[str, Any]) -> bool:
    """Whether a route documents this error with a body model of its own (the token
    endpoint's RFC 6749 errors), not FastAPI's validation error or none."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    return schema.get("$ref", "").rsplit("/", 1)[-1] not in ("", "HTTPValidationError")

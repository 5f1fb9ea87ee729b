"""Each service's HTTP surface. Its OpenAPI document is the one committed in tests/openapi/:
the public contract changes only on purpose. After a deliberate change, rewrite the copies
with `BPO_WRITE_OPENAPI=1 .venv/bin/pytest tests/test_openapi_documents.py` and review the
diff. And no route or dependency runs in a worker thread."""

import importlib
import inspect
import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import Mount

DOCUMENTS = Path(__file__).resolve().parent / "openapi"
SERVICES = ("intake", "validation", "billing", "reporting")


def _app(service: str) -> FastAPI:
    settings_class = importlib.import_module(f"bpo_{service}.settings").Settings
    settings = settings_class(database_url="postgresql+asyncpg://nobody:none@127.0.0.1:1/none")
    app: FastAPI = importlib.import_module(f"bpo_{service}.app").create_app(settings)
    return app


def _document(service: str) -> str:
    return json.dumps(_app(service).openapi(), indent=1, sort_keys=True) + "\n"


@pytest.mark.parametrize("service", SERVICES)
def test_the_openapi_document_is_the_committed_one(service: str) -> None:
    committed = DOCUMENTS / f"{service}.json"
    current = _document(service)
    if os.environ.get("BPO_WRITE_OPENAPI") == "1":
        committed.write_text(current)
    assert json.loads(current) == json.loads(committed.read_text())


def _routes(routes: Sequence[object]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif isinstance(route, Mount):
            yield from _routes(route.routes)
        # An included router (FastAPI keeps the router it was made from).
        elif (included := getattr(route, "original_router", None)) is not None:
            yield from _routes(included.routes)


def _calls(dependant: Dependant) -> Iterator[object]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _in_a_thread(call: object) -> bool:
    """Whether FastAPI runs `call` in a worker thread: a plain function (or a class, or an
    object whose `__call__` is one), not a coroutine or an async generator."""
    if inspect.isclass(call):
        return True
    called = call if inspect.isroutine(call) else getattr(call, "__call__", call)  # noqa: B004
    return not (inspect.iscoroutinefunction(called) or inspect.isasyncgenfunction(called))


@pytest.mark.parametrize("service", SERVICES)
def test_no_route_or_dependency_waits_for_a_worker_thread(service: str) -> None:
    """FastAPI hands a plain-function endpoint or dependency to a worker thread at every
    request: a thread switch on every request to the hot routes, for work that does no I/O."""
    routes = list(_routes(_app(service).routes))
    threaded = sorted(
        f"{route.path}: {getattr(call, '__qualname__', call)}"
        for route in routes
        for call in (route.endpoint, *_calls(route.dependant))
        if _in_a_thread(call)
    )
    assert len(routes) >= 5
    assert threaded == []

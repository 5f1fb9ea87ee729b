"""Builds a service's FastAPI app: the lifespan owns the engine, NATS, the relay and consumers."""

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from typing import Any, TypeVar

import structlog
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import Table, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bpo_common.audit import AuditMiddleware
from bpo_common.auth import TokenVerifier
from bpo_common.db import (
    SessionFactory,
    asyncpg_dsn,
    create_engine,
    create_session_factory,
    unreachable,
)
from bpo_common.errors import install_error_handlers, problem
from bpo_common.headers import SecurityHeadersMiddleware
from bpo_common.idempotency import install_idempotency_handler
from bpo_common.inbox import InboxConsumer, Subscription
from bpo_common.loops import retry_until
from bpo_common.messaging import connect, ensure_stream
from bpo_common.notifications import Notifications
from bpo_common.observability import RequestContextMiddleware, configure_logging
from bpo_common.openapi import document_problems
from bpo_common.pruning import Pruner
from bpo_common.ratelimit import RateLimiter, RateLimitMiddleware
from bpo_common.relay import OutboxRelay
from bpo_common.settings import ServiceSettings
from bpo_common.tables import OUTBOX_CHANNEL
from bpo_common.text import CheckedRoute

log = structlog.get_logger(__name__)

S = TypeVar("S", bound=ServiceSettings)

# A relay is woken by its outbox's notifications; its idle wait only makes up for one lost.
RELAY_POLL_S = 5.0


# A background loop of a service (a sweeper, a sender): runs until its task is cancelled.
Loop = Callable[["Runtime"], Coroutine[Any, Any, None]]
# A service's durable consumers, or how to make them from what the lifespan built (for a
# handler that needs the NATS connection, say).
Subscriptions = Sequence[Subscription] | Callable[["Runtime"], Sequence[Subscription]]
# What a service checks at start, before it serves or works: a failed check (it raises,
# saying why) stops the process.
StartupCheck = Callable[["Runtime"], Awaitable[None]]


@dataclass(frozen=True)
class Workers:
    """Every background loop of a service, as its `workers.py` lists them: the outbox relay
    (every service has one), a durable consumer per subscription, and the service's own
    loops. Any number of replicas may run them side by side."""

    subscriptions: Subscriptions = ()
    loops: Sequence[Loop] = ()
    # Tables of the service's own where keyed requests leave what they did: pruned as the
    # idempotency answers are (bpo_common.pruning).
    keyed: Sequence[Table] = ()


@dataclass(frozen=True)
class ServiceDefinition:
    name: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    workers: Workers = Workers()
    checks: Sequence[StartupCheck] = ()


@dataclass
class Runtime:
    """What the lifespan built; routes reach it through `request.app.state.runtime`."""

    settings: ServiceSettings
    engine: AsyncEngine
    sessions: SessionFactory
    nats: NATS
    js: JetStreamContext
    verifier: TokenVerifier
    # The channels the process's loops wait on (the relay's and the service's own).
    notifications: Notifications
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def settings_as(self, cls: type[S]) -> S:
        """The settings, as the service's own Settings class they were built from."""
        if not isinstance(self.settings, cls):
            raise TypeError(f"the app was built with {type(self.settings).__name__}")
        return self.settings


def settings_dependency(cls: type[S]) -> Callable[[Request], Awaitable[S]]:
    """A dependency giving a route the service's own settings: `Depends(settings_dependency(
    Settings))`, as the app was built with them. (A coroutine, so that FastAPI does not run it
    in a worker thread.)"""

    async def settings(request: Request) -> S:
        runtime: Runtime = request.app.state.runtime
        return runtime.settings_as(cls)

    return settings


def create_service_app(
    definition: ServiceDefinition,
    settings: ServiceSettings,
    *,
    rate_limiter: RateLimiter | None = None,
) -> FastAPI:
    """The service's app; `rate_limiter` is built from the settings unless one is given."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, definition.name)
        verifier = TokenVerifier.from_settings(settings)
        url = settings.database_url.get_secret_value()
        engine = create_engine(url, pool_size=settings.database_pool_size)
        sessions = create_session_factory(engine, source=definition.name)
        nc = await connect(
            settings.nats_url,
            name=definition.name,
            timeout_s=settings.nats_connect_timeout_s,
            user=settings.nats_user,
            password=settings.nats_password,
        )
        js = nc.jetstream()
        await ensure_stream(
            js,
            replicas=settings.stream_replicas,
            max_age_days=settings.stream_max_age_days,
            timeout_s=settings.nats_connect_timeout_s,
        )
        runtime = Runtime(
            settings, engine, sessions, nc, js, verifier, Notifications(asyncpg_dsn(url))
        )
        try:
            for check in definition.checks:
                # A database restarting (recovering from a crash) is waited for.
                await retry_until(
                    "database not reachable yet",
                    partial(check, runtime),
                    passing=unreachable,
                    timeout_s=settings.database_connect_timeout_s,
                )
        except BaseException:
            await nc.close()
            await engine.dispose()
            raise
        if settings.component.works:
            runtime.tasks += _start_workers(definition.workers, runtime)
        app.state.runtime = runtime
        # What startup built lives as long as the process: keep it out of the collector's
        # way, so collections on the request path stay short.
        gc.collect()
        gc.freeze()
        log.info(
            "service started",
            component=settings.component.value,
            host=settings.host,
            port=settings.listen_port(),
        )
        try:
            yield
        finally:
            for task in runtime.tasks:
                task.cancel()
            if runtime.tasks:  # none in an API process
                await asyncio.wait(runtime.tasks, timeout=10)
            await runtime.notifications.close()
            with suppress(Exception):
                await nc.close()
            await engine.dispose()

    app = FastAPI(
        title=definition.title,
        description=definition.description,
        version="1.0.0",
        lifespan=lifespan,
    )
    # The last added runs first: security headers on every answer, even a 413 or a 429.
    # Innermost, the audit trail: it sees the route's answer, with the correlation id bound.
    app.add_middleware(AuditMiddleware, trusted_proxies=settings.trusted_proxies)
    limiter = rate_limiter or RateLimiter.from_settings(settings)
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_body_bytes)
    docs = [
        path for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if path
    ]
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=docs)
    install_error_handlers(app)
    install_idempotency_handler(app)
    document_problems(app)
    app.include_router(health_router())
    if settings.component.serves_api:
        for router in definition.routers:
            app.include_router(router)
    return app


def _start_workers(workers: Workers, runtime: Runtime) -> list[asyncio.Task[None]]:
    """The relay and the pruner (bpo_common.pruning), a consumer per subscription and the
    service's own loops, as tasks."""
    settings = runtime.settings
    relay = OutboxRelay(
        runtime.sessions,
        runtime.js,
        wakeups=runtime.notifications.waiter(OUTBOX_CHANNEL),
        idle_wait_s=RELAY_POLL_S,
        batch_size=settings.relay_batch_size,
    )
    subscriptions = workers.subscriptions
    if callable(subscriptions):
        subscriptions = subscriptions(runtime)
    max_age = settings.stream_max_age_days
    pruner = Pruner(
        runtime.sessions,
        outbox_keep=timedelta(hours=settings.outbox_keep_hours),
        idempotency_keep=timedelta(hours=settings.idempotency_keep_hours),
        keyed=workers.keyed,
        stream_max_age=timedelta(days=max_age) if max_age else None,
        consumers=[subscription.name for subscription in subscriptions],
    )
    tasks = [
        asyncio.create_task(relay.run(), name="outbox-relay"),
        asyncio.create_task(pruner.run(), name="pruner"),
    ]
    tasks += [asyncio.create_task(loop(runtime), name=loop.__name__) for loop in workers.loops]
    for subscription in subscriptions:
        consumer = InboxConsumer(
            subscription,
            runtime.sessions,
            runtime.js,
            max_deliver=settings.consumer_max_deliver,
            wait_s=settings.consumer_wait_s,
            ack_wait_s=settings.consumer_ack_wait_s,
            backoff_s=settings.consumer_backoff_s,
        )
        tasks.append(asyncio.create_task(consumer.run(), name=f"consumer-{subscription.name}"))
    return tasks


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"], route_class=CheckedRoute)

    @router.get("/healthz", summary="The process is up.")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", summary="The database and NATS are reachable.")
    async def readyz(request: Request) -> JSONResponse:
        runtime: Runtime = request.app.state.runtime
        checks = {"database": "ok", "nats": "ok"}
        try:
            async with runtime.engine.connect() as connection:
                await asyncio.wait_for(connection.execute(text("SELECT 1")), 2)
        except Exception as exc:
            checks["database"] = repr(exc)
        if not runtime.nats.is_connected:
            checks["nats"] = "not connected"
        if all(value == "ok" for value in checks.values()):
            return JSONResponse({"status": "ready", "checks": checks})
        failing = ", ".join(name for name, value in checks.items() if value != "ok")
        response = problem(503, "Service unavailable", f"not ready: {failing} unreachable")
        return response

    @router.get(
        "/metrics",
        summary="Prometheus metrics of this process.",
        response_class=PlainTextResponse,
    )
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router

"""A webhook receiver on 127.0.0.1, and helpers of the webhook tests."""

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.domain import webhooks
from bpo_intake.domain.webhooks import WebhookEvent
from bpo_intake.models import WebhookAttempt, WebhookDelivery
from bpo_intake.service.webhooks import enqueue

PUBLIC_ONLY = "webhooks may only go to public addresses"


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Answers each POST with the next status of its script (the last one repeats).

    Given the client's secret it checks the signature as a client's endpoint would, against
    its own clock, and answers 401 to a request that fails the check.
    """

    statuses: Sequence[int]
    secret: str | None = None
    url: str = ""
    received: list[Received] = field(default_factory=list)
    # Set: each request is answered only once it is (a receiver that keeps the sender waiting).
    answer_after: asyncio.Event | None = None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            method, path, _ = head[0].split(" ", 2)
            headers = {
                name.strip().lower(): value.strip()
                for name, _, value in (line.partition(":") for line in head[1:] if line)
            }
            body = await reader.readexactly(int(headers.get("content-length", "0")))
            request = Received(method, path, headers, body)
            self.received.append(request)
            if self.answer_after is not None:
                await self.answer_after.wait()
            status = self._answer(request)
            writer.write(
                f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
                "content-length: 0\r\nconnection: close\r\n\r\n".encode()
            )
            await writer.drain()
        finally:
            writer.close()
            with suppress(OSError):
                await writer.wait_closed()

    def _answer(self, request: Received) -> int:
        if self.secret is not None and not verifies(self.secret, request):
            return 401
        return self.statuses[min(len(self.received), len(self.statuses)) - 1]


@asynccontextmanager
async def receiver(*statuses: int, secret: str | None = None) -> AsyncIterator[Receiver]:
    hook = Receiver(statuses or (204,), secret)
    server = await asyncio.start_server(hook.handle, "127.0.0.1", 0)
    hook.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hooks/bpo"
    async with server:
        yield hook


async def register_hooked_client(
    api: httpx.AsyncClient, tokens: Tokens, url: str | None
) -> tuple[UUID, str]:
    """A client with this webhook URL; returns its id and signing secret."""
    response = await api.post(
        "/v1/clients",
        json={"name": f"Hooked {new_id()}", "webhook_url": url},
        headers=tokens.manager(),
    )
    assert response.status_code == 201, response.text
    return UUID(response.json()["id"]), response.json()["webhook_secret"]


async def pending_delivery(
    api: httpx.AsyncClient, db: SessionFactory, tokens: Tokens, url: str
) -> tuple[UUID, str, UUID | None]:
    """A new client with this webhook URL and an event queued for it: returns the client's id,
    its signing secret and the delivery's id."""
    client_id, secret = await register_hooked_client(api, tokens, url)
    return client_id, secret, await enqueue_delivery(db, client_id)


async def enqueue_delivery(
    db: SessionFactory,
    client_id: UUID,
    event: WebhookEvent = WebhookEvent.JOB_COMPLETED,
    data: dict[str, Any] | None = None,
) -> UUID | None:
    """Queue an event as a use case would, in its own transaction; returns the new delivery."""
    async with db() as session, session.begin():
        await enqueue(session, client_id, event, data or {"job_id": new_id()})
    async with db() as session:
        return await session.scalar(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.client_id == client_id)
            .order_by(WebhookDelivery.id.desc())
            .limit(1)
        )


async def load_delivery(db: SessionFactory, delivery_id: UUID | None) -> WebhookDelivery:
    async with db() as session:
        delivery = await session.get(WebhookDelivery, delivery_id)
    assert delivery is not None
    return delivery


async def load_attempts(db: SessionFactory, delivery_id: UUID) -> list[WebhookAttempt]:
    async with db() as session:
        return list(
            await session.scalars(
                select(WebhookAttempt)
                .where(WebhookAttempt.delivery_id == delivery_id)
                .order_by(WebhookAttempt.attempted_at)
            )
        )


def verifies(secret: str, request: Received, now: datetime | None = None) -> bool:
    """Whether the request's signature checks out with the client's secret, at `now` (by
    default the receiver's own clock)."""
    headers = request.headers
    return webhooks.verify(
        secret,
        headers["webhook-id"],
        headers["webhook-timestamp"],
        request.body,
        headers["webhook-signature"],
        now=now,
    )

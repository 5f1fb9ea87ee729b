"""Helpers of the item tests: a client's open job, bodies cut into chunks, what was stored."""

import json
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import func, select, update

from bpo_common.contracts.intake import ItemsReceived
from bpo_common.db import SessionFactory
from bpo_devtools.testing import (
    Tokens,
    outbox_events,
)
from bpo_intake.domain.jobs import JobStatus
from bpo_intake.models import Item, Job

from .conftest import create_job, register_client

JSON = {"Content-Type": "application/json"}
NDJSON = {"Content-Type": "application/x-ndjson"}
CSV = {"Content-Type": "text/csv"}


async def open_job(intake: httpx.AsyncClient, tokens: Tokens) -> tuple[dict[str, str], str]:
    """A new client's headers and the id of its new, empty job (fields invoice_number,
    total, and issued_on, which is optional)."""
    client_id = await register_client(intake, tokens)
    job = await create_job(intake, tokens, client_id)
    return tokens.client(client_id), job["id"]


def ndjson_body(rows: list[dict[str, Any]]) -> bytes:
    return b"".join(json.dumps(row).encode() + b"\n" for row in rows)


async def item_count(sessions: SessionFactory, job_id: str) -> int:
    async with sessions() as session:
        query = select(func.count()).where(Item.job_id == UUID(job_id))
        return int((await session.execute(query)).scalar_one())


async def announced_items(sessions: SessionFactory, job_id: str) -> list[list[tuple[UUID, bool]]]:
    """The items of each ItemsReceived event about the job: (item id, golden) per item."""
    return [
        [(item.item_id, item.golden) for item in envelope.payload(ItemsReceived).items]
        for envelope in await outbox_events(sessions, job_id=job_id)
        if envelope.type == ItemsReceived.event_type
    ]


async def set_job_status(sessions: SessionFactory, job_id: str, status: JobStatus) -> None:
    async with sessions() as session, session.begin():
        await session.execute(update(Job).where(Job.id == UUID(job_id)).values(status=status))


async def in_chunks(body: bytes, size: int = 7) -> AsyncIterator[bytes]:
    """The body in small pieces, so rows and characters straddle chunk boundaries."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def items_path(job_id: str) -> str:
    return f"/v1/jobs/{job_id}/items"


def good_item(n: int) -> dict[str, Any]:
    return {"external_id": f"scan-{n}", "source": {"page": n}}

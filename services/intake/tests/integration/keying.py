"""Helpers of the task tests: contractors, jobs due long ago, claims, leased tasks."""

from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import httpx

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.models import Task

from .conftest import create_job, register_client

FIELDS = [
    {"name": "invoice_number", "type": "string", "required": True},
    {"name": "total", "type": "decimal", "required": True},
    {"name": "iban", "type": "iban", "required": False},
]

# An invoice with its lines, and the rule that matches them against the client's orders.
INVOICE_LINES: list[dict[str, Any]] = [
    {"name": "po_number", "type": "string"},
    {
        "name": "lines",
        "type": "table",
        "columns": [
            {"name": "line", "type": "integer"},
            {"name": "sku", "type": "string"},
            {"name": "qty", "type": "decimal"},
            {"name": "price", "type": "decimal", "decimal_places": 2},
        ],
        "key": "line",
        "min_rows": 1,
    },
]
THREE_WAY_MATCH: dict[str, Any] = {
    "orders": "purchase-orders",
    "order_field": "po_number",
    "table": "lines",
    "line": "line",
    "quantity": "qty",
    "price": "price",
    "tolerances": {"price": {"percent": "2"}},
    "receipts": {"dataset": "goods-receipts"},
}


def past(days: int) -> str:
    """A deadline in the past sorts these tests' tasks ahead of every other test's."""
    return (datetime(2001, 1, 1, tzinfo=UTC) + timedelta(days=days)).isoformat()


async def new_contractor(
    intake: httpx.AsyncClient, tokens: Tokens, *skills: str
) -> tuple[UUID, dict[str, str]]:
    response = await intake.post(
        "/v1/contractors",
        json={"name": f"keyer {new_id()}", "skills": list(skills)},
        headers=tokens.manager(),
    )
    assert response.status_code == 201, response.text
    contractor_id = UUID(response.json()["id"])
    return contractor_id, tokens.contractor(contractor_id)


async def keying_job(
    intake: httpx.AsyncClient, tokens: Tokens, items: int, **overrides: Any
) -> dict[str, Any]:
    client_id = await register_client(intake, tokens)
    return await create_job(
        intake,
        tokens,
        client_id,
        **{
            "fields": FIELDS,
            "qc": {"mode": "single"},
            "sla_hours": None,
            "due_at": past(0),
            "items": [{"external_id": f"doc-{n}", "source": {"page": n}} for n in range(items)],
            **overrides,
        },
    )


async def claim_tasks(
    intake: httpx.AsyncClient, headers: dict[str, str], limit: int = 1, **body: Any
) -> list[dict[str, Any]]:
    response = await intake.post("/v1/tasks/claim", json={"limit": limit, **body}, headers=headers)
    assert response.status_code == 200, response.text
    claimed: list[dict[str, Any]] = response.json()["tasks"]
    return claimed


class Lease(NamedTuple):
    """The one task of a new keying job, claimed by a new contractor."""

    job: dict[str, Any]
    keyer_id: UUID
    keyer: dict[str, str]
    task: dict[str, Any]


async def lease_a_task(
    intake: httpx.AsyncClient, tokens: Tokens, *skills: str, **job: Any
) -> Lease:
    """A one-item keying job (with `job`'s overrides) whose task a new keyer with `skills`
    has claimed."""
    created = await keying_job(intake, tokens, 1, **job)
    keyer_id, keyer = await new_contractor(intake, tokens, *skills)
    (task,) = await claim_tasks(intake, keyer)
    return Lease(created, keyer_id, keyer, task)


async def stored_task(sessions: SessionFactory, task_id: str) -> Task:
    async with sessions() as session:
        task = await session.get(Task, UUID(task_id))
    assert task is not None
    return task

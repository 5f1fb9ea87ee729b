"""Helpers of the task tests: contractors, jobs due long ago, claims."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx

from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens

from .conftest import create_job, register_client

FIELDS = [
    {"name": "invoice_number", "type": "string", "required": True},
    {"name": "total", "type": "decimal", "required": True},
    {"name": "iban", "type": "iban", "required": False},
]


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

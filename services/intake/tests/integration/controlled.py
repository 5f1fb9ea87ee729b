"""What the tests of control items share: the fields of their jobs, a control item with a known
answer, a keyer's submission of a task, and a client with a pool of controls."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx

from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens
from bpo_intake.service import decisions

from .conftest import create_job, register_client
from .keying import claim_tasks, new_contractor

FIELDS: list[dict[str, Any]] = [
    {"name": "holder", "type": "string", "pii": True},
    {"name": "total", "type": "decimal"},
]
# Known answers' totals start with this, which nothing else a task shows has.
KNOWN_TOTAL = "98765"


def known_item(n: int) -> dict[str, Any]:
    """The n-th control item: its source, and its known answer."""
    return {
        "external_id": f"known-{n}",
        "source": {"holder": f"Known Holder {n}", "scan": f"known-{n}.png"},
        "golden": {"holder": f"Known Holder {n}", "total": f"{KNOWN_TOTAL}.{n}1"},
    }


async def submit_typed(intake: httpx.AsyncClient, keyer: dict[str, str], task_id: str) -> None:
    """The keyer submits the task with values of their own."""
    data = {"data": {"holder": "Typed Holder", "total": "1.00"}}
    response = await intake.post(f"/v1/tasks/{task_id}/submit", json=data, headers=keyer)
    assert response.status_code == 202, response.text


async def client_with_controls(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    sessions: SessionFactory,
    keys: DataKeys,
    controls: int,
    work_type: str = "claims",
    *,
    skill: str,
) -> UUID:
    """A client with a job of `controls` completed control items of the work type: the pool."""
    client_id = await register_client(intake, tokens)
    known = [known_item(n) for n in range(controls)]
    job = await control_job(intake, tokens, client_id, 0, "0", work_type, known, skill=skill)
    _, keyer = await new_contractor(intake, tokens, skill)
    for task in await claim_tasks(intake, keyer, controls, job_id=job["id"]):
        await submit_typed(intake, keyer, task["id"])
        await accept(sessions, keys, job, task["item_id"])
    return client_id


async def control_job(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    client_id: UUID,
    items: int,
    golden_rate: str,
    work_type: str = "claims",
    extra: Sequence[dict[str, Any]] = (),
    *,
    skill: str,
    rules: Sequence[str] = (),
) -> dict[str, Any]:
    """An adaptive job of `items` real items (and `extra` ones) at this golden rate, claimed
    only by keyers with `skill`, with these rules."""
    return await create_job(
        intake,
        tokens,
        client_id,
        work_type=work_type,
        fields=FIELDS,
        rules=list(rules),
        qc={"mode": "adaptive", "golden_rate": golden_rate},
        # No deadline: its tasks sort after every other test's, which claim by urgency.
        sla_hours=None,
        required_skills=[skill],
        items=[
            {"external_id": f"real-{n}", "source": {"holder": f"Real {n}", "scan": f"{n}.png"}}
            for n in range(items)
        ]
        + list(extra),
    )


async def accept(
    sessions: SessionFactory, keys: DataKeys, job: dict[str, Any], item_id: str
) -> None:
    """Validation's acceptance of the item, applied as intake's consumer applies it."""
    accepted = validation.ItemAccepted(
        item_id=UUID(item_id),
        job_id=UUID(job["id"]),
        client_id=UUID(job["client_id"]),
        result={"holder": "Typed Holder", "total": "1.00"},
        decided_at=datetime.now(UTC),
    )
    async with sessions() as session, session.begin():
        await decisions.decide_items(session, [accepted], keys)

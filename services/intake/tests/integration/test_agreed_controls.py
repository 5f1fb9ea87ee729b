"""Items two keyers agreed on serve as controls' answers (copies injected at claims, see
test_controls.py) when the client's own control items are spent, only where the client let
them (`qc.agreed_controls`)."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx

from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.models import Item
from bpo_intake.service import decisions

from .conftest import create_job, opened_events, register_client, stored_items
from .controlled import FIELDS, submit_typed
from .keying import claim_tasks, new_contractor

# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"agreed-{new_id().hex[-8:]}"


async def _job(
    intake: httpx.AsyncClient, tokens: Tokens, client_id: UUID, qc: dict[str, Any], source: str
) -> dict[str, Any]:
    return await create_job(
        intake,
        tokens,
        client_id,
        work_type="claims",
        fields=FIELDS,
        qc=qc,
        sla_hours=None,
        required_skills=[SKILL],
        items=[{"external_id": source, "source": {"holder": source}}],
    )


async def _agreed_job(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    sessions: SessionFactory,
    keys: DataKeys,
    client_id: UUID,
    *,
    allowed: bool,
) -> dict[str, Any]:
    """A job of the client whose one item two keyers agreed on (as validation says it),
    its client letting such items be controls or not."""
    qc = {"mode": "single", "agreed_controls": allowed}
    job = await _job(intake, tokens, client_id, qc, "Agreed Holder")
    _, keyer = await new_contractor(intake, tokens, SKILL)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    await submit_typed(intake, keyer, task["id"])
    accepted = validation.ItemAccepted(
        item_id=UUID(task["item_id"]),
        job_id=UUID(job["id"]),
        client_id=client_id,
        result={"holder": "Agreed Holder", "total": "77.70"},
        agreed=True,
        decided_at=datetime.now(UTC),
    )
    async with sessions() as session, session.begin():
        await decisions.decide_items(session, [accepted], keys)
    return job


async def test_items_two_keyers_agreed_on_are_controls_where_the_client_allows_it(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await register_client(intake, tokens)
    agreed = await _agreed_job(intake, tokens, intake_db, data_keys, client_id, allowed=True)
    (source,) = await stored_items(intake_db, agreed["id"])
    job = await _job(intake, tokens, client_id, {"mode": "adaptive", "golden_rate": "1"}, "Real")
    _, keyer = await new_contractor(intake, tokens, SKILL)

    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])

    assert source.agreed
    assert task["source"] == {"holder": "Agreed Holder"}
    assert "77.70" not in str(task), "the agreed answer is never shown"
    async with intake_db() as session:
        control = await session.get(Item, UUID(task["item_id"]))
    assert control is not None
    assert control.control_of == source.id
    await submit_typed(intake, keyer, task["id"])
    (said,) = await opened_events(
        intake_db, data_keys, "bpo.intake.task.submitted", task_id=task["id"]
    )
    assert said.data["golden"] == {"holder": "Agreed Holder", "total": "77.70"}


async def test_items_two_keyers_agreed_on_are_no_controls_unless_the_client_allows_it(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await register_client(intake, tokens)
    agreed = await _agreed_job(intake, tokens, intake_db, data_keys, client_id, allowed=False)
    job = await _job(intake, tokens, client_id, {"mode": "adaptive", "golden_rate": "1"}, "Real")
    (real,) = await stored_items(intake_db, job["id"])
    _, keyer = await new_contractor(intake, tokens, SKILL)

    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])

    assert not (await stored_items(intake_db, agreed["id"]))[0].agreed
    assert task["item_id"] == str(real.id), "no pool: the claim keeps its task"

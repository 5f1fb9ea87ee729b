"""A control injected at a claim is drawn for its keyer alone: given back (a release, a
sign-out, a suspension) or run out, it is withdrawn, never keyed by another keyer nor
flagged for a manager; a later draw may copy the same item for its keyer again."""

from datetime import datetime, timedelta
from uuid import UUID

import httpx
import pytest
from sqlalchemy import update

from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Item
from bpo_intake.service import contractors, tasks

from .conftest import stored_items
from .controlled import client_with_controls, control_job
from .keying import claim_tasks, new_contractor, stored_task

# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"give-back-{new_id().hex[-8:]}"


async def _given_back(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    sessions: SessionFactory,
    keyer: tuple[UUID, dict[str, str]],
    task: dict[str, str],
    way: str,
) -> None:
    """The keyer lets go of the task they hold, as `way` says."""
    contractor_id, headers = keyer
    if way == "release":
        released = await intake.post(f"/v1/tasks/{task['id']}/release", headers=headers)
        assert released.status_code == 204, released.text
    elif way == "suspension":
        url = f"/v1/contractors/{contractor_id}"
        reason = {"reason": "too many errors"}
        suspended = await intake.post(f"{url}/suspend", json=reason, headers=tokens.manager())
        assert suspended.status_code == 200, suspended.text
        activated = await intake.post(f"{url}/activate", headers=tokens.manager())
        assert activated.status_code == 200, activated.text
    elif way == "sign-out":
        async with sessions() as session, session.begin():
            await contractors.let_go_of_leases(session, contractor_id)
    else:
        # One expiry is enough to flag an item under max_attempts 1.
        expired = datetime.fromisoformat(task["lease_expires_at"]) + timedelta(seconds=1)
        async with sessions() as session, session.begin():
            await tasks.sweep_expired_leases(session, max_attempts=1, now=expired)


@pytest.mark.parametrize("way", ["release", "sign-out", "suspension", "lease ran out"])
async def test_a_control_given_back_is_withdrawn_and_never_keyed_by_another(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    intake_db: SessionFactory,
    data_keys: DataKeys,
    way: str,
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 2, "1", skill=SKILL)
    keyer = await new_contractor(intake, tokens, SKILL)
    (control,) = await claim_tasks(intake, keyer[1], job_id=job["id"])

    await _given_back(intake, tokens, intake_db, keyer, control, way)

    stored = await stored_task(intake_db, control["id"])
    assert stored.status is TaskStatus.CANCELLED, "nobody else keys the keyer's control"
    assert (stored.contractor_id, stored.lease_expires_at) == (None, None)
    copies = {item.id: item for item in await stored_items(intake_db, job["id"])}
    first = copies[UUID(control["item_id"])]
    assert first.control_of is not None
    assert first.flagged_reason is None
    # The keyer's next draw may copy the same item again, as a new control.
    (again,) = await claim_tasks(intake, keyer[1], job_id=job["id"])
    async with intake_db() as session:
        second = await session.get(Item, UUID(again["item_id"]))
    assert second is not None
    assert (second.id != first.id, second.control_of) == (True, first.control_of)
    # Another keyer takes the rest of the job's work, but never the withdrawn control.
    other = await new_contractor(intake, tokens, SKILL)
    taken = [
        task["item_id"]
        for _ in range(3)
        for task in await claim_tasks(intake, other[1], 3, job_id=job["id"])
    ]
    real = {str(item.id) for item in copies.values() if item.control_of is None}
    assert real <= set(taken), "the queue is drained"
    assert control["item_id"] not in taken


async def test_a_control_copy_is_never_among_the_flagged_items(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    job = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    _, keyer = await new_contractor(intake, tokens, SKILL)
    (control,) = await claim_tasks(intake, keyer, job_id=job["id"])
    (real,) = [item.id for item in await stored_items(intake_db, job["id"]) if not item.control_of]
    async with intake_db() as session, session.begin():
        # As expiries flagged a control copy before they withdrew it, and as they flag an item.
        flagged = Item.id.in_([real, UUID(control["item_id"])])
        reason = "its entry task's lease expired 3 times"
        await session.execute(update(Item).where(flagged).values(flagged_reason=reason))

    listed = await intake.get("/v1/items/flagged?limit=500", headers=tokens.manager())

    assert listed.status_code == 200, listed.text
    ids = {item["id"] for item in listed.json()["data"]}
    assert str(real) in ids
    assert control["item_id"] not in ids

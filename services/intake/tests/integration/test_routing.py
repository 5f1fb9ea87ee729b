"""Routing of adaptive QC's work: a keyer whose first keyings validation doubts on a work type
takes second keyings first, as far as the queue allows; any other keyer leaves a second keying
to a doubted keyer at work who may key it (one that has waited long aside), and so takes first
keyings first; elsewhere keyers take tasks in the usual order."""

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update

from bpo_common.contracts import validation
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.domain.contractors import ContractorStatus
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Contractor, Item, KeyerRoute, Task
from bpo_intake.repository.claims import REKEY_PATIENCE
from bpo_intake.service import decisions

from .keying import claim_tasks, keying_job, new_contractor


async def _doubted(
    sessions: SessionFactory, keyer: UUID, work_type: str, doubtful: bool, at: datetime
) -> None:
    changed = validation.KeyerTrustChanged(
        contractor_id=keyer,
        work_type=work_type,
        doubtful=doubtful,
        item_accuracy=0.9 if doubtful else 0.99,
        crew_item_accuracy=0.97,
        decided_at=at,
    )
    async with sessions() as session, session.begin():
        await decisions.route_keyer(session, changed)


async def _rekeyed(
    sessions: SessionFactory,
    keys: DataKeys,
    job: dict[str, Any],
    item_id: str,
    fields: Sequence[str] = (),
) -> None:
    asked = validation.SecondKeyingRequired(
        item_id=UUID(item_id),
        job_id=UUID(job["id"]),
        client_id=UUID(job["client_id"]),
        reason="keyed again",
        fields=list(fields),
        decided_at=datetime.now(UTC),
    )
    async with sessions() as session, session.begin():
        await decisions.decide_items(session, [asked], keys)


async def _keyed_and_asked_again(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    sessions: SessionFactory,
    keys: DataKeys,
    *,
    items: int,
    fields: Sequence[str] = (),
    skills: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An adaptive job of `items` items, no deadline (its tasks sort after every other test's,
    which claim by urgency), requiring `skills`, whose first task a keyer keyed and validation
    asked to key again (only `fields`, when given): (the job, that task)."""
    job = await keying_job(
        intake,
        tokens,
        items,
        qc={"mode": "adaptive"},
        due_at=None,
        required_skills=list(skills),
    )
    _, first = await new_contractor(intake, tokens, *skills)
    (keyed,) = await claim_tasks(intake, first, job_id=job["id"])
    data = {"data": {"invoice_number": "A", "total": "1"}}
    submitted = await intake.post(f"/v1/tasks/{keyed['id']}/submit", json=data, headers=first)
    assert submitted.status_code == 202, submitted.text
    await _rekeyed(sessions, keys, job, keyed["item_id"], fields)
    return job, keyed


async def _cancel(intake: httpx.AsyncClient, tokens: Tokens, *jobs: dict[str, Any]) -> None:
    """The test's jobs cancelled: nothing of them is left for other tests to claim."""
    for job in jobs:
        client = tokens.client(UUID(job["client_id"]))
        cancelled = await intake.post(f"/v1/jobs/{job['id']}/cancel", headers=client)
        assert cancelled.status_code == 200, cancelled.text


class Doubted(NamedTuple):
    """A job whose first item waits for its second keying, and a keyer adaptive QC doubts on
    its work type since `at`."""

    job: dict[str, Any]
    keyed: dict[str, Any]  # the item's first task
    keyer_id: UUID
    keyer: dict[str, str]
    at: datetime


@asynccontextmanager
async def _a_doubted_keyer(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    sessions: SessionFactory,
    keys: DataKeys,
    *,
    at_work: bool = False,
    keyed_the_item: bool = False,
    skills: Sequence[str] = (),
) -> AsyncIterator[Doubted]:
    """`at_work`: the keyer holds a lease (of a one-item job of its own); `keyed_the_item`: the
    doubted keyer is the item's first keyer; `skills`: what the job requires (a doubted keyer
    of the test's own has none). Whatever the test finds, the keyer is trusted again after it
    and its jobs cancelled, so that no later test meets a doubted keyer at work."""
    job, keyed = await _keyed_and_asked_again(
        intake, tokens, sessions, keys, items=3, skills=skills
    )
    if keyed_the_item:
        async with sessions() as session:
            doubted_id = await session.scalar(
                select(Task.submitted_by).where(Task.id == UUID(keyed["id"]))
            )
        assert doubted_id is not None
        doubted = tokens.contractor(doubted_id)
    else:
        doubted_id, doubted = await new_contractor(intake, tokens)
    jobs = [job]
    if at_work:
        jobs.append(await keying_job(intake, tokens, 1, due_at=None))
        assert await claim_tasks(intake, doubted, job_id=jobs[-1]["id"])
    now = datetime.now(UTC)
    await _doubted(sessions, doubted_id, job["work_type"], True, now)
    try:
        yield Doubted(job, keyed, doubted_id, doubted, now)
    finally:
        await _doubted(sessions, doubted_id, job["work_type"], False, now + timedelta(seconds=1))
        await _cancel(intake, tokens, *jobs)


async def test_a_doubted_keyer_takes_second_keyings_first_and_an_older_route_change_is_ignored(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    async with _a_doubted_keyer(intake, tokens, intake_db, data_keys) as doubted:
        mine = {"job_id": doubted.job["id"]}
        _, trusted = await new_contractor(intake, tokens)

        (second,) = await claim_tasks(intake, doubted.keyer, **mine)
        assert second["item_id"] == doubted.keyed["item_id"], "the second keying, queued last"
        (fresh,) = await claim_tasks(intake, trusted, **mine)
        assert fresh["item_id"] != doubted.keyed["item_id"]

        work_type, later = doubted.job["work_type"], doubted.at + timedelta(seconds=1)
        await _doubted(intake_db, doubted.keyer_id, work_type, False, later)
        await _doubted(intake_db, doubted.keyer_id, work_type, True, doubted.at)  # an older copy
        async with intake_db() as session:
            route = await session.get(KeyerRoute, (doubted.keyer_id, work_type))
        assert route is not None
        assert (route.doubtful, route.changed_at) == (False, later)


async def test_a_second_keying_comes_before_the_jobs_first_keyings(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, keyed = await _keyed_and_asked_again(intake, tokens, intake_db, data_keys, items=3)
    mine = {"job_id": job["id"]}

    _, anyone = await new_contractor(intake, tokens)
    (next_task,) = await claim_tasks(intake, anyone, **mine)
    assert next_task["item_id"] == keyed["item_id"], "the item begun is finished first"
    await _cancel(intake, tokens, job)


async def test_a_requeued_second_keying_keys_again_only_the_fields_asked_for(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    job, keyed = await _keyed_and_asked_again(
        intake, tokens, intake_db, data_keys, items=1, fields=["total"]
    )
    # Its lease kept expiring: the sweep gave it up and flagged the item.
    async with intake_db() as session, session.begin():
        rekey = await session.scalar(
            select(Task).where(Task.item_id == UUID(keyed["item_id"]), Task.rekey)
        )
        item = await session.get(Item, UUID(keyed["item_id"]))
        assert rekey is not None
        assert item is not None
        rekey.status, rekey.attempts = TaskStatus.CANCELLED, 3
        item.flagged_reason = "its entry task's lease expired 3 times"

    requeued = await intake.post(f"/v1/items/{keyed['item_id']}/requeue", headers=tokens.manager())

    assert requeued.status_code == 200, requeued.text
    _, second = await new_contractor(intake, tokens)
    (again,) = await claim_tasks(intake, second, job_id=job["id"])
    assert again["item_id"] == keyed["item_id"]
    assert again["keyed_fields"] == ["total"]
    assert [field["name"] for field in again["fields"]] == ["total"]
    await _cancel(intake, tokens, job)


async def test_where_a_doubted_keyer_is_at_work_the_others_take_first_keyings_first(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    async with _a_doubted_keyer(intake, tokens, intake_db, data_keys, at_work=True) as doubted:
        mine = {"job_id": doubted.job["id"]}
        _, trusted = await new_contractor(intake, tokens)

        (fresh,) = await claim_tasks(intake, trusted, **mine)
        assert fresh["item_id"] != doubted.keyed["item_id"], "a first keying, though queued after"
        (second,) = await claim_tasks(intake, doubted.keyer, **mine)
        assert second["item_id"] == doubted.keyed["item_id"]


@pytest.mark.parametrize(
    "aside",
    [
        "waited long",
        "doubted keyer suspended",
        "doubted keyer not at work",
        "doubted keyer's lease ran out",
        "doubted keyer's own",
        "doubted keyer without the skill",
    ],
)
async def test_a_second_keying_goes_in_the_queues_order_once_no_doubted_keyer_would_take_it(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    intake_db: SessionFactory,
    data_keys: DataKeys,
    aside: str,
) -> None:
    skills = [f"routing-{new_id()}"] if aside == "doubted keyer without the skill" else []
    async with _a_doubted_keyer(
        intake,
        tokens,
        intake_db,
        data_keys,
        at_work=aside != "doubted keyer not at work",
        keyed_the_item=aside == "doubted keyer's own",
        skills=skills,
    ) as doubted:
        await _set_aside(intake_db, doubted, aside)
        _, trusted = await new_contractor(intake, tokens, *skills)

        (next_task,) = await claim_tasks(intake, trusted, job_id=doubted.job["id"])
        assert next_task["item_id"] == doubted.keyed["item_id"], "the item begun is finished first"


async def _set_aside(sessions: SessionFactory, doubted: Doubted, aside: str) -> None:
    """What keeps the doubted keyer from the item's second keying, where the database says it."""
    async with sessions() as session, session.begin():
        if aside == "waited long":
            await session.execute(
                update(Task)
                .where(Task.item_id == UUID(doubted.keyed["item_id"]), Task.rekey)
                .values(created_at=doubted.at - REKEY_PATIENCE - timedelta(seconds=1))
            )
        elif aside == "doubted keyer suspended":
            await session.execute(
                update(Contractor)
                .where(Contractor.id == doubted.keyer_id)
                .values(status=ContractorStatus.SUSPENDED)
            )
        elif aside == "doubted keyer's lease ran out":
            await session.execute(
                update(Task)
                .where(Task.contractor_id == doubted.keyer_id, Task.status == TaskStatus.LEASED)
                .values(lease_expires_at=doubted.at - timedelta(seconds=1))
            )

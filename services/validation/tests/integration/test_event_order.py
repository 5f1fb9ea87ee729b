"""Events that arrive twice or out of order change nothing."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import pytest
from nats.js import JetStreamContext

from bpo_common.contracts.intake import ItemsReceived, JobCreated, ReceivedItem, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.messaging import connect
from bpo_devtools.testing import TestStack, Tokens, eventually
from bpo_validation.repository.jobs import rules_of_jobs
from bpo_validation.settings import Settings

from .submissions import give_key


@pytest.fixture(scope="module")
async def js(stack: TestStack) -> AsyncIterator[JetStreamContext]:
    client = await connect(stack.urls.nats_url, name="validation-order-test")
    yield client.jetstream()
    await client.close()


async def _send(js: JetStreamContext, envelope: Envelope) -> None:
    await js.publish(envelope.subject, envelope.model_dump_json().encode())


def _job(qc: dict[str, str]) -> JobCreated:
    return JobCreated(
        job_id=new_id(),
        client_id=new_id(),
        work_type="claims",
        fields=[{"name": "amount", "type": "decimal"}],
        qc=qc,
        priority=50,
        due_at=None,
        sla_hours=None,
        external_ref=None,
        created_at=datetime.now(UTC),
    )


async def test_items_received_before_their_job_and_twice_are_counted_once(
    validation_db: SessionFactory, js: JetStreamContext
) -> None:
    """Adaptive QC holds a job's bound over its items received (control items aside)."""
    job = _job({"mode": "adaptive", "target_accuracy": "0.99"})

    def received(golden: int, real: int) -> Envelope:
        items = [ReceivedItem(item_id=new_id(), external_id=None, golden=True)] * golden + [
            ReceivedItem(item_id=new_id(), external_id=None, golden=False) for _ in range(real)
        ]
        event = ItemsReceived(
            job_id=job.job_id,
            client_id=job.client_id,
            work_type=job.work_type,
            items=items,
            received_at=datetime.now(UTC),
        )
        return wrap(event, source="intake", client_id=job.client_id)

    first, second = received(2, 3), received(0, 4)
    await _send(js, first)  # before the job: validation waits for it
    await _send(js, wrap(job, source="intake", client_id=job.client_id))
    await _send(js, second)
    await _send(js, second)  # a redelivered copy

    async def counted() -> int | None:
        async with validation_db() as session:
            found = await rules_of_jobs(session, [job.job_id])
        return found[job.job_id].items if job.job_id in found else None

    async def all_seven() -> bool:
        return await counted() == 7

    await eventually(all_seven, what="the job's seven items counted")
    assert await counted() == 7


async def test_a_submission_before_its_job_and_a_duplicate_are_decided_once(
    validation: httpx.AsyncClient,
    validation_db: SessionFactory,
    validation_settings: Settings,
    tokens: Tokens,
    js: JetStreamContext,
) -> None:
    now = datetime.now(UTC)
    job = _job({"mode": "double"})
    item_id = new_id()

    def keying(total: str) -> Envelope:
        return wrap(
            TaskSubmitted(
                task_id=new_id(),
                job_id=job.job_id,
                item_id=item_id,
                client_id=job.client_id,
                work_type=job.work_type,
                kind="entry",
                contractor_id=new_id(),
                data={"amount": total},
                golden=None,
                entries_expected=2,
                claimed_at=now,
                submitted_at=now,
            ),
            source="intake",
            client_id=job.client_id,
        )

    await give_key(validation_db, validation_settings, job.job_id)
    first, second = keying("10.0"), keying("10")
    await _send(js, first)  # before the job: validation waits for it
    await _send(js, second)
    await _send(js, second)  # a redelivered copy
    await _send(js, wrap(job, source="intake", client_id=job.client_id))

    async def decided() -> bool:
        response = await validation.get(f"/v1/items/{item_id}/decision", headers=tokens.manager())
        return response.status_code == 200

    await eventually(decided, what="the decision once the job has arrived")
    body = (await validation.get(f"/v1/items/{item_id}/decision", headers=tokens.manager())).json()
    assert [d["outcome"] for d in body["history"]] == ["accepted"]
    assert body["result"] == {"amount": "10"}
    assert len(body["entries"]) == 2

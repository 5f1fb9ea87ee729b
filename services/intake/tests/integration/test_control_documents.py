"""A contractor reads the documents of a control injected at a claim as those of the job it
went into: they are the documents of the item it copies, of another job, which would tell
the control from real work."""

from datetime import UTC, datetime

import httpx
from sqlalchemy import select, update

from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.models import Document, Item

from .controlled import client_with_controls, control_job
from .keying import claim_tasks, new_contractor

# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"control-documents-{new_id().hex[-8:]}"


async def test_a_contractor_reads_a_controls_document_as_one_of_the_job_they_key(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 1, skill=SKILL)
    async with intake_db() as session, session.begin():
        query = select(Item).where(Item.client_id == client_id, Item.golden.is_not(None))
        (pool_item,) = await session.scalars(query)
        now = datetime.now(UTC)
        scan = Document(
            id=new_id(), job_id=pool_item.job_id, client_id=client_id, filename="scan.pdf",
            media_type="application/pdf", size=1, sha256="0" * 64, pages=1, created_at=now,
            rendered_at=now, deleted_at=None,
        )  # fmt: skip
        session.add(scan)
        await session.flush()
        await session.execute(
            update(Item).where(Item.id == pool_item.id).values(documents=[scan.id])
        )
    job = await control_job(intake, tokens, client_id, 1, "1", skill=SKILL)
    _, keyer = await new_contractor(intake, tokens, SKILL)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    assert [document["id"] for document in task["documents"]] == [str(scan.id)]

    shown = await intake.get(f"/v1/documents/{scan.id}", headers=keyer)

    assert shown.status_code == 200, shown.text
    assert shown.json()["job_id"] == job["id"], "the job of the task they hold"
    assert shown.json()["filename"] == "scan.pdf"
    managed = await intake.get(f"/v1/documents/{scan.id}", headers=tokens.manager())
    assert managed.json()["job_id"] == str(pool_item.job_id), "others read where it is"

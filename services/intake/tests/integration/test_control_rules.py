"""A control injected at a claim copies only an item whose known answer the claimed job's
rules take: the pool spans the client's jobs of the same work type and fields, whose rules
may differ, and a keyer who typed the answer of one that breaks them would be refused it."""

from typing import Any

import httpx

from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens

from .conftest import stored_items
from .controlled import KNOWN_TOTAL, client_with_controls, control_job, known_item
from .keying import claim_tasks, new_contractor

# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"control-rules-{new_id().hex[-8:]}"


async def test_no_control_copies_an_answer_the_jobs_rules_refuse(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    # The pool's answers are 98765.01 and 98765.11, of a job without rules.
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 2, skill=SKILL)
    strict = await control_job(
        intake, tokens, client_id, 1, "1", skill=SKILL, rules=["total < 98765"]
    )
    (real,) = await stored_items(intake_db, strict["id"])
    _, keyer = await new_contractor(intake, tokens, SKILL)

    (task,) = await claim_tasks(intake, keyer, job_id=strict["id"])

    assert task["item_id"] == str(real.id), "no control: the claim keeps its task"


async def test_a_control_copies_an_answer_the_jobs_rules_take_which_its_keyer_submits(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await client_with_controls(intake, tokens, intake_db, data_keys, 2, skill=SKILL)
    # Only the first known answer, 98765.01, meets the rule.
    job = await control_job(
        intake, tokens, client_id, 1, "1", skill=SKILL, rules=["total < 98765.05"]
    )
    answer: dict[str, Any] = known_item(0)["golden"]
    assert answer["total"] == f"{KNOWN_TOTAL}.01"

    # Drawn for six keyers: the other item would come first to about half of them.
    for _ in range(6):
        _, keyer = await new_contractor(intake, tokens, SKILL)
        (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
        assert task["source"]["holder"] == "Known Holder 0"
        submitted = await intake.post(
            f"/v1/tasks/{task['id']}/submit", json={"data": answer}, headers=keyer
        )
        assert submitted.status_code == 202, submitted.text

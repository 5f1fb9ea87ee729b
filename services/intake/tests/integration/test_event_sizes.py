"""Values too large for the events that carry them: an item's record or a keying past
MAX_RECORD_BYTES is a 422 naming its place and field, and nothing of it is stored (an event
past NATS's max_payload would never be sent, and its item never decided)."""

from typing import Any

import httpx

from bpo_common.contracts.sealed import MAX_RECORD_BYTES
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, assert_problem, error_fields, outbox_events
from bpo_intake.domain.tasks import TaskStatus

from .appending import NDJSON, announced_items, item_count, items_path, ndjson_body
from .conftest import count_jobs, job_body, register_client
from .keying import lease_a_task, stored_task

NOTES = [
    {"name": "ref", "type": "string"},
    {
        "name": "notes",
        "type": "table",
        "columns": [{"name": "text", "type": "string"}],
        "max_rows": 500,
    },
]


def notes(rows: int, width: int = 4000) -> list[dict[str, Any]]:
    """A table of `rows` rows of `width` characters each."""
    return [{"text": f"{n:04}" + "x" * (width - 4)} for n in range(rows)]


# Past the bound by some 7 % (500 rows of 4,500 characters: 2.25 MB as JSON), and well within.
TOO_MANY = notes(500, 4500)
FEW = notes(3)


def assert_names_the_size(error: dict[str, str]) -> None:
    message = error["message"]
    assert f"past the {MAX_RECORD_BYTES:,}" in message, message
    assert "bytes as JSON" in message, message


async def test_an_appended_item_whose_client_values_are_too_large_is_refused_naming_it(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    headers = tokens.client(client_id)
    created = await intake.post(
        "/v1/jobs", json=job_body(fields=NOTES, qc={"mode": "verify"}), headers=headers
    )
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    body = ndjson_body(
        [
            {"source": {"ref": "A", "notes": FEW}},
            {"source": {"ref": "B", "notes": TOO_MANY}},
            {"source": {"ref": "C", "notes": FEW}},
        ]
    )

    response = await intake.post(items_path(job_id), content=body, headers={**headers, **NDJSON})

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["line 2: source.notes"]
    assert_names_the_size(problem["errors"][0])
    assert await item_count(intake_db, job_id) == 0
    assert await announced_items(intake_db, job_id) == []


async def test_a_new_jobs_item_whose_golden_answer_is_too_large_is_refused_naming_it(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    items = [
        {"source": {}, "golden": {"ref": "A", "notes": FEW}},
        {"source": {}, "golden": {"ref": "B", "notes": TOO_MANY}},
    ]

    response = await intake.post(
        "/v1/jobs",
        json=job_body(fields=NOTES, qc={"mode": "single"}, items=items),
        headers=tokens.client(client_id),
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["items[1].golden.notes"]
    assert_names_the_size(problem["errors"][0])
    assert await count_jobs(intake_db, client_id) == 0


async def test_a_keying_too_large_is_refused_naming_its_field_and_nothing_is_sent(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    job, _, keyer, task = await lease_a_task(intake, tokens, fields=NOTES)
    url, data = f"/v1/tasks/{task['id']}", {"ref": "A", "notes": TOO_MANY}

    checked = await intake.post(f"{url}/check", json={"data": data}, headers=keyer)
    response = await intake.post(f"{url}/submit", json={"data": data}, headers=keyer)

    # The form's check says it before the submit does.
    assert checked.status_code == 200, checked.text
    assert checked.json()["valid"] is False
    assert [error["field"] for error in checked.json()["errors"]] == ["notes"]
    problem = assert_problem(response, 422)
    assert problem["detail"] == "the data breaks the job's rules: notes"
    assert error_fields(problem) == ["notes"]
    assert_names_the_size(problem["errors"][0])
    assert (await stored_task(intake_db, task["id"])).status is TaskStatus.LEASED
    submitted = await outbox_events(intake_db, "bpo.intake.task.submitted", job_id=job["id"])
    assert submitted == []

    taken = {"ref": "A", "notes": FEW}
    good = await intake.post(f"{url}/submit", json={"data": taken}, headers=keyer)
    assert good.status_code == 202, good.text
    assert (await stored_task(intake_db, task["id"])).data == taken

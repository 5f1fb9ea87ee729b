"""Personal data in intake: `pii` values are stored sealed with the job's data key, shown to the
client, the holder of a task's lease and managers with the pii scope, masked to other managers;
they travel sealed; the KEK rotates without a value sealed again; a missing or wrong KEK stops
the service at start."""

import csv
import io
import json
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update

from bpo_common.auth import Scope
from bpo_common.contracts import validation
from bpo_common.crypto import (
    DataKeys,
    KeyUnavailable,
    LocalKeyRing,
    SealBroken,
    is_sealed,
    new_kek,
)
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.rules import MASK
from bpo_devtools.testing import TestStack, Tokens, assert_problem, outbox_events, serve
from bpo_intake.app import create_app
from bpo_intake.models import Item, Job, Task
from bpo_intake.repository.jobs import DATA_KEYS
from bpo_intake.service import decisions
from bpo_intake.settings import Settings

from .conftest import create_job, opened_events, register_client
from .keying import claim_tasks, new_contractor, past

HOLDER, PAYEE = f"Holder {new_id().hex[-8:]}", f"Payee {new_id().hex[-8:]}"
FIELDS: list[dict[str, Any]] = [
    {"name": "holder", "type": "string", "pii": True},
    {"name": "total", "type": "decimal"},
    {
        "name": "lines",
        "type": "table",
        "required": False,
        "columns": [
            {"name": "payee", "type": "string", "pii": True},
            {"name": "amount", "type": "decimal"},
        ],
    },
]
KEYED = {"holder": HOLDER, "total": "5", "lines": [{"payee": PAYEE, "amount": "1"}]}
# Keeps other tests' keyers away from these jobs' tasks (and this test's from theirs).
SKILL = f"personal-{new_id().hex[-8:]}"


async def _personal_job(intake: httpx.AsyncClient, tokens: Tokens) -> tuple[UUID, dict[str, Any]]:
    client_id = await register_client(intake, tokens)
    golden = {"holder": HOLDER, "total": "9"}
    job = await create_job(
        intake,
        tokens,
        client_id,
        fields=FIELDS,
        qc={"mode": "single"},
        sla_hours=None,
        due_at=past(0),
        required_skills=[SKILL],
        items=[{"external_id": "a", "source": {"holder": HOLDER, "page": 1}, "golden": golden}],
    )
    appended = await intake.post(
        f"/v1/jobs/{job['id']}/items",
        content=json.dumps({"external_id": "b", "source": {"holder": HOLDER}}),
        headers={**tokens.client(client_id), "Content-Type": "application/x-ndjson"},
    )
    assert appended.status_code == 202, appended.text
    return client_id, job


def _no_value(text: str) -> bool:
    return HOLDER not in text and PAYEE not in text


async def test_personal_values_are_stored_and_sent_sealed_and_shown_as_the_reader_may_see_them(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id, job = await _personal_job(intake, tokens)
    async with intake_db() as session:
        items = {
            item.external_id: item
            for item in await session.scalars(select(Item).where(Item.job_id == UUID(job["id"])))
        }
    assert all(is_sealed(item.source["holder"]) for item in items.values())
    assert items["a"].source["page"] == 1, "what is not personal is kept as it is"
    assert items["a"].golden is not None
    assert is_sealed(items["a"].golden["holder"])

    _, keyer = await new_contractor(intake, tokens, SKILL)
    (task,) = await claim_tasks(intake, keyer, job_id=job["id"])
    assert task["source"]["holder"] == HOLDER, "the lease holder sees the values"
    submitted = await intake.post(
        f"/v1/tasks/{task['id']}/submit", json={"data": KEYED}, headers=keyer
    )
    assert submitted.status_code == 202, submitted.text
    async with intake_db() as session:
        stored = await session.get(Task, UUID(task["id"]))
    assert stored is not None
    assert stored.data is not None
    assert is_sealed(stored.data["holder"])
    assert is_sealed(stored.data["lines"][0]["payee"])
    assert stored.data["lines"][0]["amount"] == "1"
    (sent,) = await outbox_events(intake_db, "bpo.intake.task.submitted", task_id=task["id"])
    assert is_sealed(sent.data["data"])
    assert is_sealed(sent.data["golden"])
    assert _no_value(sent.model_dump_json())
    (said,) = await opened_events(
        intake_db, data_keys, "bpo.intake.task.submitted", task_id=task["id"]
    )
    assert said.data["data"]["holder"] == HOLDER
    assert said.data["golden"] == {"holder": HOLDER, "total": "9", "lines": None}

    async with intake_db() as session:
        wrapped = (await session.get(Job, UUID(job["id"]))).data_key  # type: ignore[union-attr]
    assert wrapped is not None
    key = data_keys.of(UUID(job["id"]), wrapped)
    accepted = validation.ItemAccepted(
        item_id=UUID(task["item_id"]),
        job_id=UUID(job["id"]),
        client_id=client_id,
        result=key.seal(KEYED),
        decided_at=items["a"].created_at,
    )
    # "b" too: "a", a control item, is no result.
    also = accepted.model_copy(update={"item_id": items["b"].id})
    async with intake_db() as session, session.begin():
        await decisions.decide_items(session, [accepted, also], data_keys)
    async with intake_db() as session:
        item = await session.get(Item, UUID(task["item_id"]))
    assert item is not None
    assert item.result is not None
    assert is_sealed(item.result["holder"])
    (completed,) = await outbox_events(
        intake_db, "bpo.intake.item.completed", item_id=task["item_id"]
    )
    assert "result" not in completed.data

    for reader in (tokens.client(client_id), tokens.manager(Scope.OPS, Scope.PII)):
        listed = await intake.get(f"/v1/jobs/{job['id']}/items", headers=reader)
        shown = {item["external_id"]: item for item in listed.json()["data"]}
        assert shown["a"]["result"] == KEYED
        assert shown["b"]["source"] == {"holder": HOLDER}
    ops = tokens.manager(Scope.OPS)
    listed = await intake.get(f"/v1/jobs/{job['id']}/items", headers=ops)
    shown = {item["external_id"]: item for item in listed.json()["data"]}
    assert shown["a"]["result"] == {
        "holder": MASK,
        "total": "5",
        "lines": [{"payee": MASK, "amount": "1"}],
    }
    assert shown["a"]["source"] == {"holder": MASK, "page": 1}
    assert _no_value(listed.text)
    results = await intake.get(
        f"/v1/jobs/{job['id']}/results", headers={**ops, "Accept": "text/csv"}
    )
    (row,) = csv.DictReader(io.StringIO(results.text))
    assert (row["holder"], row["lines.payee"], row["total"]) == (MASK, MASK, "5")
    results = await intake.get(
        f"/v1/jobs/{job['id']}/results", headers={**tokens.client(client_id), "Accept": "text/csv"}
    )
    (row,) = csv.DictReader(io.StringIO(results.text))
    assert (row["holder"], row["lines.payee"]) == (HOLDER, PAYEE)


async def test_a_pii_table_is_masked_cell_by_cell_its_rows_kept(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, data_keys: DataKeys
) -> None:
    client_id = await register_client(intake, tokens)
    columns = [{"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"}]
    fields = [
        {"name": "total", "type": "decimal"},
        {"name": "lines", "type": "table", "pii": True, "columns": columns},
    ]
    job = await create_job(
        intake, tokens, client_id, fields=fields, required_skills=[SKILL], items=[{"source": {}}]
    )
    async with intake_db() as session:
        stored = await session.get(Job, UUID(job["id"]))
        assert stored is not None
        assert stored.data_key is not None
        item_id = (await session.scalars(select(Item.id).where(Item.job_id == stored.id))).one()
    lines: list[dict[str, Any]] = [{"sku": PAYEE, "qty": "1"}, {"sku": HOLDER, "qty": None}]
    accepted = validation.ItemAccepted(
        item_id=item_id,
        job_id=stored.id,
        client_id=client_id,
        result=data_keys.of(stored.id, stored.data_key).seal({"total": "10", "lines": lines}),
        decided_at=stored.created_at,
    )
    async with intake_db() as session, session.begin():
        await decisions.decide_items(session, [accepted], data_keys)

    # Rows and their count kept, each cell masked, an empty one empty.
    masked: list[dict[str, Any]] = [{"sku": MASK, "qty": MASK}, {"sku": MASK, "qty": None}]
    for reader, shown in [(tokens.manager(Scope.OPS), masked), (tokens.client(client_id), lines)]:
        answers = [
            await intake.get(f"/v1/jobs/{job['id']}/results", headers={**reader, "Accept": media})
            for media in ("text/csv", "application/json")
        ]
        rows = csv.DictReader(io.StringIO(answers[0].text))
        assert [(r["line"], r["total"], r["lines.sku"], r["lines.qty"]) for r in rows] == [
            (str(n), "10", row["sku"], row["qty"] or "") for n, row in enumerate(shown, 1)
        ]
        assert [record["data"] for record in answers[1].json()] == [{"total": "10", "lines": shown}]
        answers.append(await intake.get(f"/v1/jobs/{job['id']}/items", headers=reader))
        (item,) = answers[2].json()["data"]
        assert item["result"] == {"total": "10", "lines": shown}
        masking = shown is masked
        assert all(_no_value(answer.text) for answer in answers) == masking, masking


async def test_a_tampered_value_is_refused_not_shown(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    client_id, job = await _personal_job(intake, tokens)
    async with intake_db() as session, session.begin():
        item = (
            await session.scalars(select(Item).where(Item.job_id == UUID(job["id"])).limit(1))
        ).one()
        sealed = item.source["holder"]
        tampered = sealed[:-6] + ("AAAA==" if not sealed.endswith("AAAA==") else "BBBB==")
        await session.execute(
            update(Item).where(Item.id == item.id).values(source={"holder": tampered})
        )
    # A 500 over HTTP (the test's in-process transport raises what the app raised).
    with pytest.raises(SealBroken, match="does not open"):
        await intake.get(f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id))
    masked = await intake.get(f"/v1/jobs/{job['id']}/items", headers=tokens.manager(Scope.OPS))
    assert masked.status_code == 200, masked.text


async def test_a_new_kek_rewraps_every_data_key_and_what_was_sealed_still_opens(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    client_id, job = await _personal_job(intake, tokens)
    rotated = new_kek("rotated")
    ring = LocalKeyRing.parse(f"{rotated},{stack.kek}", "rotated")
    back = LocalKeyRing.parse(
        f"{stack.kek},{rotated}", LocalKeyRing.parse(stack.kek).current_key_id
    )
    try:
        await _rewrap_all(intake_db, ring)
        async with intake_db() as session:
            wrapped = (await session.get(Job, UUID(job["id"]))).data_key  # type: ignore[union-attr]
        assert wrapped is not None
        assert wrapped.startswith("dek:v1:rotated:")
        # Only the new KEK now: the service starts, and what was sealed before still opens.
        app = create_app(stack.settings(Settings, "intake", kek=rotated))
        async with serve(app) as rotated_intake:
            listed = await rotated_intake.get(
                f"/v1/jobs/{job['id']}/items", headers=tokens.client(client_id)
            )
        assert {item["source"]["holder"] for item in listed.json()["data"]} == {HOLDER}
    finally:
        await _rewrap_all(intake_db, back)


async def _rewrap_all(intake_db: SessionFactory, ring: LocalKeyRing) -> None:
    """Every job's data key wrapped by the ring's current KEK, as the workers' loop does."""
    async with intake_db() as session, session.begin():
        after = await DATA_KEYS.rewrap(session, ring)
        while after is not None:
            after = await DATA_KEYS.rewrap(session, ring, after)


async def test_a_replica_without_the_kek_a_job_s_key_is_wrapped_by_answers_503_storing_nothing(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    """A KEK rotated in one step: replicas already restarted wrap new jobs' keys by the new
    KEK, which one not yet restarted (the `intake` app here) does not hold."""
    current = LocalKeyRing.parse(stack.kek).current_key_id
    rotated = new_kek("rotated-early")
    restarted = stack.settings(
        Settings, "intake", kek=f"{rotated},{stack.kek}", kek_id="rotated-early"
    )
    try:
        async with serve(create_app(restarted)) as new_intake:
            client_id, job = await _personal_job(new_intake, tokens)
        appended = await intake.post(
            f"/v1/jobs/{job['id']}/items",
            content=json.dumps({"external_id": "c", "source": {"holder": HOLDER}}),
            headers={**tokens.client(client_id), "Content-Type": "application/x-ndjson"},
        )
        problem = assert_problem(appended, 503)
        assert appended.headers["Retry-After"] == "5"
        assert "retry the request" in problem["detail"]
        async with intake_db() as session:
            stored = await session.scalars(
                select(Item.external_id).where(Item.job_id == UUID(job["id"]))
            )
            assert sorted(str(found) for found in stored) == ["a", "b"], "nothing of it stored"
    finally:
        await _rewrap_all(intake_db, LocalKeyRing.parse(f"{stack.kek},{rotated}", current))


@pytest.mark.parametrize(
    ("kek", "reason"),
    [
        ("", "BPO_KEK is not set"),
        (None, "not the one the stored data keys were wrapped with"),
        (new_kek("elsewhere"), "which BPO_KEK does not hold"),
    ],
    ids=["no KEK", "the run's KEK", "a new KEK"],  # not the key: new at each collection
)
async def test_a_missing_or_wrong_kek_stops_the_service_at_start_saying_why(
    intake: httpx.AsyncClient, tokens: Tokens, stack: TestStack, kek: str | None, reason: str
) -> None:
    await _personal_job(intake, tokens)  # a data key is stored
    current = LocalKeyRing.parse(stack.kek).current_key_id
    given = new_kek(current) if kek is None else kek  # the same id, other bytes
    with pytest.raises(KeyUnavailable, match=reason):
        async with serve(create_app(stack.settings(Settings, "intake", kek=given))):
            pass

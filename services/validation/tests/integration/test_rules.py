"""Job rules as intake announced them, and the rule engine's dry run."""

import httpx
from sqlalchemy import column, insert, table
from sqlalchemy.dialects.postgresql import JSONB

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.repository import jobs as jobs_repository
from bpo_validation.service import jobs

from .submissions import FIELDS, new_job, sample_key


async def test_the_rule_engine_dry_run_checks_and_normalizes(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await validation.post(
        "/v1/check",
        json={
            "fields": FIELDS,
            "rules": ["total > 10"],
            "data": {"number": " A ", "total": "5", "currency": "usd"},
        },
        headers=tokens.manager(),
    )
    assert response.json() == {
        "valid": False,
        "errors": [{"field": "rules[0]", "message": "rule not met: total > 10 (total=5)"}],
        "normalized": {"number": "A", "total": "5", "currency": "USD"},
    }
    bad = await validation.post(
        "/v1/check",
        json={"fields": [{"name": "n", "type": "integer", "choices": ["a"]}], "data": {}},
        headers=tokens.manager(),
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["fields[0].choices"]


async def test_a_job_announced_twice_is_kept_once_as_first_announced(
    validation_db: SessionFactory,
) -> None:
    job = await new_job(validation_db)
    copy = job.model_copy(update={"work_type": "changed"})
    async with validation_db() as session, session.begin():
        await jobs.record_job(session, copy)
    async with validation_db() as session:
        rules = await jobs.job_rules(session, job.job_id, None)
    assert rules.work_type == "invoice"


async def test_a_jobs_rules_are_shown_without_the_secret_its_review_sample_is_drawn_with(
    validation_db: SessionFactory, validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await new_job(validation_db, review_sample_rate="0.25")
    response = await validation.get(f"/v1/jobs/{job.job_id}/rules", headers=tokens.manager())
    assert response.status_code == 200
    shown = response.json()
    assert shown["qc"]["review_sample_rate"] == "0.25"
    assert sorted(shown) == [
        "client_id", "fields", "job_id", "match", "qc", "received_at", "rules", "work_type",
    ]  # fmt: skip
    keys = [await sample_key(validation_db, made) for made in (job, await new_job(validation_db))]
    assert [len(key) for key in keys] == [16, 16]
    assert keys[0] != keys[1], "each job draws its sample with a key of its own"


async def test_a_job_kept_by_a_replica_of_the_release_before_is_given_a_sample_key(
    validation_db: SessionFactory,
) -> None:
    # During a rolling upgrade a replica of the release before keeps a job's rules as it knew
    # them: without a sample key.
    plain, json = ("job_id", "client_id", "work_type", "received_at"), ("fields", "rules", "qc")
    before = table(
        "job_rules", *(column(name) for name in plain), *(column(name, JSONB) for name in json)
    )
    job_id = new_id()
    async with validation_db() as session, session.begin():
        kept = {"job_id": job_id, "client_id": new_id(), "work_type": "invoice", "fields": [],
                "rules": [], "qc": {"mode": "single"}, "received_at": utcnow()}  # fmt: skip
        await session.execute(insert(before).values(kept))
    async with validation_db() as session:
        rules = await jobs_repository.get_job_rules(session, job_id, None)
    assert rules is not None
    assert len(rules.sample_key) == 16

"""Job rules as intake announced them, and the rule engine's dry run."""

import httpx

from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens
from bpo_validation.service import jobs

from .submissions import FIELDS, new_job


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

"""Intake's audit trail: what clients (their API keys included) and managers change is
recorded, one row a call, with the statuses that changed and never the values sent;
refusals with their status; contractors' work not at all."""

import httpx

from bpo_common.auth import API_KEY_SUBJECT, KeyScope, Role, Scope
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.audit import (
    admin,
    assert_append_only,
    assert_nowhere_in_the_trail,
    assert_only_admins_read_the_trail,
    assert_the_trail_reads_back,
    audit_rows,
)
from bpo_devtools.testing import TEST_API_KEY_ISSUER, Tokens, assert_problem

from .conftest import job_body, register_client
from .keying import lease_a_task

CONTRACTOR = "/v1/contractors/{contractor_id}"


async def test_an_api_keys_job_is_recorded_without_its_values(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    subject = f"{API_KEY_SUBJECT}{new_id()}"
    token = tokens.token(
        Role.CLIENT, subject, client_id, [KeyScope.JOBS_WRITE], TEST_API_KEY_ISSUER
    )
    headers = {"Authorization": f"Bearer {token}", "X-Correlation-ID": "audit-intake-1"}
    secret_item = {"external_id": "SECRET-REF", "source": {"holder": "SECRET-VALUE"}}
    created = await intake.post("/v1/jobs", json=job_body(items=[secret_item]), headers=headers)
    assert created.status_code == 201, created.text
    job_id = created.json()["id"]
    cancelled = await intake.post(f"/v1/jobs/{job_id}/cancel", headers=headers)
    assert cancelled.status_code == 200, cancelled.text

    rows = await audit_rows(intake_db, actor=subject)
    assert [(row.action, row.status_code, row.object_id, row.summary) for row in rows] == [
        ("POST /v1/jobs", 201, job_id, {"items": 1}),
        ("POST /v1/jobs/{job_id}/cancel", 200, job_id, {"before": "open", "after": "cancelled"}),
    ]
    for row in rows:
        assert (row.role, row.scopes, row.client_id) == (Role.CLIENT, ["jobs:write"], client_id)
        assert (row.address, row.correlation_id) == ("127.0.0.1", "audit-intake-1")
    for value in ("SECRET-VALUE", "SECRET-REF", "holder"):
        await assert_nowhere_in_the_trail(intake_db, value)


async def test_refusals_are_recorded_with_their_status(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    subject = f"client-user-{new_id()}"
    headers = tokens.headers(Role.CLIENT, subject, client_id)
    created = await intake.post("/v1/jobs", json=job_body(), headers=headers)
    job_id = created.json()["id"]
    closing = headers | {"Idempotency-Key": f"close-{job_id}"}
    closed = await intake.post(f"/v1/jobs/{job_id}/close", headers=closing)
    assert closed.status_code == 200, closed.text
    replayed = await intake.post(f"/v1/jobs/{job_id}/close", headers=closing)
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert_problem(await intake.post(f"/v1/jobs/{job_id}/close", headers=headers), 409)
    assert_problem(await intake.post("/v1/jobs", json={"fields": []}, headers=headers), 422)
    unknown = new_id()
    assert_problem(await intake.post(f"/v1/jobs/{unknown}/cancel", headers=headers), 404)

    rows = await audit_rows(intake_db, actor=subject)
    assert [(row.action, row.status_code, row.object_id, row.summary) for row in rows] == [
        ("POST /v1/jobs", 201, job_id, {"items": 0}),
        ("POST /v1/jobs/{job_id}/close", 200, job_id, {"before": "open", "after": "completed"}),
        ("POST /v1/jobs/{job_id}/close", 200, job_id, {"replayed": True}),
        ("POST /v1/jobs/{job_id}/close", 409, job_id, {}),
        ("POST /v1/jobs", 422, None, {}),
        ("POST /v1/jobs/{job_id}/cancel", 404, str(unknown), {}),
    ]


async def test_a_managers_changes_are_recorded_and_a_contractors_work_is_not(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    lease = await lease_a_task(intake, tokens)
    submitted = await intake.post(
        f"/v1/tasks/{lease.task['id']}/submit",
        json={"data": {"invoice_number": "SECRET-KEYED", "total": "12.50"}},
        headers=lease.keyer,
    )
    assert submitted.status_code == 202, submitted.text
    subject = f"ops-{new_id()}"
    ops = tokens.headers(Role.MANAGER, subject, scopes=[Scope.OPS])
    contractor = f"/v1/contractors/{lease.keyer_id}"
    suspended = await intake.post(f"{contractor}/suspend", json={"reason": "SECRET"}, headers=ops)
    assert suspended.status_code == 200, suspended.text
    activated = await intake.post(f"{contractor}/activate", headers=ops)
    assert activated.status_code == 200, activated.text
    # Webhook addresses are for admins.
    webhook = await intake.put(
        f"/v1/clients/{new_id()}/webhook", json={"webhook_url": None}, headers=ops
    )
    assert_problem(webhook, 403)

    assert await audit_rows(intake_db, actor=str(lease.keyer_id)) == []
    rows = await audit_rows(intake_db, actor=subject)
    assert [(row.action, row.status_code, row.summary) for row in rows] == [
        (f"POST {CONTRACTOR}/suspend", 200, {"before": "active", "after": "suspended"}),
        (f"POST {CONTRACTOR}/activate", 200, {"before": "suspended", "after": "active"}),
        ("PUT /v1/clients/{client_id}/webhook", 403, {}),
    ]
    assert [row.object_id for row in rows[:2]] == [str(lease.keyer_id)] * 2
    for value in ("SECRET-KEYED", "SECRET"):
        await assert_nowhere_in_the_trail(intake_db, value)


async def test_api_keys_are_recorded_without_their_secrets(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens)
    subject = f"admin-{new_id()}"
    body = {"client_id": str(client_id), "name": "SECRET-NAME", "scopes": ["results:read"]}
    made = await intake.post("/v1/api-keys", json=body, headers=admin(tokens, subject))
    assert made.status_code == 201, made.text
    key = made.json()
    revoked = await intake.delete(f"/v1/api-keys/{key['id']}", headers=admin(tokens, subject))
    assert revoked.status_code == 204, revoked.text

    rows = await audit_rows(intake_db, actor=subject)
    assert [(row.action, row.status_code, row.object_id) for row in rows] == [
        ("POST /v1/api-keys", 201, key["id"]),
        ("DELETE /v1/api-keys/{key_id}", 204, key["id"]),
    ]
    assert rows[0].summary == {
        "client_id": str(client_id),
        "scopes": ["results:read"],
        "expires_at": None,
    }
    assert set(rows[1].summary) == {"revoked_at"}
    for value in (key["secret"], "SECRET-NAME"):
        await assert_nowhere_in_the_trail(intake_db, value)

    await assert_append_only(intake_db)
    await assert_only_admins_read_the_trail(intake, tokens)
    await assert_the_trail_reads_back(intake, tokens, rows)

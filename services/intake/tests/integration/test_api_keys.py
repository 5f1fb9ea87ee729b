"""Clients' API keys: made by an admin for any client or by a client for itself, with only
what their maker may do, the secret shown once and kept only hashed, listed without it,
revoked."""

import asyncio
from datetime import datetime, timedelta
from uuid import UUID

import httpx
import jwt
from sqlalchemy import update

from bpo_common.auth import MANAGE_KEYS, KeyScope, Role, Scope
from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_devtools.testing import TestStack, Tokens, assert_problem, error_fields
from bpo_intake.domain.api_keys import secret_matches
from bpo_intake.models import ApiKey

from .api_keys import ask_token, bearer, make_key
from .conftest import job_body, register_client


async def test_a_key_lives_from_its_secret_shown_once_through_its_tokens_to_its_revocation(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens, stack: TestStack
) -> None:
    client_id = await register_client(intake, tokens, "Keyed Ltd")
    made = await make_key(intake, tokens, client_id, "jobs:write", "results:read", "jobs:write")

    assert UUID(made["id"]).version == 7
    assert (made["client_id"], made["name"]) == (str(client_id), "ERP export")
    assert made["scopes"] == ["jobs:write", "results:read"]
    assert made["created_by"] == "manager"
    assert datetime.fromisoformat(made["created_at"]).utcoffset() == timedelta(0)
    assert (made["expires_at"], made["revoked_at"], made["last_used_at"]) == (None, None, None)
    assert made["secret"].startswith("bpok_")
    assert len(made["secret"]) > 40
    async with intake_db() as session:
        stored = await session.get(ApiKey, UUID(made["id"]))
    assert stored is not None
    assert stored.secret_hash.startswith("$scrypt$ln=14,r=8,p=1$")
    assert made["secret"] not in stored.secret_hash
    assert secret_matches(made["secret"], stored.secret_hash)
    assert not secret_matches(made["secret"] + "x", stored.secret_hash)

    granted = await ask_token(intake, made)
    assert granted.status_code == 200, granted.text
    assert (granted.headers["cache-control"], granted.headers["pragma"]) == ("no-store", "no-cache")
    body = granted.json()
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 900)
    assert body["scope"] == "jobs:write results:read"
    claims = jwt.decode(
        body["access_token"],
        stack.public_key.read_text(),
        algorithms=["RS256"],
        audience="bpo",
        issuer="bpo-api-keys",
    )
    assert claims["sub"] == f"api-key:{made['id']}"
    assert (claims["role"], claims["client_id"]) == ("client", str(client_id))
    assert claims["scope"] == "jobs:write results:read"
    assert claims["exp"] - claims["iat"] == 900
    as_key = {"Authorization": f"Bearer {body['access_token']}"}
    job = await intake.post("/v1/jobs", json=job_body(), headers=as_key)
    assert job.status_code == 201, job.text
    assert job.json()["client_id"] == str(client_id)
    items = await intake.get(f"/v1/jobs/{job.json()['id']}/items", headers=as_key)
    assert items.json() == {"data": [], "next_cursor": None}

    listed = await intake.get(
        "/v1/api-keys", params={"client_id": str(client_id)}, headers=tokens.manager(Scope.ADMIN)
    )
    (shown,) = listed.json()["data"]
    assert "secret" not in shown
    assert {name: shown[name] for name in ("id", "scopes")} == {
        "id": made["id"],
        "scopes": made["scopes"],
    }
    assert shown["last_used_at"] is not None

    revoked = await intake.delete(f"/v1/api-keys/{made['id']}", headers=tokens.client(client_id))
    assert (revoked.status_code, revoked.content) == (204, b"")
    async with intake_db() as session:
        stored = await session.get(ApiKey, UUID(made["id"]))
    assert stored is not None
    assert stored.revoked_at is not None
    refused = await ask_token(intake, made)
    assert refused.status_code == 401
    assert refused.json() == {
        "error": "invalid_client",
        "error_description": "the API key was revoked",
    }
    assert refused.headers["www-authenticate"].startswith('Basic realm="bpo"')
    # A token it got before lasts until it expires, minutes later.
    assert (await intake.get("/v1/jobs", headers=as_key)).status_code == 200


async def test_an_expired_key_gets_no_token_and_a_token_never_outlives_its_key(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Expiring Ltd")
    soon = utcnow() + timedelta(minutes=5)
    made = await make_key(intake, tokens, client_id, "results:read", expires_at=soon.isoformat())
    assert datetime.fromisoformat(made["expires_at"]) == soon

    granted = (await ask_token(intake, made)).json()
    assert 290 <= granted["expires_in"] <= 300

    async with intake_db() as session, session.begin():
        await session.execute(
            update(ApiKey)
            .where(ApiKey.id == UUID(made["id"]))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    refused = await ask_token(intake, made)
    assert refused.status_code == 401
    assert refused.json()["error_description"] == "the API key has expired"


async def test_a_client_makes_lists_and_revokes_its_own_keys_and_never_anothers(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    own, other = [await register_client(intake, tokens, name) for name in ("Own", "Other")]
    made = await intake.post(
        "/v1/api-keys",
        json={"name": "nightly upload", "scopes": ["jobs:write"]},
        headers=tokens.client(own),
    )
    assert made.status_code == 201, made.text
    assert (made.json()["client_id"], made.json()["created_by"]) == (str(own), "client")
    others = await make_key(intake, tokens, other, "invoices:read")

    listed = await intake.get("/v1/api-keys", headers=tokens.client(own))
    assert [key["id"] for key in listed.json()["data"]] == [made.json()["id"]]
    for_other = await intake.post(
        "/v1/api-keys",
        json={"client_id": str(other), "name": "sneaky", "scopes": ["jobs:write"]},
        headers=tokens.client(own),
    )
    assert assert_problem(for_other, 404)["detail"] == f"no client {other}"
    revoked = await intake.delete(f"/v1/api-keys/{others['id']}", headers=tokens.client(own))
    assert assert_problem(revoked, 404)["detail"] == f"no API key {others['id']}"
    assert (await ask_token(intake, others)).status_code == 200, "the other key still works"


async def test_managing_keys_needs_the_admin_scope_or_the_clients_own_token(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Guarded Ltd")
    made = await make_key(intake, tokens, client_id, "jobs:write", "results:read")
    body = {"client_id": str(client_id), "name": "x", "scopes": ["jobs:write"]}

    as_ops = await intake.post("/v1/api-keys", json=body, headers=tokens.manager(Scope.OPS))
    assert assert_problem(as_ops, 403)["detail"] == "this needs the scope admin; the token has ops"
    # A key's token makes no keys, which would outlive the key's revocation.
    as_key = await intake.get("/v1/api-keys", headers=await bearer(intake, made))
    assert assert_problem(as_key, 403)["detail"] == (
        "this needs the scope api-keys; the token has jobs:write, results:read"
    )
    as_contractor = await intake.get("/v1/api-keys", headers=tokens.contractor(client_id))
    assert assert_problem(as_contractor, 403)["detail"] == (
        "this needs the role client, manager; the token has contractor"
    )


async def test_a_key_is_given_only_what_its_maker_may_do_on_the_clients_data(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Delegated Ltd")
    every = ["jobs:write", "results:read", "invoices:read", "reports:read"]
    body = {"client_id": str(client_id), "name": "x", "scopes": every}

    admin = await intake.post("/v1/api-keys", json=body, headers=tokens.manager(Scope.ADMIN))
    problem = assert_problem(admin, 403)
    assert problem["detail"] == (
        "an API key may do only what its maker may: scopes[0]: jobs:write needs the scope ops "
        "and pii; scopes[1]: results:read needs the scope ops and pii; scopes[2]: invoices:read "
        "needs the scope finance; scopes[3]: reports:read needs the scope ops or finance; the "
        "token has admin"
    )
    assert error_fields(problem) == ["scopes[0]", "scopes[1]", "scopes[2]", "scopes[3]"]
    # Reading results in clear is for a manager who reads personal values in clear; so is
    # writing jobs, whose tokens read the client's reference rows as the client kept them.
    body["scopes"] = ["jobs:write", "results:read", "reports:read"]
    ops = await intake.post(
        "/v1/api-keys", json=body, headers=tokens.manager(Scope.ADMIN, Scope.OPS)
    )
    problem = assert_problem(ops, 403)
    assert problem["detail"] == (
        "an API key may do only what its maker may: scopes[0]: jobs:write needs the scope pii; "
        "scopes[1]: results:read needs the scope pii; the token has admin, ops"
    )
    assert problem["errors"] == [
        {"field": "scopes[0]", "message": "jobs:write needs the scope pii"},
        {"field": "scopes[1]", "message": "results:read needs the scope pii"},
    ]
    body["scopes"] = ["invoices:read", "reports:read", "results:read"]
    finance = await intake.post(
        "/v1/api-keys", json=body, headers=tokens.manager(Scope.ADMIN, Scope.FINANCE)
    )
    assert error_fields(assert_problem(finance, 403)) == ["scopes[2]"]
    listed = await intake.get(
        "/v1/api-keys", params={"client_id": str(client_id)}, headers=tokens.manager()
    )
    assert listed.json()["data"] == [], "a refused key is not stored"

    made = []
    for scopes, maker in [
        (["jobs:write", "results:read", "reports:read"], (Scope.ADMIN, Scope.OPS, Scope.PII)),
        (["invoices:read", "reports:read"], (Scope.ADMIN, Scope.FINANCE)),
    ]:
        body["scopes"] = scopes
        allowed = await intake.post("/v1/api-keys", json=body, headers=tokens.manager(*maker))
        assert allowed.status_code == 201, allowed.text
        made.append(allowed.json()["scopes"])
    assert made == [
        ["jobs:write", "results:read", "reports:read"],
        ["invoices:read", "reports:read"],
    ]

    # A client's integration that may manage keys and send work, not read results.
    integrator = tokens.headers(
        Role.CLIENT, "integrator", client_id, [MANAGE_KEYS, KeyScope.JOBS_WRITE]
    )
    reader = await intake.post(
        "/v1/api-keys", json={"name": "x", "scopes": ["results:read"]}, headers=integrator
    )
    problem = assert_problem(reader, 403)
    assert problem["detail"] == (
        "an API key may do only what its maker may: scopes[0]: results:read needs the scope "
        "results:read; the token has api-keys, jobs:write"
    )
    assert error_fields(problem) == ["scopes[0]"]
    writer = await intake.post(
        "/v1/api-keys", json={"name": "x", "scopes": ["jobs:write"]}, headers=integrator
    )
    assert writer.status_code == 201, writer.text
    assert writer.json()["scopes"] == ["jobs:write"]
    # A client's own sign-in (no scope claim) holds every scope.
    own = await intake.post(
        "/v1/api-keys", json={"name": "x", "scopes": every}, headers=tokens.client(client_id)
    )
    assert own.status_code == 201, own.text


async def test_refusals_name_the_field_at_fault(intake: httpx.AsyncClient, tokens: Tokens) -> None:
    client_id = await register_client(intake, tokens, "Strict Ltd")
    admin = tokens.manager(Scope.ADMIN)
    cases = [
        ({"name": "n", "scopes": ["jobs:write"]}, "client_id", "required when a manager"),
        ({"client_id": str(client_id), "name": "n", "scopes": ["jobs:delete"]}, "scopes[0]",
         "unknown scope 'jobs:delete'; scopes are jobs:write, results:read, invoices:read, "
         "reports:read"),
        ({"client_id": str(client_id), "name": "n", "scopes": []}, "scopes", "at least 1"),
        ({"client_id": str(client_id), "name": "", "scopes": ["jobs:write"]}, "name", "at least"),
        ({"client_id": str(client_id), "name": "n", "scopes": ["jobs:write"],
          "expires_at": (utcnow() - timedelta(days=1)).isoformat()}, "expires_at", "after now"),
    ]  # fmt: skip
    for body, field, message in cases:
        refused = await intake.post("/v1/api-keys", json=body, headers=admin)
        problem = assert_problem(refused, 422)
        assert error_fields(problem) == [field], body
        assert message in problem["errors"][0]["message"]
    unknown = await intake.post(
        "/v1/api-keys",
        json={"client_id": str(UUID(int=7)), "name": "n", "scopes": [KeyScope.JOBS_WRITE]},
        headers=admin,
    )
    assert assert_problem(unknown, 404)["detail"] == f"no client {UUID(int=7)}"


async def test_a_key_revoked_while_its_token_is_asked_for_gives_none(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = await register_client(intake, tokens, "Revoking Ltd")
    made = await make_key(intake, tokens, client_id, "results:read")
    async with intake_db() as revoking, revoking.begin():
        await revoking.execute(
            update(ApiKey).where(ApiKey.id == UUID(made["id"])).values(revoked_at=utcnow())
        )
        # The request reads the key as not revoked, checks the secret, then waits on its row.
        asked = asyncio.create_task(ask_token(intake, made))
        await asyncio.sleep(0.5)
    refused = await asked
    assert refused.status_code == 401, refused.text
    assert refused.json()["error_description"] == "the API key was revoked"

"""Managers register client companies, each with its webhook signing secret."""

import json
from datetime import datetime
from uuid import UUID

import httpx
import pytest
from sqlalchemy import func, select

from bpo_common.auth import Scope
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
    assert_problem,
    error_fields,
)
from bpo_intake.models import Client


async def test_manager_registers_a_client_and_gets_its_webhook_secret_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    response = await intake.post(
        "/v1/clients",
        json={"name": "Northwind Logistics", "webhook_url": "https://hooks.northwind.example/bpo"},
        headers=tokens.manager(),
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert UUID(body["id"]).version == 7
    assert body["name"] == "Northwind Logistics"
    assert body["webhook_url"] == "https://hooks.northwind.example/bpo"
    assert body["webhook_secret"].startswith("whsec_")
    assert len(body["webhook_secret"]) > len("whsec_") + 32, "the secret must be hard to guess"
    async with intake_db() as session:
        stored = await session.get(Client, UUID(body["id"]))
    assert stored is not None
    assert stored.name == "Northwind Logistics"
    assert stored.webhook_url == body["webhook_url"]
    assert stored.webhook_secret == body["webhook_secret"]
    assert datetime.fromisoformat(body["created_at"]) == stored.created_at


async def test_two_clients_get_different_webhook_secrets(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    first, second = [
        (await intake.post("/v1/clients", json={"name": name}, headers=tokens.manager())).json()
        for name in ("Contoso", "Fabrikam")
    ]

    assert first["id"] != second["id"]
    assert first["webhook_secret"] != second["webhook_secret"]


async def test_client_with_an_invalid_webhook_url_is_rejected_and_not_stored(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    name = f"Bad hook {new_id()}"

    response = await intake.post(
        "/v1/clients", json={"name": name, "webhook_url": "not a url"}, headers=tokens.manager()
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["webhook_url"]
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name == name))
    assert stored == 0


@pytest.mark.parametrize("role", ["client", "contractor"])
async def test_only_a_manager_registers_clients(
    intake: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    headers = tokens.client(new_id()) if role == "client" else tokens.contractor(new_id())

    response = await intake.post("/v1/clients", json={"name": "Sneaky"}, headers=headers)

    problem = assert_problem(response, 403)
    assert problem["detail"] == f"this needs the role manager; the token has {role}"


async def test_only_an_admin_gives_a_new_client_its_webhook_url(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    name = f"Hooked {new_id()}"
    body = {"name": name, "webhook_url": "https://collector.example/hook"}

    refused = await intake.post("/v1/clients", json=body, headers=tokens.manager(Scope.OPS))

    problem = assert_problem(refused, 403)
    assert problem["detail"] == "webhook_url: this needs the scope admin; the token has ops"
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name == name))
    assert stored == 0
    admin = await intake.post(
        "/v1/clients", json=body, headers=tokens.manager(Scope.OPS, Scope.ADMIN)
    )
    assert admin.json()["webhook_url"] == "https://collector.example/hook"
    plain = await intake.post("/v1/clients", json={"name": name}, headers=tokens.manager(Scope.OPS))
    assert plain.status_code == 201, plain.text


async def test_a_client_name_with_a_nul_is_refused_and_not_stored(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    name = f"Acme {new_id()}"
    response = await intake.post(
        "/v1/clients", json={"name": f"{name}\u0000"}, headers=tokens.manager()
    )
    problem = assert_problem(response, 422)
    assert problem["title"] == "Unprocessable content"
    assert problem["errors"] == [
        {
            "field": "name",
            "message": "contains a NUL character or an unpaired surrogate, which cannot be stored",
        }
    ]
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name.like(f"{name}%")))
    assert stored == 0


async def test_a_json_body_that_is_not_utf8_is_refused_naming_the_byte(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await intake.post(
        "/v1/clients",
        content=b'{"name": "Caf\xe9"}',
        headers={**tokens.manager(), "Content-Type": "application/json"},
    )
    assert assert_problem(response, 422)["errors"] == [
        {"field": "body", "message": "not UTF-8 (byte 14)"}
    ]


@pytest.mark.parametrize(
    ("content_type", "detail"),
    [
        ("text/plain", "send the body as application/json (not text/plain)"),
        ("application/x-www-form-urlencoded", "send the body as application/json (not "
         "application/x-www-form-urlencoded)"),
        ("application/json; charset=latin-1", "send the body in UTF-8"),
        (None, "send the body as application/json (with a Content-Type header)"),
    ],
)  # fmt: skip
async def test_a_json_body_sent_as_another_media_type_is_a_415_saying_how_to_send_it(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens,
    content_type: str | None, detail: str
) -> None:  # fmt: skip
    name = f"Typed Ltd {new_id()}"
    response = await intake.post(
        "/v1/clients",
        content=json.dumps({"name": name}),
        headers={**tokens.manager(), **({"Content-Type": content_type} if content_type else {})},
    )
    assert assert_problem(response, 415)["detail"] == detail
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name == name))
    assert stored == 0


async def test_registering_a_client_twice_with_the_same_key_registers_it_once(
    intake: httpx.AsyncClient, intake_db: SessionFactory, tokens: Tokens
) -> None:
    name = f"Once Ltd {new_id()}"
    headers = {**tokens.manager(), "Idempotency-Key": f"onboard-{new_id()}"}

    first = await intake.post("/v1/clients", json={"name": name}, headers=headers)
    replay = await intake.post("/v1/clients", json={"name": name}, headers=headers)

    assert first.status_code == replay.status_code == 201
    assert replay.headers["Idempotent-Replayed"] == "true"
    assert replay.json() == first.json()
    async with intake_db() as session:
        stored = await session.scalar(select(func.count()).where(Client.name == name))
    assert stored == 1

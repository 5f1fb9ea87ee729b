"""The whole loop across processes: push, claim, key, decide, adjudicate, complete."""

from typing import Any

import httpx

from bpo_common.ids import new_id
from bpo_devtools.servers import Services
from bpo_devtools.testing import Tokens, eventually

from .conftest import register_client


async def _contractor(
    http: httpx.AsyncClient, services: Services, tokens: Tokens, *skills: str
) -> dict[str, str]:
    response = await http.post(
        f"{services.url('intake')}/v1/contractors",
        json={"name": "keyer", "skills": list(skills)},
        headers=tokens.manager(),
    )
    assert response.status_code == 201, response.text
    return tokens.contractor(response.json()["id"])


async def test_double_keyed_job_is_decided_adjudicated_and_completed(
    services: Services, tokens: Tokens, http: httpx.AsyncClient
) -> None:
    intake = services.url("intake")
    skill = f"loop-{new_id().hex[-8:]}"  # keeps other tests' tasks away from these keyers
    client_id = await register_client(http, services, tokens, "Loop Ltd")
    as_client = tokens.client(client_id)
    created = await http.post(
        f"{intake}/v1/jobs",
        headers=as_client,
        json={
            "work_type": "invoice",
            "fields": [{"name": "number", "type": "string"}, {"name": "total", "type": "decimal"}],
            "qc": {"mode": "double"},
            # Due before anything other tests leave in the shared queue, so it is claimed first.
            "due_at": "1970-01-02T00:00:00Z",
            "required_skills": [skill],
            "items": [
                {"external_id": "agree", "source": {}},
                {"external_id": "differ", "source": {}},
            ],
        },
    )
    assert created.status_code == 201, created.text
    job = created.json()
    first = await _contractor(http, services, tokens, skill)
    second = await _contractor(http, services, tokens, skill)
    adjudicator = await _contractor(http, services, tokens, skill, "qc")

    async def key(headers: dict[str, str], answers: dict[str, dict[str, Any]]) -> None:
        claimed = await http.post(f"{intake}/v1/tasks/claim", json={"limit": 2}, headers=headers)
        tasks = claimed.json()["tasks"]
        assert len(tasks) == 2, claimed.text
        items = await http.get(f"{intake}/v1/jobs/{job['id']}/items", headers=as_client)
        external = {item["id"]: item["external_id"] for item in items.json()["data"]}
        for task in tasks:
            data = answers[external[task["item_id"]]]
            submitted = await http.post(
                f"{intake}/v1/tasks/{task['id']}/submit", json={"data": data}, headers=headers
            )
            assert submitted.status_code == 202, submitted.text

    await key(
        first,
        {
            "agree": {"number": "A-1", "total": "1,000.50"},
            "differ": {"number": "B-1", "total": "7"},
        },
    )
    await key(
        second,
        {"agree": {"number": "A-1", "total": "1000.5"}, "differ": {"number": "B-1", "total": "70"}},
    )

    async def adjudication() -> list[dict[str, Any]]:
        response = await http.post(
            f"{intake}/v1/tasks/claim", json={"kinds": ["adjudication"]}, headers=adjudicator
        )
        tasks: list[dict[str, Any]] = response.json()["tasks"]
        return tasks

    found: list[dict[str, Any]] = []

    async def adjudication_ready() -> bool:
        found.extend(await adjudication())
        return bool(found)

    await eventually(adjudication_ready, what="an adjudication task for the differing item")
    (task,) = found
    assert sorted(entry["data"]["total"] for entry in task["entries"]) == ["7", "70"]
    decided = await http.post(
        f"{intake}/v1/tasks/{task['id']}/submit",
        json={"data": {"number": "B-1", "total": "70.00"}},
        headers=adjudicator,
    )
    assert decided.status_code == 202, decided.text
    await http.post(f"{intake}/v1/jobs/{job['id']}/close", headers=as_client)

    async def completed() -> bool:
        response = await http.get(f"{intake}/v1/jobs/{job['id']}", headers=as_client)
        return bool(response.json()["status"] == "completed")

    await eventually(completed, what="the job to complete")
    items = (await http.get(f"{intake}/v1/jobs/{job['id']}/items", headers=as_client)).json()
    results = {item["external_id"]: item["result"] for item in items["data"]}
    assert results == {
        "agree": {"number": "A-1", "total": "1000.5"},
        "differ": {"number": "B-1", "total": "70"},
    }
    differ_id = next(item["id"] for item in items["data"] if item["external_id"] == "differ")
    decision = await http.get(
        f"{services.url('validation')}/v1/items/{differ_id}/decision", headers=as_client
    )
    body = decision.json()
    assert body["decision"] == "accepted"
    assert [d["outcome"] for d in body["history"]] == ["review", "accepted"]
    assert body["history"][0]["reason"] == "keyings differ on total"

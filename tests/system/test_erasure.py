"""Erasure across the processes: an item erased without its job and a job erased whole leave
none of their values in clear in any table of the four databases nor on the stream; every
service says when it erased its share; the job's data key is gone from intake and validation;
the events on the stream that carried their values (sealed) are replaced by copies without
them, the other item's stay as they were.

Values are those of a `pii` field (sealed at rest), of a plain one (in clear until erased) and
the name of the item's document, unique to the run and searched for (case ignored) in every
column of every table."""

import json
from typing import Any
from uuid import UUID

import asyncpg
import httpx

from bpo_common.auth import Scope
from bpo_common.contracts.sealed import holds_sealed
from bpo_common.ids import new_id
from bpo_devtools.servers import Services
from bpo_devtools.testing import TestStack, Tokens, eventually, stream_messages, tables_holding

from .access import png
from .conftest import register_client

SERVICES = ("intake", "validation", "billing", "reporting")
FIELDS = [{"name": "name", "type": "string", "pii": True}, {"name": "city", "type": "string"}]


def _values(what: str) -> dict[str, str]:
    return {"name": f"Erasable {what} {new_id().hex[-10:]}", "city": f"Town{new_id().hex[-10:]}"}


def file_name(values: dict[str, str]) -> str:
    """The name of the document an item of these values is keyed from: a person's name, as a
    scan's often is."""
    return f"{values['name'].replace(' ', '-')}.png"


class Desk:
    def __init__(self, http: httpx.AsyncClient, services: Services, tokens: Tokens) -> None:
        self.http, self.services, self.tokens = http, services, tokens
        self.skill = f"erase-{new_id().hex[-8:]}"

    def url(self, service: str, path: str) -> str:
        return f"{self.services.url(service)}{path}"

    async def job(self, client: dict[str, str], items: dict[str, dict[str, str]]) -> str:
        """A job of these items, each keyed from a document of its own named `file_name`."""
        created = await self.http.post(
            self.url("intake", "/v1/jobs"),
            headers=client,
            json={
                "work_type": "erasure",
                "fields": FIELDS,
                "qc": {"mode": "single", "review_sample_rate": "0"},
                "due_at": "1970-01-02T00:00:00Z",
                "required_skills": [self.skill],
            },
        )
        assert created.status_code == 201, created.text
        job_id = str(created.json()["id"])
        for values in items.values():
            uploaded = await self.http.post(
                self.url("intake", f"/v1/jobs/{job_id}/documents"),
                headers=client | {"Content-Type": "image/png"},
                params={"filename": file_name(values)},
                content=png(),
            )
            assert uploaded.status_code == 201, uploaded.text
        appended = await self.http.post(
            self.url("intake", f"/v1/jobs/{job_id}/items"),
            headers=client,
            json={
                "items": [
                    {
                        "external_id": key,
                        "source": {"city": values["city"]},
                        "documents": [file_name(values)],
                    }
                    for key, values in items.items()
                ]
            },
        )
        assert appended.status_code == 202, appended.text
        return job_id

    async def items(self, job_id: str, client: dict[str, str]) -> dict[str, dict[str, Any]]:
        listed = await self.http.get(self.url("intake", f"/v1/jobs/{job_id}/items"), headers=client)
        assert listed.status_code == 200, listed.text
        return {item["external_id"]: item for item in listed.json()["data"]}

    async def key_all(self, job_ids: list[str], by_item: dict[str, dict[str, str]]) -> None:
        """Key every item of the jobs (claims name each job: other modules of a run leave tasks
        anyone may claim)."""
        created = await self.http.post(
            self.url("intake", "/v1/contractors"),
            json={"name": "keyer", "skills": [self.skill]},
            headers=self.tokens.manager(),
        )
        keyer = self.tokens.contractor(created.json()["id"])
        left = dict(by_item)
        jobs = iter(job_ids * len(by_item))
        while left:
            claimed = await self.http.post(
                self.url("intake", "/v1/tasks/claim"),
                json={"limit": 10, "job_id": next(jobs)},
                headers=keyer,
            )
            tasks = claimed.json()["tasks"]
            if not tasks:
                continue
            for task in tasks:
                submitted = await self.http.post(
                    self.url("intake", f"/v1/tasks/{task['id']}/submit"),
                    json={"data": left.pop(task["item_id"])},
                    headers=keyer,
                )
                assert submitted.status_code == 202, submitted.text

    async def erasure(self, job_id: str, client: dict[str, str]) -> dict[str, Any]:
        shown = await self.http.get(
            self.url("intake", f"/v1/jobs/{job_id}/erasure"), headers=client
        )
        assert shown.status_code == 200, shown.text
        body: dict[str, Any] = shown.json()
        return body


async def test_erased_values_are_nowhere_in_clear_and_every_service_says_it_erased_them(
    services: Services, tokens: Tokens, http: httpx.AsyncClient, stack: TestStack
) -> None:
    desk = Desk(http, services, tokens)
    client_id = await register_client(http, services, tokens, "Forgetful Ltd")
    client = tokens.client(client_id)
    values = {"kept": _values("kept"), "gone": _values("gone"), "whole": _values("whole")}
    partly = await desk.job(client, {"kept": values["kept"], "gone": values["gone"]})
    whole = await desk.job(client, {"whole": values["whole"]})
    listed = {**await desk.items(partly, client), **await desk.items(whole, client)}
    ids = {key: item["id"] for key, item in listed.items()}
    await desk.key_all([partly, whole], {ids[key]: values[key] for key in values})

    async def completed() -> bool:
        items = {**await desk.items(partly, client), **await desk.items(whole, client)}
        return all(item["status"] == "completed" for item in items.values())

    await eventually(completed, what="every item completed")

    other = tokens.client(await register_client(http, services, tokens, "Nosy Ltd"))
    foreign = await http.delete(desk.url("intake", f"/v1/jobs/{whole}/data"), headers=other)
    assert foreign.status_code == 404, foreign.text
    ops = tokens.manager(Scope.OPS)
    refused = await http.delete(desk.url("intake", f"/v1/jobs/{whole}/data"), headers=ops)
    assert refused.status_code == 403, refused.text

    item = await http.delete(desk.url("intake", f"/v1/items/{ids['gone']}/data"), headers=client)
    assert item.status_code == 202, item.text
    admin = tokens.manager(Scope.ADMIN)
    job = await http.delete(desk.url("intake", f"/v1/jobs/{whole}/data"), headers=admin)
    assert job.status_code == 202, job.text

    async def all_erased() -> bool:
        states = [await desk.erasure(job_id, client) for job_id in (partly, whole)]
        return all(state[service]["erased_at"] for state in states for service in SERVICES)

    await eventually(all_erased, what="every service erased the item and the job")
    assert (await desk.erasure(partly, client))["item_ids"] == [ids["gone"]]
    assert (await desk.erasure(whole, client))["item_ids"] is None

    erased = [v.split()[-1] for key in ("gone", "whole") for v in values[key].values()]
    erased += [file_name(values[key]) for key in ("gone", "whole")]
    kept = [values["kept"]["city"], file_name(values["kept"])]
    found = await tables_holding(stack, SERVICES, [*erased, *kept])
    assert [secret for secret in erased if secret in found] == [], found
    for value in kept:
        holders = {service for service, _ in found.get(value, [])}
        assert {"intake", "validation"} <= holders, f"the item kept keeps {value}"
    stream = await _on_the_stream(stack)
    assert [secret for secret in erased if secret.lower() in stream] == []
    assert await _keys_left(stack, UUID(whole)) == {"intake": 0, "validation": 0}

    async def off_the_stream() -> bool:
        states = [await desk.erasure(job_id, client) for job_id in (partly, whole)]
        return all(state["stream"]["erased_at"] for state in states)

    await eventually(off_the_stream, what="the erased values left the stream's events")
    sealed = await _sealed_on_the_stream(stack, {ids[key] for key in values})
    assert sealed[ids["gone"]] == sealed[ids["whole"]] == 0, sealed
    assert sealed[ids["kept"]] >= 2, "the item kept keeps its events (a keying, its result)"


async def _on_the_stream(stack: TestStack) -> str:
    """Every message on the stream as stored, lower case."""
    messages = await stream_messages(stack.urls.nats_url)
    return "\n".join(message.decode(errors="replace") for message in messages).lower()


async def _sealed_on_the_stream(stack: TestStack, item_ids: set[str]) -> dict[str, int]:
    """For each item, how many events on the stream carry its values sealed."""
    counts = dict.fromkeys(item_ids, 0)
    for message in await stream_messages(stack.urls.nats_url):
        try:
            data = json.loads(message).get("data", {})
        except (ValueError, AttributeError):
            continue  # not an event
        if data.get("item_id") in counts and holds_sealed(data):
            counts[data["item_id"]] += 1
    return counts


async def _keys_left(stack: TestStack, job_id: UUID) -> dict[str, int]:
    queries = {
        "intake": "SELECT count(*) FROM job WHERE id = $1 AND data_key IS NOT NULL",
        "validation": "SELECT count(*) FROM job_data_key WHERE job_id = $1",
    }
    left = {}
    for service, query in queries.items():
        connection = await asyncpg.connect(stack.admin_dsn(f"bpo_{service}"))
        try:
            left[service] = await connection.fetchval(query, job_id)
        finally:
            await connection.close()
    return left

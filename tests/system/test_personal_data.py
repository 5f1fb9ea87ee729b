"""Personal data across the processes: jobs with `pii` fields, keyed once and twice, with a
lookup on a pii field, keep the values sealed in intake's and validation's databases and on the
stream; the client, a manager with the pii scope and the holder of a task's lease see them; a
manager without the scope sees them masked."""

import csv
import io
from collections.abc import Iterable
from contextlib import suppress
from typing import Any
from uuid import UUID

import asyncpg
import httpx
from pydantic import ValidationError

from bpo_common.auth import Scope
from bpo_common.crypto import LocalKeyRing, open_data_key
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_common.rules import MASK
from bpo_devtools.servers import Services
from bpo_devtools.testing import (
    TestStack,
    Tokens,
    eventually,
    opened,
    stream_messages,
    tables_holding,
)

from .conftest import register_client

# What is keyed, unique to the run: searched for (case ignored) in every place values may go.
NAME = f"Quayle {new_id().hex[-10:]}"
SSN = f"SSN-{new_id().hex[-10:].upper()}"
MISSED = f"SSN-{new_id().hex[-10:].upper()}"  # an SSN the client's reference data lacks
SECRETS = (NAME.split()[1], SSN[4:], MISSED[4:])
FIELDS = [
    {"name": "name", "type": "string", "pii": True},
    {
        "name": "ssn",
        "type": "string",
        "case": "upper",
        "pii": True,
        "lookup": {"dataset": "people", "checks": [{"field": "name", "column": "name"}]},
    },
    {"name": "total", "type": "decimal"},
]
# The client's reference data is its own upload, kept as it gave it: lookups find keyed values
# in it. What is sealed is what was keyed and decided.
REFERENCE_TABLES = {"reference_dataset", "reference_row"}


class Floor:
    """The client, its job's keyers and reviewer, and managers with and without the pii scope."""

    def __init__(self, http: httpx.AsyncClient, services: Services, tokens: Tokens) -> None:
        self.http, self.services, self.tokens = http, services, tokens
        self.skill = f"pii-{new_id().hex[-8:]}"

    def url(self, service: str, path: str) -> str:
        return f"{self.services.url(service)}{path}"

    async def contractor(self, *skills: str) -> dict[str, str]:
        created = await self.http.post(
            self.url("intake", "/v1/contractors"),
            json={"name": "keyer", "skills": [self.skill, *skills]},
            headers=self.tokens.manager(),
        )
        assert created.status_code == 201, created.text
        return self.tokens.contractor(created.json()["id"])

    async def job(self, client: dict[str, str], mode: str, items: list[dict[str, Any]]) -> str:
        created = await self.http.post(
            self.url("intake", "/v1/jobs"),
            headers=client,
            json={
                "work_type": "claims",
                "fields": FIELDS,
                "qc": {"mode": mode},
                "due_at": "1970-01-02T00:00:00Z",
                "required_skills": [self.skill],
                "items": items,
            },
        )
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    async def claim(self, keyer: dict[str, str], **body: Any) -> list[dict[str, Any]]:
        claimed = await self.http.post(
            self.url("intake", "/v1/tasks/claim"), json={"limit": 5, **body}, headers=keyer
        )
        assert claimed.status_code == 200, claimed.text
        tasks: list[dict[str, Any]] = claimed.json()["tasks"]
        return tasks

    async def submit(self, keyer: dict[str, str], task: dict[str, Any], data: Any) -> None:
        submitted = await self.http.post(
            self.url("intake", f"/v1/tasks/{task['id']}/submit"), json={"data": data}, headers=keyer
        )
        assert submitted.status_code == 202, submitted.text

    async def items(self, job_id: str, headers: dict[str, str]) -> dict[str, dict[str, Any]]:
        listed = await self.http.get(
            self.url("intake", f"/v1/jobs/{job_id}/items"), headers=headers
        )
        assert listed.status_code == 200, listed.text
        return {item["external_id"]: item for item in listed.json()["data"]}


async def test_personal_values_are_sealed_at_rest_and_on_the_stream_and_masked_without_pii(
    services: Services, tokens: Tokens, http: httpx.AsyncClient, stack: TestStack
) -> None:
    floor = Floor(http, services, tokens)
    client_id = await register_client(http, services, tokens, "Personal Ltd")
    client = tokens.client(client_id)
    people = f"ssn,name\n{SSN},{NAME}\n"
    uploaded = await http.put(
        floor.url("validation", "/v1/reference-datasets/people"),
        params={"key": "ssn"},
        content=people,
        headers={**client, "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    twice = await floor.job(
        client,
        "double",
        [{"external_id": "agree", "source": {}}, {"external_id": "miss", "source": {}}],
    )
    once = await floor.job(
        client,
        "single",
        [
            {"external_id": "plain", "source": {"name": NAME}},
            {
                "external_id": "control",
                "source": {},
                "golden": {"name": NAME, "ssn": SSN, "total": "3"},
            },
        ],
    )
    first, second = await floor.contractor(), await floor.contractor()
    reviewer = await floor.contractor("qc")
    # Keyed differently, equal once normalized: double keying agrees on pii fields too.
    typed = {
        "agree": ({"name": f"  {NAME} ", "ssn": SSN.lower(), "total": "10.50"},
                  {"name": NAME, "ssn": SSN, "total": "10.5"}),
        "miss": ({"name": NAME, "ssn": MISSED, "total": "2"},) * 2,
    }  # fmt: skip
    for keyer, which in ((first, 0), (second, 1)):
        tasks = await floor.claim(keyer, job_id=twice)
        items = await floor.items(twice, client)
        ids = {item["id"]: external for external, item in items.items()}
        for task in tasks:
            await floor.submit(keyer, task, typed[ids[task["item_id"]]][which])
    for task in await floor.claim(first, job_id=once):
        if task["source"]:
            assert task["source"] == {"name": NAME}, "the lease holder sees the pre-fill"
        await floor.submit(first, task, {"name": NAME, "ssn": SSN, "total": "3"})

    review: list[dict[str, Any]] = []

    async def reviewed() -> bool:
        review.extend(await floor.claim(reviewer, kinds=["review"], job_id=twice))
        return bool(review)

    await eventually(reviewed, what="a review of the item whose SSN is not in the reference data")
    (task,) = review
    assert [entry["data"]["name"] for entry in task["entries"]] == [NAME, NAME]
    await floor.submit(reviewer, task, {"name": NAME, "ssn": MISSED, "total": "2"})

    async def all_completed() -> bool:
        items = [*(await floor.items(twice, client)).values()]
        items += (await floor.items(once, client)).values()
        return all(item["status"] == "completed" for item in items)

    await eventually(all_completed, what="every item completed")

    await _the_client_and_a_pii_manager_see_values(floor, twice, client)
    await _a_manager_without_pii_sees_them_masked(floor, twice, once)
    held = await tables_holding(stack, ["intake", "validation"], SECRETS, REFERENCE_TABLES)
    assert held == {}, f"keyed values in clear: {held}"
    await _no_event_on_the_stream_holds_a_value(stack, {twice, once})


async def _the_client_and_a_pii_manager_see_values(
    floor: Floor, job_id: str, client: dict[str, str]
) -> None:
    for reader in (client, floor.tokens.manager(Scope.OPS, Scope.PII)):
        items = await floor.items(job_id, reader)
        assert items["agree"]["result"] == {"name": NAME, "ssn": SSN, "total": "10.5"}
        assert items["miss"]["result"] == {"name": NAME, "ssn": MISSED, "total": "2"}
        results = await floor.http.get(
            floor.url("intake", f"/v1/jobs/{job_id}/results"),
            headers={**reader, "Accept": "text/csv"},
        )
        assert {row["ssn"] for row in csv.DictReader(io.StringIO(results.text))} == {SSN, MISSED}
        decision = await floor.http.get(
            floor.url("validation", f"/v1/items/{items['agree']['id']}/decision"), headers=reader
        )
        body = decision.json()
        assert body["result"]["name"] == NAME
        assert [entry["data"]["ssn"] for entry in body["entries"]] == [SSN, SSN]
        assert next(row for row in body["comparison"] if row["field"] == "ssn")["values"] == [
            SSN,
            SSN,
        ]


async def _a_manager_without_pii_sees_them_masked(floor: Floor, *job_ids: str) -> None:
    ops = floor.tokens.manager(Scope.OPS)
    for job_id in job_ids:
        items = await floor.items(job_id, ops)
        for item in items.values():
            assert item["result"]["name"] == item["result"]["ssn"] == MASK
            assert item["source"].get("name") in (None, MASK)
        _assert_no_value(str(items))
        for accept in ("application/json", "application/x-ndjson", "text/csv"):
            results = await floor.http.get(
                floor.url("intake", f"/v1/jobs/{job_id}/results"),
                headers={**ops, "Accept": accept},
            )
            assert results.status_code == 200, results.text
            assert MASK in results.text
            _assert_no_value(results.text)
        for item in items.values():
            decision = await floor.http.get(
                floor.url("validation", f"/v1/items/{item['id']}/decision"), headers=ops
            )
            assert decision.status_code == 200, decision.text
            assert decision.json()["result"]["ssn"] == MASK
            _assert_no_value(decision.text)


def _assert_no_value(text: str) -> None:
    found = [secret for secret in SECRETS if secret.lower() in text.lower()]
    assert found == [], f"a keyed value in clear: {found}"


async def _no_event_on_the_stream_holds_a_value(stack: TestStack, job_ids: Iterable[str]) -> None:
    """Nothing on the stream is clear, and what the jobs' events carry sealed opens with their
    data keys to the values."""
    messages = await stream_messages(stack.urls.nats_url)
    for message in messages:
        _assert_no_value(message.decode(errors="replace"))
    # Other modules of the run leave messages that are not events (a poison message's test).
    events = []
    for message in messages:
        with suppress(ValidationError):
            events.append(Envelope.model_validate_json(message))
    ours = [e for e in events if e.data.get("job_id") in set(job_ids)]
    keys = await _data_keys(stack, job_ids)
    types = {e.type for e in ours}
    assert {"bpo.intake.task.submitted", "bpo.validation.item.accepted"} <= types
    assert "bpo.validation.review.required" in types
    said = " ".join(_opened(e, keys).model_dump_json() for e in ours)
    assert NAME in said
    assert SSN in said
    assert MISSED in said


def _opened(envelope: Envelope, keys: dict[str, Any]) -> Envelope:
    return opened(envelope, keys[envelope.data["job_id"]])


async def _data_keys(stack: TestStack, job_ids: Iterable[str]) -> dict[str, Any]:
    """The jobs' data keys, unwrapped from intake's database with the run's KEK."""
    ring = LocalKeyRing.parse(stack.kek)
    connection = await asyncpg.connect(stack.admin_dsn("bpo_intake"))
    try:
        rows = await connection.fetch(
            "SELECT id, data_key FROM job WHERE id = ANY($1::uuid[])",
            [UUID(job_id) for job_id in job_ids],
        )
    finally:
        await connection.close()
    return {str(row["id"]): open_data_key(ring, row["id"], row["data_key"]) for row in rows}

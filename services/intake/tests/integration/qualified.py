"""What the tests of qualifications share: a work type of a test's own, its jobs, and a
qualification of control items for it."""

from typing import Any
from uuid import UUID

import httpx

from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens

from .conftest import create_job, register_client
from .controlled import FIELDS, known_item


def own_work_type() -> str:
    """A work type of the test's own: a qualification holds for every job of its type."""
    return f"claims-{new_id().hex[-10:]}"


def skill_for(work_type: str) -> str:
    """What the test's jobs of the work type require besides: keeps other tests away."""
    return f"only-{work_type}"


async def single_job(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    client_id: UUID,
    work_type: str,
    items: list[dict[str, Any]],
) -> dict[str, Any]:
    return await create_job(
        intake,
        tokens,
        client_id,
        work_type=work_type,
        fields=FIELDS,
        qc={"mode": "single"},
        sla_hours=None,
        required_skills=[skill_for(work_type)],
        items=items,
    )


def real_items(n: int) -> list[dict[str, Any]]:
    return [{"external_id": f"real-{i}", "source": {"holder": f"Real {i}"}} for i in range(n)]


async def qualification(
    intake: httpx.AsyncClient,
    tokens: Tokens,
    controls: int,
    *,
    work_type: str | None = None,
    **terms: Any,
) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """A work type (of the test's own, unless named) requiring a qualification of `controls`
    items, and a client's job of it waiting with two real items: (work type, the set's job,
    the waiting job)."""
    work_type = work_type or own_work_type()
    client_id = await register_client(intake, tokens)
    known = await single_job(
        intake, tokens, client_id, work_type, [known_item(n) for n in range(controls)]
    )
    body = {"job_id": known["id"], **terms}
    response = await intake.put(
        f"/v1/work-types/{work_type}/qualification", json=body, headers=tokens.manager()
    )
    assert response.status_code == 200, response.text
    waiting = await single_job(intake, tokens, client_id, work_type, real_items(2))
    return work_type, known, waiting


async def attempts_of(
    intake: httpx.AsyncClient, keyer: tuple[UUID, dict[str, str]]
) -> list[dict[str, Any]]:
    response = await intake.get(f"/v1/contractors/{keyer[0]}/qualifications", headers=keyer[1])
    assert response.status_code == 200, response.text
    attempts: list[dict[str, Any]] = response.json()["data"]
    return attempts

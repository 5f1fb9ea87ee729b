"""An erasure empties the sealed values of the service's dead letters of what it erased, as
it empties the stream's copies; the other dead letters stay as they were."""

import json
from typing import Any
from uuid import UUID

from sqlalchemy import delete, insert, select

from bpo_common.clock import utcnow
from bpo_common.erasure import Erased, forget_dead_letters
from bpo_common.ids import new_id
from bpo_common.tables import dead_letter

from .conftest import Plumbing

SEALED = "pii:v1:k1:c2VjcmV0"
NAMES = ["Jane-Doe-passport.pdf"]
ERROR = "ValueError('amount 12.50 is not a date')"


def _envelope(job_id: UUID, item_id: UUID) -> bytes:
    # The names of the item's documents in clear, as intake sent them before it sealed them.
    data: dict[str, Any] = {"job_id": str(job_id), "item_id": str(item_id), "data": SEALED}
    data["kind"] = "entry"
    data["documents"] = NAMES
    return json.dumps(
        {
            "id": str(new_id()),
            "type": "bpo.intake.task.submitted",
            "source": "intake",
            "time": utcnow().isoformat(),
            "version": 1,
            "data": data,
        }
    ).encode()


async def _letters(plumbing: Plumbing, payloads: list[bytes]) -> list[UUID]:
    ids = [new_id() for _ in payloads]
    rows = [
        {
            "id": letter_id,
            "consumer": "erasure-test",
            "subject": "bpo.intake.task.submitted",
            "payload": payload,
            "deliveries": 6,
            "error": ERROR,
        }
        for letter_id, payload in zip(ids, payloads, strict=True)
    ]
    async with plumbing.sessions() as session, session.begin():
        await session.execute(insert(dead_letter), rows)
    return ids


async def _read(plumbing: Plumbing, ids: list[UUID]) -> list[tuple[dict[str, Any] | None, str]]:
    async with plumbing.sessions() as session:
        query = select(dead_letter.c.id, dead_letter.c.payload, dead_letter.c.error).where(
            dead_letter.c.id.in_(ids)
        )
        found = {row.id: (bytes(row.payload), row.error) for row in await session.execute(query)}
    read = []
    for letter_id in ids:
        payload, error = found[letter_id]
        try:
            read.append((json.loads(payload)["data"], error))
        except ValueError:
            read.append((None, error))
    return read


async def test_an_erasure_empties_its_dead_letters_and_leaves_the_others(
    plumbing: Plumbing,
) -> None:
    job, other_job = new_id(), new_id()
    item, sibling, stranger = new_id(), new_id(), new_id()
    garbage = f"{{not json {item}".encode()
    ids = await _letters(
        plumbing,
        [_envelope(job, item), _envelope(job, sibling), _envelope(other_job, stranger), garbage],
    )
    try:
        async with plumbing.sessions() as session, session.begin():
            await forget_dead_letters(session, Erased.by(job, [item]))
        erased, kept, elsewhere, not_an_event = await _read(plumbing, ids)
        keyed = {"job_id": str(job), "kind": "entry"}
        gone = {"data": None, "documents": None}
        assert erased == ({**keyed, "item_id": str(item), **gone}, "ValueError")
        assert kept == (
            {**keyed, "item_id": str(sibling), "data": SEALED, "documents": NAMES},
            ERROR,
        )
        untouched = (
            {
                "job_id": str(other_job),
                "item_id": str(stranger),
                "data": SEALED,
                "kind": "entry",
                "documents": NAMES,
            },
            ERROR,
        )
        assert elsewhere == untouched
        assert not_an_event == (None, ERROR)

        async with plumbing.sessions() as session, session.begin():
            await forget_dead_letters(session, Erased.by(job, None))
        _, kept, elsewhere, _ = await _read(plumbing, ids)
        assert kept == ({**keyed, "item_id": str(sibling), **gone}, "ValueError")
        assert elsewhere == untouched
    finally:
        async with plumbing.sessions() as session, session.begin():
            await session.execute(delete(dead_letter).where(dead_letter.c.id.in_(ids)))

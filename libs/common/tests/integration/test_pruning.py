"""Sent outbox rows, and the answers kept for Idempotency-Key replays, are deleted once they
are older than the service keeps them; rows not sent yet, and the recent, stay."""

import secrets
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, insert, select

from bpo_common.clock import utcnow
from bpo_common.pruning import Pruner
from bpo_common.tables import idempotency_key, outbox_event

from .conftest import Plumbing


def _id_made_at(when: datetime) -> UUID:
    """A UUIDv7 of that millisecond, as `new_id` would have made it then."""
    millisecond = int(when.timestamp() * 1000)
    return UUID(int=millisecond << 80 | 0x7 << 76 | 0b10 << 62 | secrets.randbits(62))


async def test_rows_sent_longer_ago_than_kept_are_deleted_and_no_others(
    plumbing: Plumbing,
) -> None:
    now = utcnow()
    two_hours_ago, a_minute_ago = now - timedelta(hours=2), now - timedelta(minutes=1)
    rows = {
        "sent long ago": (_id_made_at(two_hours_ago), two_hours_ago),
        "made long ago, sent lately": (_id_made_at(two_hours_ago), a_minute_ago),
        "never sent": (_id_made_at(two_hours_ago), None),
        "sent lately": (_id_made_at(a_minute_ago), a_minute_ago),
    }
    async with plumbing.sessions() as session, session.begin():
        await session.execute(
            insert(outbox_event),
            [
                {"id": row_id, "subject": "bpo.test.pruned", "payload": b"{}", "sent_at": sent}
                for row_id, sent in rows.values()
            ],
        )
    hour, day = timedelta(hours=1), timedelta(days=1)
    pruner = Pruner(plumbing.sessions, outbox_keep=hour, idempotency_keep=day, batch_size=10**6)

    while await pruner.prune_once():
        pass  # other tests' rows of hours ago, if any

    ids = [row_id for row_id, _ in rows.values()]
    async with plumbing.sessions() as session, session.begin():
        query = select(outbox_event.c.id).where(outbox_event.c.id.in_(ids))
        left = set((await session.execute(query)).scalars())
        await session.execute(delete(outbox_event).where(outbox_event.c.id.in_(ids)))
    assert {name for name, (row_id, _) in rows.items() if row_id in left} == {
        "made long ago, sent lately",
        "never sent",
        "sent lately",
    }


async def test_an_idempotency_key_answered_longer_ago_than_kept_is_forgotten(
    plumbing: Plumbing,
) -> None:
    now = utcnow()
    principal = f"client:{secrets.token_hex(8)}"
    answered = {"a day and more ago": now - timedelta(hours=25), "lately": now}
    async with plumbing.sessions() as session, session.begin():
        await session.execute(
            insert(idempotency_key),
            [
                {
                    "principal": principal,
                    "key": key,
                    "request_hash": "0" * 64,
                    "status_code": 201,
                    "response_body": {"filename": "Jane-Doe.pdf"},
                    "created_at": at,
                }
                for key, at in answered.items()
            ],
        )
    hour, day = timedelta(hours=1), timedelta(days=1)
    pruner = Pruner(plumbing.sessions, outbox_keep=hour, idempotency_keep=day, batch_size=10**6)

    while await pruner.prune_once():
        pass

    async with plumbing.sessions() as session, session.begin():
        mine = idempotency_key.c.principal == principal
        left = set((await session.execute(select(idempotency_key.c.key).where(mine))).scalars())
        await session.execute(delete(idempotency_key).where(mine))
    assert left == {"lately"}

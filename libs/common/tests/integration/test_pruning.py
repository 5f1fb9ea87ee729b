"""Sent outbox rows, the answers kept for Idempotency-Key replays and the inbox's record of
events the stream no longer holds are deleted once they are older than the service keeps them;
rows not sent yet, and the recent, stay."""

import secrets
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy import delete, insert, select

from bpo_common.clock import utcnow
from bpo_common.pruning import Pruner
from bpo_common.tables import idempotency_key, inbox_event, outbox_event

from .conftest import Plumbing


def _id_made_at(when: datetime) -> UUID:
    """A UUIDv7 of that millisecond, as `new_id` would have made it then."""
    millisecond = int(when.timestamp() * 1000)
    return UUID(int=millisecond << 80 | 0x7 << 76 | 0b10 << 62 | secrets.randbits(62))


async def _prune(
    plumbing: Plumbing, *, stream_max_age: timedelta | None = None, consumers: Sequence[str] = ()
) -> None:
    """Prune as a service keeping outbox rows an hour and idempotency answers a day would,
    until nothing old is left (other tests' rows of hours ago too, if any)."""
    pruner = Pruner(
        plumbing.sessions,
        outbox_keep=timedelta(hours=1),
        idempotency_keep=timedelta(days=1),
        stream_max_age=stream_max_age,
        consumers=consumers,
        batch_size=10**6,
    )
    while await pruner.prune_once():
        pass


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
    await _prune(plumbing)

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
    await _prune(plumbing)

    async with plumbing.sessions() as session, session.begin():
        mine = idempotency_key.c.principal == principal
        left = set((await session.execute(select(idempotency_key.c.key).where(mine))).scalars())
        await session.execute(delete(idempotency_key).where(mine))
    assert left == {"lately"}


async def test_an_event_the_stream_no_longer_holds_is_forgotten_by_the_inbox(
    plumbing: Plumbing,
) -> None:
    now = utcnow()
    consumer, other = f"pruned-{secrets.token_hex(4)}", f"kept-{secrets.token_hex(4)}"
    long_ago, lately = now - timedelta(days=40), now - timedelta(days=2)
    rows = {
        "received long ago": (consumer, _id_made_at(long_ago), long_ago),
        # Made long ago, received lately: the stream holds it from when it was sent.
        "sent late": (consumer, _id_made_at(long_ago), lately),
        "received lately": (consumer, _id_made_at(lately), lately),
        "another consumer's": (other, _id_made_at(long_ago), long_ago),
    }
    async with plumbing.sessions() as session, session.begin():
        await session.execute(
            insert(inbox_event),
            [
                {"consumer": name, "event_id": event_id, "received_at": at}
                for name, event_id, at in rows.values()
            ],
        )
    await _prune(plumbing, stream_max_age=timedelta(days=30), consumers=[consumer])

    async with plumbing.sessions() as session, session.begin():
        mine = inbox_event.c.consumer.in_([consumer, other])
        query = select(inbox_event.c.consumer, inbox_event.c.event_id).where(mine)
        left = {(row.consumer, row.event_id) for row in await session.execute(query)}
        await session.execute(delete(inbox_event).where(mine))
    assert {name for name, (c, event_id, _) in rows.items() if (c, event_id) in left} == {
        "sent late",
        "received lately",
        "another consumer's",
    }


async def test_an_inbox_is_kept_whole_while_the_stream_keeps_every_event(
    plumbing: Plumbing,
) -> None:
    consumer = f"kept-{secrets.token_hex(4)}"
    ten_years_ago = utcnow() - timedelta(days=3650)
    event_id = _id_made_at(ten_years_ago)
    async with plumbing.sessions() as session, session.begin():
        await session.execute(
            insert(inbox_event),
            {"consumer": consumer, "event_id": event_id, "received_at": ten_years_ago},
        )
    await _prune(plumbing, consumers=[consumer])

    async with plumbing.sessions() as session, session.begin():
        mine = inbox_event.c.consumer == consumer
        left = list((await session.execute(select(inbox_event.c.event_id).where(mine))).scalars())
        await session.execute(delete(inbox_event).where(mine))
    assert left == [event_id]

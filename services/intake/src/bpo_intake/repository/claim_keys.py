"""A claim's Idempotency-Key: the tasks a contractor's claim sent with a key leased, by their
ids alone, and those of them the contractor still holds, read as a claim gives its tasks."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ARRAY,
    Column,
    DateTime,
    PrimaryKeyConstraint,
    String,
    Table,
    Uuid,
    delete,
    update,
)
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bpo_common.db import driver_connection
from bpo_common.idempotency import RequestKey
from bpo_intake.models import metadata
from bpo_intake.repository.tasks import SHOWS_SUGGESTIONS

# Ids and a hash only: never the answer, whose personal values are opened (an erasure need not
# reach this table). Kept as long as the platform keeps an Idempotency-Key's answer, and pruned
# with those (bpo_common.pruning).
CLAIM_KEY = Table(
    "claim_key",
    metadata,
    Column("contractor_id", Uuid, nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("task_ids", ARRAY(Uuid), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    # Null while the claim is being made: set as its answer commits.
    Column("answered_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("contractor_id", "key", name="pk_claim_key"),
)


# How long a claim kept under a key may still be being made (its answer takes milliseconds, a
# slow data key some seconds). A row pending for longer is a claim whose process ended after
# its leases committed and before its answer did: those leases are its answer, for the tasks
# would otherwise be held by nobody until their leases ran out.
BEING_MADE_FOR = timedelta(seconds=15)


@dataclass(frozen=True)
class KeptClaim:
    """A claim sent earlier with the key: the hash of its request, the tasks it gave, and
    whether they are final: its answer committed, or it never will (pending past
    BEING_MADE_FOR); else the claim is still being made, or failing."""

    request_hash: str
    task_ids: list[UUID]
    final: bool


_KEPT = """
    SELECT request_hash, task_ids, answered_at IS NOT NULL OR created_at <= $4 AS final
    FROM claim_key
    WHERE contractor_id = $1 AND key = $2 AND created_at > $3
    """

# Pending until the claim's answer commits. Over a claim kept past its time that the pruner has
# not deleted yet.
_KEEP = """
    INSERT INTO claim_key (contractor_id, key, request_hash, task_ids, created_at)
    VALUES ($1, $2, $3, $4, $5)
    ON CONFLICT ON CONSTRAINT pk_claim_key DO UPDATE
    SET request_hash = excluded.request_hash, task_ids = excluded.task_ids,
        created_at = excluded.created_at, answered_at = NULL
    """


async def kept(
    driver: Any, contractor_id: UUID, key: RequestKey, now: datetime
) -> KeptClaim | None:
    """The claim kept under the contractor's key, on the claim's driver connection (in the
    transaction of its leases, under the contractor's claims lock)."""
    row = await driver.fetchrow(_KEPT, contractor_id, key.key, key.kept_since, now - BEING_MADE_FOR)
    if row is None:
        return None
    return KeptClaim(row["request_hash"], list(row["task_ids"]), row["final"])


async def keep(
    driver: Any, contractor_id: UUID, key: RequestKey, task_ids: Sequence[UUID], now: datetime
) -> None:
    """Keep the tasks a claim leased under its key, in the transaction of the leases."""
    await driver.execute(_KEEP, contractor_id, key.key, key.request_hash, list(task_ids), now)


def _of(contractor_id: UUID, key: RequestKey) -> Any:
    return (CLAIM_KEY.c.contractor_id == contractor_id) & (CLAIM_KEY.c.key == key.key)


async def answered(
    session: AsyncSession,
    contractor_id: UUID,
    key: RequestKey,
    task_ids: Sequence[UUID],
    now: datetime,
) -> None:
    """The tasks the claim answered with (a control in place of one it leased, a
    qualification's copy more), its answer final, in the claim's transaction."""
    await session.execute(
        update(CLAIM_KEY)
        .where(_of(contractor_id, key))
        .values(task_ids=list(task_ids), answered_at=now)
    )


async def forget(
    session: AsyncSession, contractor_id: UUID, key: RequestKey, created_at: datetime
) -> None:
    """Forget a claim that failed, on a connection of its own (the claim's transaction is
    failing): sent again, it claims afresh. Only its own row, pending: a claim of the key
    sent again once this one's row was past its time may have replaced it."""
    engine = session.bind
    assert isinstance(engine, AsyncEngine), "sessions are bound to the service's engine"
    async with engine.begin() as connection:
        await connection.execute(
            delete(CLAIM_KEY).where(
                _of(contractor_id, key),
                CLAIM_KEY.c.created_at == created_at,
                CLAIM_KEY.c.answered_at.is_(None),
            )
        )


# As the claim's statement gives a task (repository.claims), its suggestions as it showed them
# (those made before it was claimed); in the order of `task_ids`. Only a constant fragment is
# put into the text.
_HELD = f"""
    SELECT task.id, task.kind, task.job_id, task.item_id, task.entries, task.differing,
           task.reason, task.keyed_fields, task.lease_expires_at, item.source, item.documents,
           job.work_type, job.fields, job.rules, job.match, job.instructions, job.data_key,
           CASE WHEN {SHOWS_SUGGESTIONS.format(task="task")} THEN item.suggestions END
               AS suggestions
    FROM unnest($2::uuid[]) WITH ORDINALITY AS kept(id, n)
    JOIN task ON task.id = kept.id
    JOIN item ON item.id = task.item_id
    JOIN job ON job.id = task.job_id
    WHERE task.status = 'leased' AND task.contractor_id = $1 AND task.lease_expires_at > $3
    ORDER BY kept.n
    """  # noqa: S608


async def held(
    session: AsyncSession, contractor_id: UUID, task_ids: Sequence[UUID], now: datetime
) -> list[dict[str, Any]]:
    """Those of the tasks the contractor still holds (leased to them, the lease not over: not
    submitted, given back or run out), as the claim's statement gives them."""
    driver = await driver_connection(session, in_transaction=True)
    return [dict(row) for row in await driver.fetch(_HELD, contractor_id, list(task_ids), now)]

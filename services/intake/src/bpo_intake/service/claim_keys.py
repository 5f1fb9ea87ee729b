"""A claim's Idempotency-Key: a claim whose answer was lost (no answer, a gateway's timeout)
sent again with its key gives the tasks the first one leased that the contractor still holds,
shown as a claim shows them, and leases nothing more; its tasks would otherwise stay held by
nobody until their leases ran out, and count as the keyer's expiries.

Only the tasks' ids are kept under the key (repository.claim_keys), never the answer: it holds
personal values opened, and a task given back, submitted or run out since is left out of the
answer again. Claims with one key are serialized on the contractor's claims lock: one sent
while the first still runs waits for it, and is answered as a claim sent again. The ids are
kept as the claim's leases commit, before its answer is made (a control may take a task's
place, the answer may fail and give the leases back): until the answer commits the key's row
is pending, and a claim sent again that still finds it so once it has waited ANSWER_AWAITED
is a 503, to be sent again in a moment, rather than an answer that may not hold; one pending
past BEING_MADE_FOR is a claim whose process ended between its leases and its answer, and
its leases are its answer.
"""

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from time import monotonic
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.crypto import DataKeys
from bpo_common.errors import Unavailable
from bpo_common.idempotency import RequestKey, check_same_request
from bpo_intake.domain.links import PageLinks
from bpo_intake.repository import claim_keys as repository
from bpo_intake.repository import claims
from bpo_intake.repository.claim_keys import KeptClaim
from bpo_intake.schemas import TaskOut
from bpo_intake.service import claimed, contractors

# How long a claim sent again waits for the first's answer to be made (milliseconds, as a
# rule) before its 503.
ANSWER_AWAITED = timedelta(seconds=2)
_LOOK_AGAIN_S = 0.02


@dataclass(frozen=True)
class Claimed:
    """A claim's tasks; `replayed`: the answer to a claim sent again with its key."""

    tasks: list[TaskOut]
    replayed: bool = False


async def replay(
    session: AsyncSession,
    contractor_id: UUID,
    key: RequestKey,
    kept: KeptClaim,
    *,
    links: PageLinks,
    keys: DataKeys,
    integers_as_text: bool,
    now: datetime,
) -> Claimed:
    """The claim kept under the key, answered again: those of its tasks the contractor still
    holds; a 422 naming the key if it was sent with another body, a 503 while that claim is
    still being made, and a 403 saying why to one who may no longer work, as a claim's."""
    check_same_request(kept.request_hash, key.request_hash)
    if not kept.final:
        kept = await _final(session, contractor_id, key, now)
    rows = await repository.held(session, contractor_id, kept.task_ids, now)
    if not rows:
        # As a claim that leased nothing: one who may not work (suspended since) is told why.
        await contractors.refuse_unless_working(session, contractor_id)
    tasks = await claimed.shown(
        session, contractor_id, rows, links=links, keys=keys, integers_as_text=integers_as_text
    )
    return Claimed(tasks, replayed=True)


async def _final(
    session: AsyncSession, contractor_id: UUID, key: RequestKey, now: datetime
) -> KeptClaim:
    """The claim under the key once its answer is made. Its leases committed, the claim takes
    the claims lock again to make its answer, final once it lets go; this may take that lock
    first, so it looks again in a moment, for up to ANSWER_AWAITED; then a 503 (the claim
    failing, or slow). Its answer is then read under the claims lock, as a claim's."""
    deadline = monotonic() + ANSWER_AWAITED.total_seconds()
    found = await claims.kept_once_free(session, contractor_id, key, now)
    while found is not None and not found.final and monotonic() < deadline:
        await asyncio.sleep(_LOOK_AGAIN_S)
        found = await claims.kept_once_free(session, contractor_id, key, now)
    if found is None or not found.final:
        raise Unavailable(
            "a claim with this Idempotency-Key is still being made; send it again in a moment"
        )
    # The first may have failed meanwhile, and another claim been made with the key.
    check_same_request(found.request_hash, key.request_hash)
    await claims.wait_for_claims(session, contractor_id)
    return found


async def answered(
    session: AsyncSession,
    contractor_id: UUID,
    key: RequestKey | None,
    tasks: Sequence[TaskOut],
    now: datetime,
) -> None:
    """Keep under the key the tasks the claim answered with (not always those it leased: a
    control in place of one, a qualification's copy more), the answer final once the claim's
    transaction commits."""
    if key is not None:
        await repository.answered(session, contractor_id, key, [task.id for task in tasks], now)


async def forget(
    session: AsyncSession, contractor_id: UUID, key: RequestKey | None, now: datetime
) -> None:
    """Forget a claim that failed (its leases given back), made at `now`: sent again, it
    claims afresh."""
    if key is not None:
        await repository.forget(session, contractor_id, key, now)

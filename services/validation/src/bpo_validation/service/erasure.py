"""Erasing what validation keeps of a job or of some of its items, when intake says it erased
them: the values of entries, decisions and match exceptions, the provisional judgements of
keyings awaiting an adjudication, and for a whole job its data key (here and in the process),
which leaves every sealed copy unreadable."""

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.erasure import ValidationErasureDone
from bpo_common.contracts.intake import DataErased
from bpo_common.crypto import DataKeys
from bpo_common.erasure import record_erased
from bpo_validation.repository import decisions as decisions_repository
from bpo_validation.repository import erasure as repository
from bpo_validation.repository import quality as scores


async def erase(session: AsyncSession, event: DataErased, *, keys: DataKeys) -> None:
    # A keying of these items read meanwhile waits, and then finds them erased.
    if event.item_ids is None:
        await decisions_repository.lock_items(session, (), [event.job_id])
    else:
        await decisions_repository.lock_items(session, event.item_ids)
    await repository.erase_values(session, event.job_id, event.item_ids, utcnow())
    # An item erased while it awaited its adjudication never gets one.
    await scores.drop_provisional(session, event.job_id, event.item_ids)
    if event.item_ids is None:
        await repository.delete_job_key(session, event.job_id)
        keys.forget(event.job_id)
    await record_erased(session, event, ValidationErasureDone)

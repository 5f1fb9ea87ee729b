"""The data keys validation keeps, after a KEK rotation: wrapped again by the current KEK a
batch at a time, and checked at start against the KEKs given."""

import pytest
from sqlalchemy import select

from bpo_common.clock import utcnow
from bpo_common.crypto import KeyUnavailable, LocalKeyRing, new_data_key, new_kek, wrapped_by
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.keystore import REWRAP_BATCH
from bpo_devtools.testing import TestStack
from bpo_validation.models import JobDataKey
from bpo_validation.repository.keys import KEPT_KEYS


async def test_kept_keys_are_wrapped_again_by_the_current_kek_and_checked_at_start(
    validation_db: SessionFactory, stack: TestStack
) -> None:
    first = LocalKeyRing.parse(stack.kek)
    job_ids = [new_id() for _ in range(3)]
    async with validation_db() as session, session.begin():
        session.add_all(
            JobDataKey(job_id=job_id, wrapped=new_data_key(first, job_id)[1], received_at=utcnow())
            for job_id in job_ids
        )
    rotated = new_kek("rotated-in-validation")
    ring = LocalKeyRing.parse(f"{rotated},{stack.kek}", "rotated-in-validation")
    back = LocalKeyRing.parse(f"{stack.kek},{rotated}", first.current_key_id)
    only_rotated = LocalKeyRing.parse(rotated)
    try:
        async with validation_db() as session, session.begin():
            while await KEPT_KEYS.rewrap(session, ring) == REWRAP_BATCH:
                pass
        async with validation_db() as session:
            kept = await session.scalars(
                select(JobDataKey.wrapped).where(JobDataKey.job_id.in_(job_ids))
            )
            assert {wrapped_by(wrapped) for wrapped in kept} == {"rotated-in-validation"}
            # The rotated KEK alone opens everything kept; the old one alone no longer does.
            await KEPT_KEYS.check(session, only_rotated)
            with pytest.raises(KeyUnavailable, match="give every KEK still in use"):
                await KEPT_KEYS.check(session, first)
    finally:
        async with validation_db() as session, session.begin():
            while await KEPT_KEYS.rewrap(session, back) == REWRAP_BATCH:
                pass

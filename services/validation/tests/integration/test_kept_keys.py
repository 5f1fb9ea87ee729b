"""The data keys validation keeps, after a KEK rotation: wrapped again by the current KEK a
batch at a time, and checked at start against the KEKs given."""

import pytest
from sqlalchemy import delete, select

from bpo_common.clock import utcnow
from bpo_common.crypto import KeyUnavailable, LocalKeyRing, new_data_key, new_kek, wrapped_by
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
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
            after = await KEPT_KEYS.rewrap(session, ring)
            while after is not None:
                after = await KEPT_KEYS.rewrap(session, ring, after)
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
            after = await KEPT_KEYS.rewrap(session, back)
            while after is not None:
                after = await KEPT_KEYS.rewrap(session, back, after)


async def test_a_key_the_ring_cannot_unwrap_holds_up_none_of_the_others(
    validation_db: SessionFactory, stack: TestStack
) -> None:
    first = LocalKeyRing.parse(stack.kek)
    # Wrapped by a KEK given to no service any more; its job's id comes before the others'.
    lost, good = new_id(), [new_id() for _ in range(2)]
    wrapped = {lost: new_data_key(LocalKeyRing.parse(new_kek("lost")), lost)[1]}
    wrapped |= {job_id: new_data_key(first, job_id)[1] for job_id in good}
    async with validation_db() as session, session.begin():
        session.add_all(
            JobDataKey(job_id=job_id, wrapped=key, received_at=utcnow())
            for job_id, key in wrapped.items()
        )
    rotated = new_kek("rotated-past-a-lost-key")
    ring = LocalKeyRing.parse(f"{rotated},{stack.kek}", "rotated-past-a-lost-key")
    back = LocalKeyRing.parse(f"{stack.kek},{rotated}", first.current_key_id)
    try:
        async with validation_db() as session, session.begin():
            after = await KEPT_KEYS.rewrap(session, ring)
            while after is not None:
                after = await KEPT_KEYS.rewrap(session, ring, after)
        query = select(JobDataKey).where(JobDataKey.job_id.in_(wrapped))
        async with validation_db() as session:
            kept = {row.job_id: row.wrapped for row in await session.scalars(query)}
        assert kept[lost] == wrapped[lost], "left as it was"
        assert {wrapped_by(kept[job_id]) for job_id in good} == {"rotated-past-a-lost-key"}
    finally:
        async with validation_db() as session, session.begin():
            await session.execute(delete(JobDataKey).where(JobDataKey.job_id == lost))
            after = await KEPT_KEYS.rewrap(session, back)
            while after is not None:
                after = await KEPT_KEYS.rewrap(session, back, after)

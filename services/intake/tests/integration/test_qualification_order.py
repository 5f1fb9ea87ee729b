"""Of several qualifications a contractor lacks, a claim offers the first by work type whose
set can give an item now: one whose set's job was cancelled or erased is passed over, and
does not keep the others from the contractor."""

from datetime import timedelta
from uuid import UUID

import httpx
import pytest

from bpo_common.clock import utcnow
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens
from bpo_intake.service import qualifications

from .keying import claim_tasks, new_contractor
from .qualified import attempts_of, own_work_type, qualification, skill_for


@pytest.mark.parametrize("gone", ["cancelled", "erased"])
async def test_a_set_that_can_no_longer_be_given_is_passed_over_for_the_next(
    intake: httpx.AsyncClient,
    intake_db: SessionFactory,
    data_keys: DataKeys,
    tokens: Tokens,
    gone: str,
) -> None:
    name = own_work_type()
    # `first` sorts before `second`: it is the one offered while it can be given.
    first, first_set, first_work = await qualification(intake, tokens, 1, work_type=f"{name}-a")
    second, second_set, _ = await qualification(intake, tokens, 1, work_type=f"{name}-b")
    keyer = await new_contractor(intake, tokens, skill_for(first), skill_for(second))
    owner = tokens.client(UUID(first_set["client_id"]))
    if gone == "cancelled":
        # An attempt at it was under way: it is passed over all the same.
        (started,) = await claim_tasks(intake, keyer[1], job_id=first_work["id"])
        assert started["job_id"] == first_set["id"]
        ended = await intake.post(f"/v1/jobs/{first_set['id']}/cancel", headers=owner)
    else:
        ended = await intake.delete(f"/v1/jobs/{first_set['id']}/data", headers=owner)
    assert ended.is_success, ended.text

    # As a claim of any job offers one, when no other work is left for the contractor (other
    # tests' work without required skills may be queued in this database: asked of the offer).
    async with intake_db() as session, session.begin():
        given = await qualifications.offer(
            session,
            keyer[0],
            None,
            lease_until=utcnow() + timedelta(minutes=5),
            keys=data_keys,
            now=utcnow(),
        )

    assert given is not None
    assert (str(given["job_id"]), given["work_type"]) == (second_set["id"], second)
    under_way = [
        a["work_type"] for a in await attempts_of(intake, keyer) if a["outcome"] == "pending"
    ]
    assert second in under_way

"""The quality floor on a keyer's recent judged fields per work type, and a second chance after
a manager reactivates them (the test settings: floor 75 %, from 6 judged fields)."""

from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import httpx
import pytest
from nats.js import JetStreamContext

from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import ContractorReactivated, JobCreated
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.messaging import connect
from bpo_devtools.testing import TestStack, Tokens, eventually, outbox_events
from bpo_validation.models import Standing
from bpo_validation.service import decisions
from bpo_validation.service.quality import reactivate
from bpo_validation.settings import Settings

from .submissions import INTAKE, job_keys, keying, new_job, submit

SUSPENDED = "bpo.validation.contractor.suspended"
GOLDEN = {"number": "G", "total": "2"}
# Two judged fields against the known answer: both right, or the number wrong.
RIGHT = GOLDEN
HALF_RIGHT = {"number": "X", "total": "2"}
WRONG = {"number": "X", "total": "1"}


@pytest.fixture(scope="module")
async def js(stack: TestStack) -> AsyncIterator[JetStreamContext]:
    client = await connect(stack.urls.nats_url, name="validation-quality-floor-test")
    yield client.jetstream()
    await client.close()


async def _key(
    db: SessionFactory, settings: Settings, job: JobCreated, keyer: UUID, *keyed: dict[str, Any]
) -> None:
    """The keyer keys control items of the job, one submission at a time."""
    for data in keyed:
        await submit(db, settings, job, new_id(), data, golden=GOLDEN, contractor_id=keyer)


async def _suspensions(db: SessionFactory, keyer: UUID) -> list[str]:
    return [e.data["reason"] for e in await outbox_events(db, SUSPENDED, contractor_id=str(keyer))]


async def _standing(db: SessionFactory, keyer: UUID) -> Standing:
    async with db() as session:
        standing = await session.get(Standing, keyer)
    assert standing is not None
    return standing


async def test_a_reactivated_keyer_is_judged_afresh_and_suspended_again_if_still_below(
    validation: httpx.AsyncClient,
    validation_db: SessionFactory,
    validation_settings: Settings,
    tokens: Tokens,
    js: JetStreamContext,
) -> None:
    job = await new_job(validation_db)
    keyer = new_id()
    await _key(validation_db, validation_settings, job, keyer, WRONG, WRONG, WRONG)
    first = "accuracy 0.0% over the last 6 judged fields on invoice is below the floor 75.0%"
    assert await _suspensions(validation_db, keyer) == [first]
    # Work judged while suspended (keyed before intake heard of it) suspends nobody again.
    await _key(validation_db, validation_settings, job, keyer, WRONG)
    assert await _suspensions(validation_db, keyer) == [first]

    reactivated = ContractorReactivated(contractor_id=keyer, reactivated_at=utcnow())
    envelope = wrap(reactivated, source="intake")
    await js.publish(envelope.subject, envelope.model_dump_json().encode())

    async def cleared() -> bool:
        return (await _standing(validation_db, keyer)).reactivated_at is not None

    await eventually(cleared, what="validation to apply the reactivation")
    standing = await _standing(validation_db, keyer)
    assert (standing.suspended_at, standing.reason) == (None, None)
    assert standing.reactivated_at == reactivated.reactivated_at

    # A second chance: the eight wrong fields before it no longer count, the four since are
    # too few; the sixth since, at 50 %, suspends them again.
    await _key(validation_db, validation_settings, job, keyer, HALF_RIGHT, HALF_RIGHT)
    assert await _suspensions(validation_db, keyer) == [first]
    await _key(validation_db, validation_settings, job, keyer, HALF_RIGHT)
    second = "accuracy 50.0% over the last 6 judged fields on invoice is below the floor 75.0%"
    assert await _suspensions(validation_db, keyer) == [first, second]
    standing = await _standing(validation_db, keyer)
    assert standing.reason == second
    assert standing.suspended_at is not None
    assert standing.suspended_at > reactivated.reactivated_at
    # The figures shown still count every judged field.
    quality = await validation.get(f"/v1/contractors/{keyer}/quality", headers=tokens.manager())
    assert quality.json()["overall"] == {"judged": 14, "correct": 3, "accuracy": 3 / 14}
    assert quality.json()["suspension_reason"] == second


async def test_a_reactivated_keyer_is_not_suspended_again_by_work_keyed_before_it(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, mode="double")
    keyer = new_id()
    # Three items keyed wrong, awaiting their second keyings; then controls keyed wrong.
    items = [new_id() for _ in range(3)]
    for item in items:
        await submit(validation_db, validation_settings, job, item, WRONG, expected=2,
                     contractor_id=keyer)  # fmt: skip
    await _key(validation_db, validation_settings, job, keyer, WRONG, WRONG, WRONG)
    first = "accuracy 0.0% over the last 6 judged fields on invoice is below the floor 75.0%"
    assert await _suspensions(validation_db, keyer) == [first]
    reactivated = ContractorReactivated(contractor_id=keyer, reactivated_at=utcnow())
    async with validation_db() as session, session.begin():
        await reactivate(session, reactivated)

    # Others key the items since; adjudicated, each judges the keyer's keying wrong on both
    # fields: six fields judged after the reactivation, of work keyed before it.
    for item in items:
        await submit(validation_db, validation_settings, job, item, RIGHT, expected=2)
        await submit(validation_db, validation_settings, job, item, RIGHT,
                     kind=TaskKind.ADJUDICATION)  # fmt: skip
    assert await _suspensions(validation_db, keyer) == [first]
    standing = await _standing(validation_db, keyer)
    assert (standing.suspended_at, standing.judged, standing.correct) == (None, 12, 0)


async def test_in_a_run_work_keyed_before_a_reactivation_moves_no_keyers_window(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    """A run that adjudicates an item the keyer keyed before their reactivation, then judges
    three controls they keyed since, half right: the third brings them under the floor."""
    job = await new_job(validation_db, mode="double")
    keyer, item = new_id(), new_id()
    await submit(validation_db, validation_settings, job, item, WRONG, expected=2,
                 contractor_id=keyer)  # fmt: skip
    await _key(validation_db, validation_settings, job, keyer, WRONG, WRONG, WRONG)
    assert len(await _suspensions(validation_db, keyer)) == 1
    async with validation_db() as session, session.begin():
        await reactivate(
            session, ContractorReactivated(contractor_id=keyer, reactivated_at=utcnow())
        )

    controls = [new_id() for _ in range(3)]
    run = [
        keying(job, item, RIGHT, expected=2),
        keying(job, item, RIGHT, kind=TaskKind.ADJUDICATION),
        *(keying(job, c, HALF_RIGHT, golden=GOLDEN, contractor_id=keyer) for c in controls),
    ]
    mark = new_id()
    async with validation_db() as session, session.begin():
        await decisions.record_submissions(
            session, run, validation_settings, keys=job_keys(validation_settings)
        )

    told = [INTAKE.opened(e) for e in await outbox_events(validation_db) if e.id > mark]
    about = [_said(e) for e in told if e.type != "bpo.validation.contractor.scored"]
    reason = "accuracy 50.0% over the last 6 judged fields on invoice is below the floor 75.0%"
    assert about == [
        ("required", str(item), None),
        ("accepted", str(item), None),
        ("accepted", str(controls[0]), None),
        ("accepted", str(controls[1]), None),
        (SUSPENDED, str(keyer), reason),
        ("accepted", str(controls[2]), None),
    ]


async def test_good_work_on_one_work_type_does_not_hide_bad_work_on_another(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    receipts = await new_job(validation_db, work_type="receipt")
    invoices = await new_job(validation_db)
    keyer = new_id()
    await _key(validation_db, validation_settings, receipts, keyer, *[RIGHT] * 10)
    await _key(validation_db, validation_settings, invoices, keyer, HALF_RIGHT, HALF_RIGHT)
    assert await _suspensions(validation_db, keyer) == []
    # 23 of 26 judged fields right (88 %), but 3 of the 6 on invoices.
    await _key(validation_db, validation_settings, invoices, keyer, HALF_RIGHT)
    assert await _suspensions(validation_db, keyer) == [
        "accuracy 50.0% over the last 6 judged fields on invoice is below the floor 75.0%"
    ]
    standing = await _standing(validation_db, keyer)
    assert (standing.judged, standing.correct) == (26, 23)


async def test_a_keyer_slipping_lately_is_suspended_by_the_judging_that_brings_them_under(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    """A run applied at once: each keyer held to the floor over their window after each of
    its judgings, as one at a time would."""
    settings = validation_settings.model_copy(update={"quality_window": 6})
    job = await new_job(validation_db)
    slipping, steady = new_id(), new_id()
    # `slipping`: 10 of 12 right over all (83 %), but 4 of the latest 6 after the last.
    # `steady`: 10 of 12 too, 5 of every 6 in a row: never under the floor.
    keyed = zip(
        [RIGHT, RIGHT, RIGHT, RIGHT, HALF_RIGHT, HALF_RIGHT],
        [HALF_RIGHT, RIGHT, RIGHT, HALF_RIGHT, RIGHT, RIGHT],
        strict=True,
    )
    run = [
        keying(job, new_id(), data, golden=GOLDEN, contractor_id=keyer)
        for pair in keyed
        for keyer, data in zip((slipping, steady), pair, strict=True)
    ]
    mark = new_id()
    async with validation_db() as session, session.begin():
        await decisions.record_submissions(session, run, settings, keys=job_keys(settings))

    told = [INTAKE.opened(e) for e in await outbox_events(validation_db) if e.id > mark]
    about = [_said(e) for e in told if e.type != "bpo.validation.contractor.scored"]
    reason = "accuracy 66.6% over the last 6 judged fields on invoice is below the floor 75.0%"
    assert about == [
        *(("accepted", str(event.item_id), None) for event in run[:-2]),
        (SUSPENDED, str(slipping), reason),
        ("accepted", str(run[-2].item_id), None),
        ("accepted", str(run[-1].item_id), None),
    ]
    standing = await _standing(validation_db, slipping)
    assert (standing.judged, standing.correct, standing.reason) == (12, 10, reason)
    standing = await _standing(validation_db, steady)
    assert (standing.judged, standing.correct, standing.suspended_at) == (12, 10, None)


def _said(envelope: Envelope) -> tuple[str, str, str | None]:
    if envelope.type == SUSPENDED:
        return SUSPENDED, envelope.data["contractor_id"], envelope.data["reason"]
    return envelope.type.rsplit(".", 1)[-1], envelope.data["item_id"], None

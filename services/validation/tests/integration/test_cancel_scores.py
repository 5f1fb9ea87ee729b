"""A cancelled job's items that wait for a task intake withdrew (a second keying, a review,
an adjudication), and items erased before their decision, are never decided: each task
submitted on them is scored `unjudged`, so that billing pays its keyer and reporting counts
it in no accuracy."""

import pytest

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import outbox_events
from bpo_validation.settings import Settings

from .submissions import SCORED, cancel, erase, new_job, scored, submit

KEYED = {"number": "A", "total": "7"}


async def test_the_tasks_a_cancel_leaves_undecided_are_scored_unjudged_once(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    db, settings = validation_db, validation_settings
    job = await new_job(db, mode="double")
    waiting, differing, agreed = new_id(), new_id(), new_id()
    first = await submit(db, settings, job, waiting, KEYED, expected=2)
    one = await submit(db, settings, job, differing, KEYED, expected=2)
    other = await submit(db, settings, job, differing, {**KEYED, "total": "1"}, expected=2)
    for _ in range(2):
        await submit(db, settings, job, agreed, KEYED, expected=2)
    before = await scored(db, agreed)
    assert {outcome for _, outcome, _, _ in before.values()} == {"accepted"}

    await cancel(db, job)
    # A copy of the cancel, or a second one (an erasure's), scores nothing again.
    await cancel(db, job)

    assert await scored(db, waiting) == {str(first.task_id): ("entry", "unjudged", 0, 0)}
    assert await scored(db, differing) == {
        str(one.task_id): ("entry", "unjudged", 0, 0),
        str(other.task_id): ("entry", "unjudged", 0, 0),
    }
    assert await scored(db, agreed) == before, "a decided item keeps its scores"
    events = await outbox_events(db, SCORED, job_id=str(job.job_id))
    assert len(events) == 5, "each task scored once"
    (unjudged,) = [e for e in events if e.data["task_id"] == str(first.task_id)]
    assert unjudged.data["contractor_id"] == str(first.contractor_id)
    assert unjudged.data["share"] == "1"


async def test_a_review_a_cancel_withdrew_leaves_its_keying_unjudged(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, review_sample_rate="1")
    item = new_id()
    keying = await submit(validation_db, validation_settings, job, item, KEYED)
    assert await scored(validation_db, item) == {}, "waits for its review"

    await cancel(validation_db, job)

    assert await scored(validation_db, item) == {str(keying.task_id): ("entry", "unjudged", 0, 0)}


@pytest.mark.parametrize("differs", [True, False])
async def test_a_keying_applied_after_the_cancel_is_scored_as_it_leaves_its_item(
    validation_db: SessionFactory, validation_settings: Settings, differs: bool
) -> None:
    # Submitted before the cancel, applied after it (a batch retried event by event, another
    # replica's delivery): one that leaves its item waiting for a withdrawn task is unjudged;
    # one that decides its item is scored as the decision says.
    db, settings = validation_db, validation_settings
    job = await new_job(db, mode="double")
    item, alone = new_id(), new_id()
    first = await submit(db, settings, job, item, KEYED, expected=2)
    await cancel(db, job)
    second = await submit(db, settings, job, item, {**KEYED, "total": "1" if differs else "7"},
                          expected=2)  # fmt: skip
    lone = await submit(db, settings, job, alone, KEYED, expected=2)

    expected = {str(first.task_id): ("entry", "unjudged", 0, 0)}
    if differs:
        expected[str(second.task_id)] = ("entry", "unjudged", 0, 0)
        assert await scored(db, item) == expected
    else:
        # Both keyings agree: the item is accepted, the second keying scored with it (the
        # first stays paid as scored at the cancel: billing and reporting keep a task's first).
        assert (await scored(db, item))[str(second.task_id)] == ("entry", "accepted", 2, 2)
    assert await scored(db, alone) == {str(lone.task_id): ("entry", "unjudged", 0, 0)}


async def test_keyings_of_items_erased_before_their_decision_are_scored_unjudged(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    db, settings = validation_db, validation_settings
    job = await new_job(db, review_sample_rate="1")
    waiting, late, kept = new_id(), new_id(), new_id()
    keying = await submit(db, settings, job, waiting, KEYED)
    await submit(db, settings, job, kept, KEYED)

    await erase(db, settings, job, [waiting, late])
    # Keyed before the erasure, read after it: not kept, but paid.
    after = await submit(db, settings, job, late, KEYED)

    assert await scored(db, waiting) == {str(keying.task_id): ("entry", "unjudged", 0, 0)}
    assert await scored(db, late) == {str(after.task_id): ("entry", "unjudged", 0, 0)}
    assert await scored(db, kept) == {}, "an item not erased waits for its review"

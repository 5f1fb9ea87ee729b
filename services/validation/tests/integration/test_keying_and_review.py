"""Single and double keying, and the reviews and adjudications that settle an item."""

from typing import Any, NamedTuple
from uuid import UUID

import httpx
import pytest

from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import JobCreated, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, outbox_events
from bpo_validation.settings import Settings

from .submissions import events, new_item, new_job, published, sample_key, scored, submit


async def test_single_keying_outside_the_sample_is_accepted_as_keyed(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, review_sample_rate="0.5")
    # The sample is the job's secret: the item's plain hash, which its keyer can compute from
    # the id they see, would have put it in.
    key = await sample_key(validation_db, job)
    item = new_item("0.5", sampled=False, key=key, plainly=True)
    await submit(validation_db, validation_settings, job, item, {"number": "A", "total": "5"})
    (decision,) = await published(validation_db, item)
    assert decision.type == "bpo.validation.item.accepted"
    assert decision.data["result"] == {"number": "A", "total": "5", "currency": None}


async def test_single_keying_in_the_sample_goes_to_review_and_the_review_is_final(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db, review_sample_rate="0.5")
    item = new_item("0.5", sampled=True, key=await sample_key(validation_db, job), plainly=False)
    keyed = await submit(
        validation_db,
        validation_settings,
        job,
        item,
        {"number": "A", "total": "5"},
        documents=["inv-5.pdf"],
        active_seconds=42.5,
    )
    (review,) = await published(validation_db, item)
    assert review.type == "bpo.validation.review.required"
    assert review.data["kind"] == "review"
    assert review.data["entries"] == [
        {
            "task_id": str(keyed.task_id),
            "contractor_id": str(keyed.contractor_id),
            "data": keyed.data,
            "unreadable": None,
        }
    ]

    final = await submit(
        validation_db,
        validation_settings,
        job,
        item,
        {"number": "A", "total": "50"},
        kind=TaskKind.REVIEW,
        documents=["inv-5.pdf"],
    )
    _, accepted = await published(validation_db, item)
    assert accepted.data["result"] == {"number": "A", "total": "50"}
    assert await scored(validation_db, item) == {
        str(keyed.task_id): ("entry", "overturned", 2, 1),
        str(final.task_id): ("review", "accepted", 0, 0),
    }

    response = await validation.get(
        f"/v1/items/{item}/decision", headers=tokens.client(job.client_id)
    )
    body = response.json()
    assert body["decision"] == "accepted"
    assert body["documents"] == ["inv-5.pdf"]
    # The keyer's active time goes on with the score, for billing's hourly rate.
    (keyer_score,) = await outbox_events(
        validation_db, "bpo.validation.contractor.scored", task_id=str(keyed.task_id)
    )
    assert keyer_score.data["active_seconds"] == 42.5
    assert [entry["kind"] for entry in body["entries"]] == ["entry", "review"]
    assert body["comparison"][1] == {"field": "total", "values": ["5", "50"], "equal": False}
    quality = await validation.get(
        f"/v1/contractors/{keyed.contractor_id}/quality", headers=tokens.manager()
    )
    scores = {row["key"]: row["correct"] for row in quality.json()["per_field"]}
    assert scores == {"number": 1, "total": 0}


@pytest.mark.parametrize(
    ("second", "outcome"),
    [
        ({"number": " a-1 ", "total": "1000.5"}, "bpo.validation.review.required"),
        ({"number": "A-1", "total": "1000.50", "currency": "eur"}, "bpo.validation.item.accepted"),
        ({"number": "A-1", "total": "100.05", "currency": "EUR"}, "bpo.validation.review.required"),
    ],
    ids=["case-differs", "same-after-normalization", "total-differs"],
)
async def test_double_keying_is_accepted_only_when_both_keyings_agree_after_normalization(
    validation_db: SessionFactory,
    validation_settings: Settings,
    second: dict[str, Any],
    outcome: str,
) -> None:
    job = await new_job(validation_db, mode="double")
    item = new_id()
    first = {"number": "A-1", "total": "1,000.50", "currency": "EUR"}
    one = await submit(validation_db, validation_settings, job, item, first, expected=2)
    assert await events(validation_db, item) == [], "one keying of two decides nothing"
    two = await submit(validation_db, validation_settings, job, item, second, expected=2)
    (decision,) = await published(validation_db, item)
    assert decision.type == outcome
    if outcome.endswith("review.required"):
        assert decision.data["kind"] == "adjudication"
        assert len(decision.data["entries"]) == 2
        assert await scored(validation_db, item) == {}, "nothing is settled before adjudication"
    else:
        assert await scored(validation_db, item) == {
            str(one.task_id): ("entry", "accepted", 3, 3),
            str(two.task_id): ("entry", "accepted", 3, 3),
        }


class Disagreement(NamedTuple):
    """A double-keyed item whose two keyings differ on `total`: 7 (right) and 1 (wrong)."""

    job: JobCreated
    item: UUID
    right: TaskSubmitted
    wrong: TaskSubmitted

    def settled(self) -> dict[str, tuple[str, str, int, int]]:
        """How the two keyings score once the item is settled with a total of 7."""
        return {
            str(self.right.task_id): ("entry", "accepted", 2, 2),
            str(self.wrong.task_id): ("entry", "overturned", 2, 1),
        }


async def _keyed_differently(db: SessionFactory, settings: Settings) -> Disagreement:
    job = await new_job(db, mode="double")
    item = new_id()
    right = await submit(db, settings, job, item, {"number": "A", "total": "7"}, expected=2)
    wrong = await submit(db, settings, job, item, {"number": "A", "total": "1"}, expected=2)
    return Disagreement(job, item, right, wrong)


async def test_an_adjudication_settles_each_keying_by_its_fields(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    keyed = await _keyed_differently(validation_db, validation_settings)
    job, item, _, _ = keyed
    final = await submit(
        validation_db,
        validation_settings,
        job,
        item,
        {"number": "A", "total": "7.00"},
        kind=TaskKind.ADJUDICATION,
    )
    assert await scored(validation_db, item) == {
        **keyed.settled(),
        str(final.task_id): ("adjudication", "accepted", 0, 0),
    }


async def test_an_adjudication_agreeing_with_no_keying_is_confirmed_by_a_second_adjudicator(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    keyed = await _keyed_differently(validation_db, validation_settings)
    job, item, right, wrong = keyed
    alone = await submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "9"},
        kind=TaskKind.ADJUDICATION,
    )  # fmt: skip
    _, again = await published(validation_db, item)
    assert (again.type, again.data["kind"]) == ("bpo.validation.review.required", "adjudication")
    assert again.data["reason"] == (
        "the adjudicator's total agrees with no keying; a second adjudicator decides"
    )
    shown = [entry["task_id"] for entry in again.data["entries"]]
    assert shown == [str(right.task_id), str(wrong.task_id), str(alone.task_id)]
    assert await scored(validation_db, item) == {}, "nothing is settled before it is confirmed"

    final = await submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "7"},
        kind=TaskKind.ADJUDICATION,
    )  # fmt: skip
    *_, accepted = await published(validation_db, item)
    assert accepted.data["result"] == {"number": "A", "total": "7"}
    assert accepted.data["agreed"] is True, "the second adjudicator chose a keying's total"
    assert await scored(validation_db, item) == {
        **keyed.settled(),
        str(alone.task_id): ("adjudication", "accepted", 0, 0),
        str(final.task_id): ("adjudication", "accepted", 0, 0),
    }


async def test_without_confirmation_the_first_adjudication_is_final_whatever_it_says(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    settings = validation_settings.model_copy(update={"confirm_adjudications": False})
    job, item, _, _ = await _keyed_differently(validation_db, settings)
    await submit(validation_db, settings, job, item, {"number": "A", "total": "9"},
                  kind=TaskKind.ADJUDICATION)  # fmt: skip
    _, accepted = await published(validation_db, item)
    assert accepted.data["result"] == {"number": "A", "total": "9"}
    # A total neither keyer typed: the adjudicator's own, no answer to judge other keyers by.
    assert accepted.data["agreed"] is False


async def test_a_reviewer_can_reject_the_item_and_no_keying_of_it_stands(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db, review_sample_rate="1")
    item = new_id()
    keyed = await submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "5"}
    )
    rejection = await submit(
        validation_db, validation_settings, job, item, {}, kind=TaskKind.REVIEW,
        rejection="the scan is unreadable",
    )  # fmt: skip

    _, rejected = await published(validation_db, item)
    assert rejected.type == "bpo.validation.item.rejected"
    assert rejected.data["reason"] == "rejected in review: the scan is unreadable"
    assert await scored(validation_db, item) == {
        str(keyed.task_id): ("entry", "rejected", 0, 0),
        str(rejection.task_id): ("review", "accepted", 0, 0),
    }
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == "rejected"
    assert decision["entries"][1]["rejection"] == "the scan is unreadable"


async def test_an_item_one_keyer_marked_unreadable_is_not_announced_as_agreed(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    # A reviewer settles it from one keying: no answer two keyings agreed on (which the client
    # may let judge other keyers, as an agreed control).
    job = await new_job(validation_db, mode="double", review_sample_rate="0")
    item = new_id()
    keyed = {"number": "A", "total": "5"}
    await submit(validation_db, validation_settings, job, item, keyed, expected=2)
    await submit(
        validation_db, validation_settings, job, item, {}, expected=2, rejection="too faint"
    )
    await submit(validation_db, validation_settings, job, item, keyed, kind=TaskKind.REVIEW)

    review, accepted = await published(validation_db, item)
    assert review.type == "bpo.validation.review.required"
    assert (accepted.type, accepted.data["agreed"]) == ("bpo.validation.item.accepted", False)


async def test_an_item_a_reviewer_answered_otherwise_than_its_agreeing_keyings_is_not_agreed(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    # Two keyings agree, the reference check sends them to review: a reviewer's other answer
    # is one person's, no answer to judge other keyers by; one the same as theirs still is.
    fields: list[dict[str, Any]] = [
        {"name": "number", "type": "string", "lookup": {"dataset": "vendors"}},
        {"name": "total", "type": "decimal"},
    ]
    job = await new_job(validation_db, fields, mode="double", review_sample_rate="0")
    keyed = {"number": "PO-9", "total": "5"}
    agreed = {}
    for answer in ({"number": "PO-1", "total": "5"}, {"number": "PO-9", "total": "5.00"}):
        item = new_id()
        for _ in range(2):
            await submit(validation_db, validation_settings, job, item, keyed, expected=2)
        await submit(validation_db, validation_settings, job, item, answer, kind=TaskKind.REVIEW)
        review, accepted = await published(validation_db, item)
        assert (review.type, accepted.type) == (
            "bpo.validation.review.required", "bpo.validation.item.accepted"
        )  # fmt: skip
        agreed[answer["number"]] = accepted.data["agreed"]
    assert agreed == {"PO-1": False, "PO-9": True}

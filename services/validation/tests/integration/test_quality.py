"""Judged fields, the quality floor, and the figures a contractor and managers see."""

from typing import Any
from uuid import UUID

import httpx

from bpo_common.contracts import TaskKind
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, outbox_events
from bpo_validation.settings import Settings

from .submissions import SCORED, new_job, published, scored, submit


async def test_a_control_item_is_judged_against_its_known_answer(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db)
    keyer = new_id()
    golden = {"number": "G-7", "total": "42"}
    item = new_id()
    await submit(
        validation_db,
        validation_settings,
        job,
        item,
        {"number": "G-7", "total": "24"},
        golden=golden,
        contractor_id=keyer,
    )
    (decision,) = await published(validation_db, item)
    assert decision.data["result"] == {"number": "G-7", "total": "42"}
    assert list((await scored(validation_db, item)).values()) == [("entry", "overturned", 2, 1)]
    # Intake counts a qualification's copies from what the acceptance says of the keying.
    control = decision.data["control"]
    assert (control["contractor_id"], control["fields_judged"], control["fields_correct"]) == (
        str(keyer),
        2,
        1,
    )
    plain = new_id()
    await submit(validation_db, validation_settings, job, plain, {"number": "P", "total": "1"})
    (accepted,) = await published(validation_db, plain)
    assert accepted.data["control"] is None, "an item without a known answer is no control"
    quality = (
        await validation.get(f"/v1/contractors/{keyer}/quality", headers=tokens.contractor(keyer))
    ).json()
    assert quality["golden"] == {"judged": 2, "correct": 1, "accuracy": 0.5}
    other = await validation.get(
        f"/v1/contractors/{keyer}/quality", headers=tokens.contractor(new_id())
    )
    assert assert_problem(other, 404)["detail"] == f"no quality figures for contractor {keyer}"
    # A client is a role the route does not serve, refused as on every route.
    a_client = await validation.get(
        f"/v1/contractors/{keyer}/quality", headers=tokens.client(new_id())
    )
    assert assert_problem(a_client, 403)["detail"] == (
        "this needs the role contractor, manager; the token has client"
    )


async def test_a_keyer_below_the_floor_is_suspended_once_with_the_reason(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db)
    keyer = new_id()
    # Each entry is two judged fields; the floor applies from six: one right of six, 16.6 %.
    for n in range(4):
        wrong = {"number": "X" if n else "G", "total": "1"}
        await submit(
            validation_db,
            validation_settings,
            job,
            new_id(),
            wrong,
            golden={"number": "G", "total": "2"},
            contractor_id=keyer,
        )
    about_the_keyer = await outbox_events(validation_db, contractor_id=str(keyer))
    (suspension,) = [e for e in about_the_keyer if e.type != SCORED]
    assert suspension.type == "bpo.validation.contractor.suspended"
    assert suspension.data["reason"] == (
        "accuracy 16.6% over the last 6 judged fields on invoice is below the floor 75.0%"
    )


async def test_a_qualifications_copies_are_judged_for_it_but_never_held_to_the_floor(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db)
    keyer = new_id()
    # Four wrong copies: 1 of 8 fields right, under the floor were they held to it.
    items = [new_id() for _ in range(4)]
    for n, item in enumerate(items):
        wrong = {"number": "X" if n else "G", "total": "1"}
        await submit(
            validation_db, validation_settings, job, item, wrong,
            golden={"number": "G", "total": "2"}, contractor_id=keyer, qualification=True,
            control_copy=True,
        )  # fmt: skip
        (decision,) = await published(validation_db, item)
        (score,) = await outbox_events(validation_db, SCORED, item_id=str(item))
        assert score.data["control_copy"], "a copy is the keyer's work, none of the client's"
        control = decision.data["control"]
        assert (control["fields_judged"], control["fields_correct"]) == (2, 0 if n else 1)
    about_the_keyer = await outbox_events(validation_db, contractor_id=str(keyer))
    assert [e.type for e in about_the_keyer] == [SCORED] * 4, "no suspension"
    quality = (
        await validation.get(f"/v1/contractors/{keyer}/quality", headers=tokens.manager())
    ).json()
    assert quality["overall"] == quality["golden"] == {"judged": 0, "correct": 0, "accuracy": None}
    # Their first real keyings are held to the floor on their own: two right of two.
    await submit(
        validation_db, validation_settings, job, new_id(), {"number": "G", "total": "2"},
        golden={"number": "G", "total": "2"}, contractor_id=keyer,
    )  # fmt: skip
    quality = (
        await validation.get(f"/v1/contractors/{keyer}/quality", headers=tokens.manager())
    ).json()
    assert quality["overall"] == {"judged": 2, "correct": 2, "accuracy": 1.0}


async def test_quality_figures_equal_the_hand_computed_ones_of_a_scripted_scenario(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    double = await new_job(validation_db, mode="double")
    single = await new_job(validation_db)
    a, b, c = new_id(), new_id(), new_id()

    async def keyed_twice(first: dict[str, Any], second: dict[str, Any]) -> UUID:
        item = new_id()
        for keyer, data in ((a, first), (b, second)):
            await submit(
                validation_db, validation_settings, double, item, data, expected=2,
                contractor_id=keyer,
            )  # fmt: skip
        return item

    def invoice(number: str, total: str, currency: str) -> dict[str, Any]:
        return {"number": number, "total": total, "currency": currency}

    # 1: both right (agreement). 2: b's total is wrong. 3: a's currency and b's number are.
    await keyed_twice(invoice("N1", "10", "EUR"), invoice("N1", "10.00", "EUR"))
    for first, second, final in (
        (invoice("N2", "20", "EUR"), invoice("N2", "21", "EUR"), invoice("N2", "20", "EUR")),
        (invoice("N3", "30", "USD"), invoice("M3", "30", "EUR"), invoice("N3", "30", "EUR")),
    ):
        item = await keyed_twice(first, second)
        await submit(
            validation_db, validation_settings, double, item, final, kind=TaskKind.ADJUDICATION,
            contractor_id=c,
        )  # fmt: skip
    # A control item: a gets the total wrong.
    await submit(
        validation_db, validation_settings, single, new_id(), invoice("G", "40", "EUR"),
        golden=invoice("G", "41", "EUR"), contractor_id=a,
    )  # fmt: skip

    async def quality(contractor: UUID) -> dict[str, Any]:
        response = await validation.get(
            f"/v1/contractors/{contractor}/quality", headers=tokens.manager()
        )
        body: dict[str, Any] = response.json()
        return body

    def score(judged: int, correct: int) -> dict[str, Any]:
        return {"judged": judged, "correct": correct, "accuracy": correct / judged}

    Counts = tuple[int, int]

    def per_field(number: Counts, total: Counts, currency: Counts) -> list[dict[str, Any]]:
        return [
            {"key": key, **score(*counts)}
            for key, counts in (("currency", currency), ("number", number), ("total", total))
        ]

    of_a, of_b = await quality(a), await quality(b)
    # a: 3 + 3 + 2 right of 9 keyed fields, and 2 of 3 on the control item.
    assert of_a["overall"] == score(12, 10)
    assert of_a["golden"] == score(3, 2)
    assert of_a["per_field"] == per_field(number=(4, 4), total=(4, 3), currency=(4, 3))
    assert of_a["per_work_type"] == [{"key": "invoice", **score(12, 10)}]
    assert [(day["judged"], day["correct"]) for day in of_a["trend"]] == [(12, 10)]
    # b: 3 + 2 + 2 right of 9.
    assert of_b["overall"] == score(9, 7)
    assert of_b["golden"] == {"judged": 0, "correct": 0, "accuracy": None}
    assert of_b["per_field"] == per_field(number=(3, 2), total=(3, 2), currency=(3, 3))
    # The adjudicator's word is final and not judged.
    assert (await quality(c))["overall"] == {"judged": 0, "correct": 0, "accuracy": None}

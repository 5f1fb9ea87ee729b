"""The decision table: each QC mode against agreeing, differing, invalid, golden and
lookup-mismatched entries, and the reviews, scores and figures that follow."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pytest
from sqlalchemy import cast, func, select
from sqlalchemy.dialects.postgresql import JSONB

from bpo_common.contracts.intake import JobCreated, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_common.tables import outbox_event
from bpo_devtools.testing import Tokens
from bpo_validation import domain, service
from bpo_validation.settings import Settings

FIELDS = [
    {"name": "number", "type": "string"},
    {"name": "total", "type": "decimal"},
    {"name": "currency", "type": "enum", "choices": ["EUR", "USD"], "required": False},
]


async def _job(
    db: SessionFactory, fields: list[dict[str, Any]] | None = None, **qc: Any
) -> JobCreated:
    job = JobCreated(
        job_id=new_id(),
        client_id=new_id(),
        work_type="invoice",
        fields=fields or FIELDS,
        rules=[],
        qc={"mode": "single", "review_sample_rate": "0", **qc},
        priority=50,
        due_at=None,
        sla_hours=None,
        external_ref=None,
        created_at=datetime.now(UTC),
    )
    async with db() as session, session.begin():
        await service.record_job(session, job)
    return job


async def _submit(
    db: SessionFactory,
    settings: Settings,
    job: JobCreated,
    item_id: UUID,
    data: dict[str, Any],
    *,
    kind: str = "entry",
    expected: int = 1,
    golden: dict[str, Any] | None = None,
    client_values: dict[str, Any] | None = None,
    contractor_id: UUID | None = None,
    rejection: str | None = None,
) -> TaskSubmitted:
    now = datetime.now(UTC)
    event = TaskSubmitted(
        task_id=new_id(),
        job_id=job.job_id,
        item_id=item_id,
        client_id=job.client_id,
        work_type=job.work_type,
        kind=kind,
        contractor_id=contractor_id or new_id(),
        data=data,
        golden=golden,
        client_values=client_values,
        entries_expected=expected,
        rejection=rejection,
        claimed_at=now,
        submitted_at=now,
    )
    async with db() as session, session.begin():
        await service.record_submission(session, event, settings)
    return event


SCORED = "bpo.validation.contractor.scored"


async def _events(db: SessionFactory, item_id: UUID) -> list[Envelope]:
    envelope = cast(func.convert_from(outbox_event.c.payload, "UTF8"), JSONB)
    async with db() as session:
        payloads = await session.scalars(
            select(outbox_event.c.payload)
            .where(envelope[("data", "item_id")].as_string() == str(item_id))
            .order_by(outbox_event.c.id)
        )
        return [Envelope.model_validate_json(payload) for payload in payloads]


async def _published(db: SessionFactory, item_id: UUID) -> list[Envelope]:
    """The decisions published about an item."""
    return [e for e in await _events(db, item_id) if e.type != SCORED]


async def _scored(db: SessionFactory, item_id: UUID) -> dict[str, tuple[str, str, int, int]]:
    """How each task on an item came out: task id -> (kind, outcome, judged, correct)."""
    return {
        e.data["task_id"]: (
            e.data["kind"],
            e.data["outcome"],
            e.data["fields_judged"],
            e.data["fields_correct"],
        )
        for e in await _events(db, item_id)
        if e.type == SCORED
    }


def _not_sampled(rate: str) -> UUID:
    while True:
        candidate = new_id()
        if not domain.sampled_for_review(candidate, Decimal(rate)):
            return candidate


def _sampled(rate: str) -> UUID:
    while True:
        candidate = new_id()
        if domain.sampled_for_review(candidate, Decimal(rate)):
            return candidate


async def test_single_keying_outside_the_sample_is_accepted_as_keyed(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await _job(validation_db, review_sample_rate="0.5")
    item = _not_sampled("0.5")
    await _submit(validation_db, validation_settings, job, item, {"number": "A", "total": "5"})
    (decision,) = await _published(validation_db, item)
    assert decision.type == "bpo.validation.item.accepted"
    assert decision.data["result"] == {"number": "A", "total": "5", "currency": None}


async def test_single_keying_in_the_sample_goes_to_review_and_the_review_is_final(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await _job(validation_db, review_sample_rate="0.5")
    item = _sampled("0.5")
    keyed = await _submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "5"}
    )
    (review,) = await _published(validation_db, item)
    assert review.type == "bpo.validation.review.required"
    assert review.data["kind"] == "review"
    assert review.data["entries"] == [
        {
            "task_id": str(keyed.task_id),
            "contractor_id": str(keyed.contractor_id),
            "data": keyed.data,
        }
    ]

    final = await _submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "50"}, kind="review"
    )
    _, accepted = await _published(validation_db, item)
    assert accepted.data["result"] == {"number": "A", "total": "50"}
    assert await _scored(validation_db, item) == {
        str(keyed.task_id): ("entry", "overturned", 2, 1),
        str(final.task_id): ("review", "accepted", 0, 0),
    }

    response = await validation.get(
        f"/v1/items/{item}/decision", headers=tokens.client(job.client_id)
    )
    body = response.json()
    assert body["decision"] == "accepted"
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
    job = await _job(validation_db, mode="double")
    item = new_id()
    first = {"number": "A-1", "total": "1,000.50", "currency": "EUR"}
    one = await _submit(validation_db, validation_settings, job, item, first, expected=2)
    assert await _events(validation_db, item) == [], "one keying of two decides nothing"
    two = await _submit(validation_db, validation_settings, job, item, second, expected=2)
    (decision,) = await _published(validation_db, item)
    assert decision.type == outcome
    if outcome.endswith("review.required"):
        assert decision.data["kind"] == "adjudication"
        assert len(decision.data["entries"]) == 2
        assert await _scored(validation_db, item) == {}, "nothing is settled before adjudication"
    else:
        assert await _scored(validation_db, item) == {
            str(one.task_id): ("entry", "accepted", 3, 3),
            str(two.task_id): ("entry", "accepted", 3, 3),
        }


async def _keyed_differently(
    db: SessionFactory, settings: Settings
) -> tuple[JobCreated, UUID, TaskSubmitted, TaskSubmitted]:
    """A double-keyed item whose two keyings differ on `total`: 7 (right) and 1 (wrong)."""
    job = await _job(db, mode="double")
    item = new_id()
    right = await _submit(db, settings, job, item, {"number": "A", "total": "7"}, expected=2)
    wrong = await _submit(db, settings, job, item, {"number": "A", "total": "1"}, expected=2)
    return job, item, right, wrong


async def test_an_adjudication_settles_each_keying_by_its_fields(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job, item, right, wrong = await _keyed_differently(validation_db, validation_settings)
    final = await _submit(
        validation_db,
        validation_settings,
        job,
        item,
        {"number": "A", "total": "7.00"},
        kind="adjudication",
    )
    assert await _scored(validation_db, item) == {
        str(right.task_id): ("entry", "accepted", 2, 2),
        str(wrong.task_id): ("entry", "overturned", 2, 1),
        str(final.task_id): ("adjudication", "accepted", 0, 0),
    }


async def test_an_adjudication_agreeing_with_no_keying_is_confirmed_by_a_second_adjudicator(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job, item, right, wrong = await _keyed_differently(validation_db, validation_settings)
    alone = await _submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "9"},
        kind="adjudication",
    )  # fmt: skip
    _, again = await _published(validation_db, item)
    assert (again.type, again.data["kind"]) == ("bpo.validation.review.required", "adjudication")
    assert again.data["reason"] == (
        "the adjudicator's total agrees with no keying; a second adjudicator decides"
    )
    shown = [entry["task_id"] for entry in again.data["entries"]]
    assert shown == [str(right.task_id), str(wrong.task_id), str(alone.task_id)]
    assert await _scored(validation_db, item) == {}, "nothing is settled before it is confirmed"

    final = await _submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "7"},
        kind="adjudication",
    )  # fmt: skip
    *_, accepted = await _published(validation_db, item)
    assert accepted.data["result"] == {"number": "A", "total": "7"}
    assert await _scored(validation_db, item) == {
        str(right.task_id): ("entry", "accepted", 2, 2),
        str(wrong.task_id): ("entry", "overturned", 2, 1),
        str(alone.task_id): ("adjudication", "accepted", 0, 0),
        str(final.task_id): ("adjudication", "accepted", 0, 0),
    }


async def test_without_confirmation_the_first_adjudication_is_final_whatever_it_says(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    settings = validation_settings.model_copy(update={"confirm_adjudications": False})
    job, item, _, _ = await _keyed_differently(validation_db, settings)
    await _submit(validation_db, settings, job, item, {"number": "A", "total": "9"},
                  kind="adjudication")  # fmt: skip
    _, accepted = await _published(validation_db, item)
    assert accepted.data["result"] == {"number": "A", "total": "9"}


async def test_a_reviewer_can_reject_the_item_and_no_keying_of_it_stands(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await _job(validation_db, review_sample_rate="1")
    item = new_id()
    keyed = await _submit(
        validation_db, validation_settings, job, item, {"number": "A", "total": "5"}
    )
    rejection = await _submit(
        validation_db, validation_settings, job, item, {}, kind="review",
        rejection="the scan is unreadable",
    )  # fmt: skip

    _, rejected = await _published(validation_db, item)
    assert rejected.type == "bpo.validation.item.rejected"
    assert rejected.data["reason"] == "rejected in review: the scan is unreadable"
    assert await _scored(validation_db, item) == {
        str(keyed.task_id): ("entry", "rejected", 0, 0),
        str(rejection.task_id): ("review", "accepted", 0, 0),
    }
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == "rejected"
    assert decision["entries"][1]["rejection"] == "the scan is unreadable"


async def test_a_control_item_is_judged_against_its_known_answer(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await _job(validation_db)
    keyer = new_id()
    golden = {"number": "G-7", "total": "42"}
    item = new_id()
    await _submit(
        validation_db,
        validation_settings,
        job,
        item,
        {"number": "G-7", "total": "24"},
        golden=golden,
        contractor_id=keyer,
    )
    (decision,) = await _published(validation_db, item)
    assert decision.data["result"] == {"number": "G-7", "total": "42"}
    assert list((await _scored(validation_db, item)).values()) == [("entry", "overturned", 2, 1)]
    quality = (
        await validation.get(f"/v1/contractors/{keyer}/quality", headers=tokens.contractor(keyer))
    ).json()
    assert quality["golden"] == {"judged": 2, "correct": 1, "accuracy": 0.5}
    other = await validation.get(
        f"/v1/contractors/{keyer}/quality", headers=tokens.contractor(new_id())
    )
    assert other.status_code == 404


async def test_a_keyer_below_the_floor_is_suspended_once_with_the_reason(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await _job(validation_db)
    keyer = new_id()
    # Each entry is two judged fields; the floor applies from six: one right of six is 16.7%.
    for n in range(4):
        wrong = {"number": "X" if n else "G", "total": "1"}
        await _submit(
            validation_db,
            validation_settings,
            job,
            new_id(),
            wrong,
            golden={"number": "G", "total": "2"},
            contractor_id=keyer,
        )
    envelope = cast(func.convert_from(outbox_event.c.payload, "UTF8"), JSONB)
    async with validation_db() as session:
        payloads = list(
            await session.scalars(
                select(outbox_event.c.payload).where(
                    envelope[("data", "contractor_id")].as_string() == str(keyer)
                )
            )
        )
    (suspension,) = [e for p in payloads if (e := Envelope.model_validate_json(p)).type != SCORED]
    assert suspension.type == "bpo.validation.contractor.suspended"
    assert suspension.data["reason"] == "accuracy 16.7% over 6 judged fields, below the 75% floor"


async def test_the_rule_engine_dry_run_checks_and_normalizes(
    validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    response = await validation.post(
        "/v1/check",
        json={
            "fields": FIELDS,
            "rules": ["total > 10"],
            "data": {"number": " A ", "total": "5", "currency": "usd"},
        },
        headers=tokens.manager(),
    )
    assert response.json() == {
        "valid": False,
        "errors": [{"field": "rules[0]", "message": "rule not met: total > 10 (total=5)"}],
        "normalized": {"number": "A", "total": "5", "currency": "USD"},
    }
    bad = await validation.post(
        "/v1/check",
        json={"fields": [{"name": "n", "type": "integer", "choices": ["a"]}], "data": {}},
        headers=tokens.manager(),
    )
    assert bad.status_code == 422
    assert [e["field"] for e in bad.json()["errors"]] == ["fields[0].choices"]


@pytest.mark.parametrize(
    ("verified", "outcome", "reason"),
    [
        ({"number": "A-1", "total": "10"}, "accepted", "verified: the client's values stand"),
        (
            {"number": "A-1", "total": "100"},
            "review",
            "the verifier changed total from the client's values",
        ),
    ],
    ids=["kept", "corrected"],
)
async def test_verify_mode_keeps_the_clients_values_or_sends_corrections_to_review(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    verified: dict[str, Any],
    outcome: str,
    reason: str,
) -> None:
    job = await _job(validation_db, mode="verify")
    item = _not_sampled("0")
    await _submit(
        validation_db,
        validation_settings,
        job,
        item,
        verified,
        client_values={"number": "A-1", "total": "10.00"},
    )
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert (decision["decision"], decision["reason"]) == (outcome, reason)


async def test_adaptive_mode_rekeys_until_the_keyer_is_proven_then_trusts_one_keying(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await _job(validation_db, mode="adaptive", target_accuracy="0.95")
    keyer = new_id()
    data = {"number": "N-1", "total": "3"}

    unproven = _not_sampled("0")
    await _submit(validation_db, validation_settings, job, unproven, data, contractor_id=keyer)
    (rekey,) = await _published(validation_db, unproven)
    assert rekey.type == "bpo.validation.keying.required"
    assert rekey.data["reason"] == "the keyer has 0 judged fields on invoice, too few to trust"
    await _submit(validation_db, validation_settings, job, unproven, data, expected=2)
    _, agreed = await _published(validation_db, unproven)
    assert agreed.type == "bpo.validation.item.accepted"

    for _ in range(15):  # with the agreement above: 32 judged fields, all right
        await _submit(
            validation_db,
            validation_settings,
            job,
            new_id(),
            data,
            golden=data,
            contractor_id=keyer,
        )
    trusted = _not_sampled("0")
    await _submit(validation_db, validation_settings, job, trusted, data, contractor_id=keyer)
    (accepted,) = await _published(validation_db, trusted)
    assert accepted.type == "bpo.validation.item.accepted"
    decision = (
        await validation.get(f"/v1/items/{trusted}/decision", headers=tokens.manager())
    ).json()
    assert decision["reason"] == "one keying: the keyer's accuracy 100.0% meets 95.0%"


PURCHASE_ORDERS = 'po,vendor,amount\nPO-1,ACME,"1,000.50"\nPO-2,Globex,20\n'


@pytest.mark.parametrize(
    ("keyed", "outcome", "reason"),
    [
        ({"number": "po-1", "total": "1000.49", "vendor": "acme"}, "accepted", None),
        (
            {"number": "PO-9", "total": "5", "vendor": "ACME"},
            "review",
            "reference check: number PO-9 is not in purchase-orders",
        ),
        (
            {"number": "PO-1", "total": "1000.60", "vendor": "ACME"},
            "review",
            "reference check: total 1000.60 differs from amount 1,000.50 by more than 0.05",
        ),
        (
            {"number": "PO-2", "total": "20", "vendor": "ACME"},
            "review",
            "reference check: vendor ACME is not vendor Globex",
        ),
    ],
    ids=["matches-within-tolerance", "unknown-key", "amount-off", "other-vendor"],
)
async def test_a_lookup_mismatch_is_an_exception_routed_to_review_with_its_reason(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    keyed: dict[str, Any],
    outcome: str,
    reason: str | None,
) -> None:
    lookup = {
        "dataset": "purchase-orders",
        "checks": [
            {"field": "total", "column": "amount", "tolerance": "0.05"},
            {"field": "vendor", "column": "vendor"},
        ],
    }
    job = await _job(
        validation_db,
        fields=[
            {"name": "number", "type": "string", "lookup": lookup},
            {"name": "total", "type": "decimal", "decimal_places": 2},
            {"name": "vendor", "type": "string", "case": "upper"},
        ],
    )
    uploaded = await validation.put(
        "/v1/reference-datasets/purchase-orders?key=po",
        content=PURCHASE_ORDERS,
        headers={**tokens.client(job.client_id), "Content-Type": "text/csv"},
    )
    assert uploaded.json()["row_count"] == 2
    item = new_id()
    await _submit(validation_db, validation_settings, job, item, keyed)
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == outcome
    if reason is not None:
        assert decision["reason"] == reason
        (review,) = await _published(validation_db, item)
        assert review.data["reason"] == reason


async def test_a_lookup_into_a_dataset_never_uploaded_goes_to_review(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await _job(
        validation_db,
        fields=[{"name": "number", "type": "string", "lookup": {"dataset": "vendors"}}],
    )
    item = new_id()
    await _submit(validation_db, validation_settings, job, item, {"number": "V-1"})
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == "review"
    assert decision["reason"] == (
        "reference check: there is no reference dataset vendors to find number in"
    )


async def test_quality_figures_equal_the_hand_computed_ones_of_a_scripted_scenario(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    double = await _job(validation_db, mode="double")
    single = await _job(validation_db)
    a, b, c = new_id(), new_id(), new_id()

    async def keyed_twice(first: dict[str, Any], second: dict[str, Any]) -> UUID:
        item = new_id()
        for keyer, data in ((a, first), (b, second)):
            await _submit(
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
        await _submit(
            validation_db, validation_settings, double, item, final, kind="adjudication",
            contractor_id=c,
        )  # fmt: skip
    # A control item: a gets the total wrong.
    await _submit(
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


async def test_a_job_announced_twice_is_kept_once_as_first_announced(
    validation_db: SessionFactory,
) -> None:
    job = await _job(validation_db)
    copy = job.model_copy(update={"work_type": "changed"})
    async with validation_db() as session, session.begin():
        await service.record_job(session, copy)
    async with validation_db() as session:
        rules = await service.job_rules(session, job.job_id, None)
    assert rules.work_type == "invoice"


TABLE_FIELDS: list[dict[str, Any]] = [
    {
        "name": "number",
        "type": "string",
        "case": "upper",
        "lookup": {"dataset": "orders", "checks": [{"field": "total", "column": "amount"}]},
    },
    {"name": "total", "type": "decimal", "decimal_places": 2},
]
RIGHT = {"number": "PO-1", "total": "10"}
SAME = {"number": "po-1", "total": "10.00"}
OTHER = {"number": "PO-1", "total": "11"}
INVALID = {"number": "PO-1", "total": "ten"}
OFF = {"number": "PO-1", "total": "12"}  # valid, but not what the purchase order says
REVIEWER = new_id()
BAD_TOTAL = "total: not a number"
NOT_THE_ORDER = "reference check: total 12.00 is not amount 10.00"
UNPROVEN = "the keyer has 0 judged fields on invoice, too few to trust"

# mode -> case -> (the entries in order, the decision, its reason); an entry is the keyed
# values, or ("review", values) for a reviewer's. Golden rows carry RIGHT as the known answer.
DECISION_TABLE: dict[str, dict[str, tuple[list[Any], str, str]]] = {
    "single": {
        "agree": ([SAME], "accepted", "single keying, valid"),
        "disagree": (
            [OTHER, ("review", {"number": "PO-1", "total": "10.00"})],
            "accepted",
            f"review by {REVIEWER} is final",
        ),
        "invalid": ([INVALID], "review", f"keying 1 of 1 fails the job's rules: {BAD_TOTAL}"),
        "golden": ([OTHER], "accepted", "control item: the known answer stands"),
        "lookup mismatch": ([OFF], "review", NOT_THE_ORDER),
    },
    "double": {
        "agree": ([RIGHT, SAME], "accepted", "2 keyings agree"),
        "disagree": ([RIGHT, OTHER], "review", "keyings differ on total"),
        "invalid": (
            [RIGHT, INVALID],
            "review",
            f"keying 2 of 2 fails the job's rules: {BAD_TOTAL}",
        ),
        "golden": ([OTHER, RIGHT], "accepted", "control item: the known answer stands"),
        "lookup mismatch": ([OFF, OFF], "review", NOT_THE_ORDER),
    },
    "verify": {
        "agree": ([SAME], "accepted", "verified: the client's values stand"),
        "disagree": (
            [OTHER],
            "review",
            "the verifier changed total from the client's values",
        ),
        "invalid": ([INVALID], "review", f"keying 1 of 1 fails the job's rules: {BAD_TOTAL}"),
        "golden": ([OTHER], "accepted", "control item: the known answer stands"),
        "lookup mismatch": ([OFF], "review", NOT_THE_ORDER),  # the client's values disagree
    },
    "adaptive": {
        "agree": ([RIGHT, SAME], "accepted", "2 keyings agree"),
        "disagree": ([RIGHT, OTHER], "review", "keyings differ on total"),
        "invalid": ([INVALID], "review", f"keying 1 of 1 fails the job's rules: {BAD_TOTAL}"),
        "golden": ([OTHER], "accepted", "control item: the known answer stands"),
        "lookup mismatch": ([OFF, OFF], "review", NOT_THE_ORDER),
    },
}


@pytest.mark.parametrize(
    ("mode", "case"),
    [(mode, case) for mode, cases in DECISION_TABLE.items() for case in cases],
    ids=[f"{mode}-{case}" for mode, cases in DECISION_TABLE.items() for case in cases],
)
async def test_the_decision_table_holds_for_every_mode_and_case(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    mode: str,
    case: str,
) -> None:
    steps, decision, reason = DECISION_TABLE[mode][case]
    verify = mode == "verify"
    job = await _job(
        validation_db,
        fields=TABLE_FIELDS,
        mode=mode,
        review_sample_rate="1" if (mode, case) == ("single", "disagree") else "0",
    )
    uploaded = await validation.put(
        "/v1/reference-datasets/orders?key=po",
        content="po,amount\nPO-1,10.00\n",
        headers={**tokens.client(job.client_id), "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    item = _not_sampled("0")
    keyings = [step for step in steps if not isinstance(step, tuple)]
    for n, step in enumerate(steps, 1):
        if isinstance(step, tuple):
            await _submit(
                validation_db, validation_settings, job, item, step[1], kind="review",
                contractor_id=REVIEWER,
            )  # fmt: skip
            continue
        await _submit(
            validation_db,
            validation_settings,
            job,
            item,
            step,
            expected={"double": len(keyings), "adaptive": n}.get(mode, 1),
            golden=RIGHT if case == "golden" else None,
            client_values=(OFF if case == "lookup mismatch" else RIGHT) if verify else None,
        )
        if mode == "adaptive" and len(keyings) == 2 and n == 1:
            (rekey,) = await _published(validation_db, item)
            assert rekey.data["reason"] == UNPROVEN
    shown = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert (shown["decision"], shown["reason"]) == (decision, reason)
    last = (await _published(validation_db, item))[-1]
    if decision == "accepted":
        assert last.type == "bpo.validation.item.accepted"
        assert last.data["result"] == {"number": "PO-1", "total": "10.00"}
    else:
        assert (last.type, last.data["reason"]) == ("bpo.validation.review.required", reason)

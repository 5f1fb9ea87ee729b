"""Verify and adaptive QC, and lookups into the client's reference data."""

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest

from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import JobCreated
from bpo_common.contracts.validation import KeyerTrustChanged
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, outbox_events
from bpo_validation.models import JobAccuracy
from bpo_validation.settings import Settings

from .submissions import a_thousand_items, accuracy_said, new_item, new_job, published, submit


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
    job = await new_job(validation_db, mode="verify")
    item = new_item("0", sampled=False)
    await submit(
        validation_db,
        validation_settings,
        job,
        item,
        verified,
        client_values={"number": "A-1", "total": "10.00"},
    )
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert (decision["decision"], decision["reason"]) == (outcome, reason)


async def test_adaptive_mode_keys_twice_until_the_job_can_afford_a_proven_keyer_alone(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    # A work type of its own: the crew is this test's two keyers.
    work_type = f"adaptive-{new_id().hex[-8:]}"
    job = await new_job(validation_db, work_type=work_type, mode="adaptive", target_accuracy="0.95")
    proven, other = await _proven(validation_db, validation_settings, job)
    data = {"number": "N-1", "total": "3"}

    rekeyed: list[str] = []
    for _ in range(30):
        item = new_item("0", sampled=False)
        await submit(validation_db, validation_settings, job, item, data, contractor_id=proven)
        (ruled,) = await published(validation_db, item)
        if ruled.type == "bpo.validation.item.accepted":
            break
        assert ruled.type == "bpo.validation.keying.required"
        rekeyed.append(ruled.data["reason"])
        await submit(
            validation_db, validation_settings, job, item, data, expected=2, contractor_id=other
        )
        assert (await published(validation_db, item))[-1].type == "bpo.validation.item.accepted"
    else:
        raise AssertionError(f"never trusted alone: {rekeyed[-1]}")
    assert rekeyed, "a job's first item is never carried by one keying"
    assert all(reason.startswith("keyed again: with the keyer's item") for reason in rekeyed)
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["reason"].startswith("one keying: the keyer's item accuracy")

    shown = await validation.get(f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.manager())
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["mode"], body["target"], body["method"]) == (
        "adaptive",
        "0.95",
        "beta-posterior-ledger",
    )
    assert body["judged"] >= 2 * 80, "the two keyers' control items at least"
    assert (body["items"], body["single_keyed"], body["keyed_twice"]) == (
        len(rekeyed) + 1,
        1,
        len(rekeyed),
    )
    assert body["lower"] <= body["estimate"] <= body["upper"] <= 1
    assert body["meets_target"] is (body["assured"] >= 0.95)
    own = await validation.get(
        f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.client(job.client_id)
    )
    assert own.json() == body, "the job's client sees the same"
    other_client = await validation.get(
        f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.client(new_id())
    )
    assert other_client.status_code == 404, other_client.text

    said = await accuracy_said(validation_db, validation_settings, job)
    assert said is not None, "an adaptive job says what it delivered"
    assert {key: said[key] for key in ("job_id", "target", "items", "single_keyed")} == {
        "job_id": str(job.job_id),
        "target": "0.95",
        "items": body["items"],
        "single_keyed": 1,
    }
    assert said["met"] is True
    assert said["assured"] == pytest.approx(body["assured"])
    assert body["lower"] <= said["assured"] <= body["estimate"]
    after = await validation.get(f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.manager())
    assert after.json()["delivered_at"] is not None


async def test_adaptive_mode_holds_the_bound_over_the_jobs_items_received(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    """With the job's thousand items known, its first item need not reach the target alone:
    a proven keyer's first keying of it stands."""
    work_type = f"adaptive-{new_id().hex[-8:]}"
    job = await new_job(validation_db, work_type=work_type, mode="adaptive", target_accuracy="0.95")
    proven, _ = await _proven(validation_db, validation_settings, job)
    await a_thousand_items(validation_db, job)
    item = new_item("0", sampled=False)
    data = {"number": "N-1", "total": "3"}
    await submit(validation_db, validation_settings, job, item, data, contractor_id=proven)
    (ruled,) = await published(validation_db, item)
    assert ruled.type == "bpo.validation.item.accepted"
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["reason"].startswith("one keying: the keyer's item accuracy")


async def test_a_ledger_kept_before_the_shared_doubt_is_read_as_having_none(
    validation_db: SessionFactory, validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    """Shares kept as four numbers (items, expected, variance, sd) still load."""
    job = await new_job(validation_db, mode="adaptive", target_accuracy="0.95")
    keyer = new_id()
    async with validation_db() as session, session.begin():
        session.add(
            JobAccuracy(
                job_id=job.job_id,
                checked=[10, 9.99, 0.0099, 0.0],
                partly=[0, 0, 0, 0],
                carried={str(keyer): [10, 9.9, 0.099, 0.01]},
                updated_at=datetime.now(UTC),
            )
        )
    shown = await validation.get(f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.manager())
    assert shown.status_code == 200, shown.text
    body = shown.json()
    assert (body["items"], body["single_keyed"], body["keyed_twice"]) == (20, 10, 10)
    assert body["lower"] <= body["estimate"] <= body["upper"]


async def _proven(db: SessionFactory, settings: Settings, job: JobCreated) -> tuple[UUID, UUID]:
    """Two keyers of the job's work type, each right on 40 control items (80 judged fields)."""
    keyers = new_id(), new_id()
    data = {"number": "N-1", "total": "3"}
    for keyer in keyers:
        for _ in range(40):
            await submit(db, settings, job, new_id(), data, golden=data, contractor_id=keyer)
    return keyers


async def test_a_keyer_well_below_the_crew_is_said_doubtful_to_intake_once(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    work_type = f"routing-{new_id().hex[-8:]}"
    job = await new_job(validation_db, work_type=work_type, mode="adaptive")
    good, poor = new_id(), new_id()
    data, wrong = {"number": "N-1", "total": "3"}, {"number": "X-9", "total": "4"}
    for n in range(40):
        await submit(
            validation_db, validation_settings, job, new_id(), data, golden=data,
            contractor_id=good,
        )  # fmt: skip
        await submit(
            validation_db, validation_settings, job, new_id(), wrong if n % 2 else data,
            golden=data, contractor_id=poor,
        )  # fmt: skip
    mark = new_id()
    for keyer in (good, poor, poor):
        await submit(validation_db, validation_settings, job, new_id(), data, contractor_id=keyer)
    said = [
        envelope.data
        for envelope in await outbox_events(validation_db)
        if envelope.id > mark and envelope.type == KeyerTrustChanged.event_type
    ]
    assert [(event["contractor_id"], event["work_type"], event["doubtful"]) for event in said] == [
        (str(poor), work_type, True)
    ], "said once, of the poor keyer only"
    assert said[0]["item_accuracy"] < said[0]["crew_item_accuracy"]


async def test_a_job_not_in_adaptive_mode_shows_no_delivered_accuracy(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db, mode="double")
    item = new_id()
    for keyer in (new_id(), new_id()):
        data = {"number": "N-1", "total": "3"}
        await submit(
            validation_db, validation_settings, job, item, data, expected=2, contractor_id=keyer
        )
    body = (
        await validation.get(f"/v1/jobs/{job.job_id}/accuracy", headers=tokens.manager())
    ).json()
    assert (body["mode"], body["items"], body["estimate"], body["meets_target"]) == (
        "double",
        0,
        None,
        None,
    )
    missing = await validation.get(f"/v1/jobs/{new_id()}/accuracy", headers=tokens.manager())
    assert missing.status_code == 404, missing.text
    assert await accuracy_said(validation_db, validation_settings, job) is None


PURCHASE_ORDERS = 'po,vendor,amount\nPO-1,ACME,"1,000.50"\nPO-2,Globex,20\n'


async def _looking_up(
    db: SessionFactory, validation: httpx.AsyncClient, tokens: Tokens, **qc: Any
) -> JobCreated:
    """A job whose order number is looked up in the client's purchase orders."""
    lookup = {
        "dataset": "purchase-orders",
        "checks": [
            {"field": "total", "column": "amount", "tolerance": "0.05"},
            {"field": "vendor", "column": "vendor"},
        ],
    }
    job = await new_job(
        db,
        fields=[
            {"name": "number", "type": "string", "lookup": lookup},
            {"name": "total", "type": "decimal", "decimal_places": 2},
            {"name": "vendor", "type": "string", "case": "upper"},
        ],
        **qc,
    )
    uploaded = await validation.put(
        "/v1/reference-datasets/purchase-orders?key=po",
        content=PURCHASE_ORDERS,
        headers={**tokens.client(job.client_id), "Content-Type": "text/csv"},
    )
    assert uploaded.json()["row_count"] == 2
    return job


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
    job = await _looking_up(validation_db, validation, tokens)
    item = new_id()
    await submit(validation_db, validation_settings, job, item, keyed)
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == outcome
    if reason is not None:
        assert decision["reason"] == reason
        (review,) = await published(validation_db, item)
        assert review.data["reason"] == reason


async def test_an_adjudicators_order_the_client_lacks_is_accepted_and_the_decision_says_so(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await _looking_up(validation_db, validation, tokens, mode="double")
    item, adjudicator = new_id(), new_id()
    # The adjudicator picks the keying whose order the client's purchase orders lack.
    for number, total in (("PO-9", "1000.50"), ("PO-1", "1000.40")):
        keyed = {"number": number, "total": total, "vendor": "ACME"}
        await submit(validation_db, validation_settings, job, item, keyed, expected=2)
    chosen = {"number": "PO-9", "total": "1000.50", "vendor": "ACME"}
    await submit(validation_db, validation_settings, job, item, chosen,
                 kind=TaskKind.ADJUDICATION, contractor_id=adjudicator)  # fmt: skip

    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert (decision["decision"], decision["result"]) == ("accepted", chosen)
    assert decision["reason"] == (
        f"adjudication by {adjudicator} is final; "
        "reference check: number PO-9 is not in purchase-orders"
    )


async def test_a_lookup_into_a_dataset_never_uploaded_goes_to_review(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(
        validation_db,
        fields=[{"name": "number", "type": "string", "lookup": {"dataset": "vendors"}}],
    )
    item = new_id()
    await submit(validation_db, validation_settings, job, item, {"number": "V-1"})
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == "review"
    assert decision["reason"] == (
        "reference check: there is no reference dataset vendors to find number in"
    )

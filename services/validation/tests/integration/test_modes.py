"""Verify and adaptive QC, and lookups into the client's reference data."""

from typing import Any

import httpx
import pytest

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.settings import Settings

from .submissions import new_item, new_job, published, submit


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


async def test_adaptive_mode_rekeys_until_the_keyer_is_proven_then_trusts_one_keying(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db, mode="adaptive", target_accuracy="0.95")
    keyer = new_id()
    data = {"number": "N-1", "total": "3"}

    unproven = new_item("0", sampled=False)
    await submit(validation_db, validation_settings, job, unproven, data, contractor_id=keyer)
    (rekey,) = await published(validation_db, unproven)
    assert rekey.type == "bpo.validation.keying.required"
    assert rekey.data["reason"] == "the keyer has 0 judged fields on invoice, too few to trust"
    await submit(validation_db, validation_settings, job, unproven, data, expected=2)
    _, agreed = await published(validation_db, unproven)
    assert agreed.type == "bpo.validation.item.accepted"

    for _ in range(15):  # with the agreement above: 32 judged fields, all right
        await submit(
            validation_db,
            validation_settings,
            job,
            new_id(),
            data,
            golden=data,
            contractor_id=keyer,
        )
    trusted = new_item("0", sampled=False)
    await submit(validation_db, validation_settings, job, trusted, data, contractor_id=keyer)
    (accepted,) = await published(validation_db, trusted)
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
    job = await new_job(
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
    await submit(validation_db, validation_settings, job, item, keyed)
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == outcome
    if reason is not None:
        assert decision["reason"] == reason
        (review,) = await published(validation_db, item)
        assert review.data["reason"] == reason


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

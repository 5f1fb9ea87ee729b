"""The decision table: each QC mode against agreeing, differing, invalid, golden and
lookup-mismatched entries."""

from typing import Any

import httpx
import pytest

from bpo_common.contracts import TaskKind
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.settings import Settings

from .submissions import new_item, new_job, published, submit

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
# Adaptive QC on a job's first item: one keying alone cannot promise the target.
UNPROVEN = "keyed again: "

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
    job = await new_job(
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
    item = new_item("0", sampled=False)
    keyings = [step for step in steps if not isinstance(step, tuple)]
    for n, step in enumerate(steps, 1):
        if isinstance(step, tuple):
            await submit(
                validation_db, validation_settings, job, item, step[1], kind=TaskKind.REVIEW,
                contractor_id=REVIEWER,
            )  # fmt: skip
            continue
        await submit(
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
            (rekey,) = await published(validation_db, item)
            assert rekey.data["reason"].startswith(UNPROVEN)
    shown = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert (shown["decision"], shown["reason"]) == (decision, reason)
    last = (await published(validation_db, item))[-1]
    if decision == "accepted":
        assert last.type == "bpo.validation.item.accepted"
        assert last.data["result"] == {"number": "PO-1", "total": "10.00"}
        # Two keyings settled it (agreeing, or an adjudicator between them): a control's
        # answer, where the client allows it; never a control's own result.
        assert last.data["agreed"] is (len(keyings) >= 2 and case != "golden")
    else:
        assert (last.type, last.data["reason"]) == ("bpo.validation.review.required", reason)

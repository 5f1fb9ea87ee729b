"""A decision's reason cut in SQL, as an erasure stores it (bpo_common.erasure.untyped_reason),
on PostgreSQL itself: the same cut as the stream's copies get (reasons.untyped)."""

import pytest
from sqlalchemy import String, literal, select

from bpo_common.contracts import TaskKind, reasons
from bpo_common.contracts.intake import ERASED_REASON
from bpo_common.erasure import untyped_reason

from .conftest import Plumbing

VERIFIED = "verified: the client's values stand"
ASSISTED = "assisted: the keyer confirmed the machine's values on all 5 fields"


@pytest.mark.parametrize(
    ("reason", "kept"),
    [
        (reasons.matched("2 keyings agree", "PO-4711"), "2 keyings agree; matches order"),
        (reasons.matched(VERIFIED, "PO-4711"), f"{VERIFIED}; matches order"),
        (reasons.matched(ASSISTED, "PO-4711"), f"{ASSISTED}; matches order"),
        (reasons.matched("sampled for review at rate 0.1; reference check: po PO-9 is not in po",
                         "PO-9"), "sampled for review at rate 0.1; reference check; matches order"),
        (reasons.together(reasons.unmatched(["lines[0]: sku ABC-1: 12 invoiced, 10 ordered",
                                             "total 51.00 is not 50.00"]),
                          reasons.reference_check(["po PO-9 is not in po"])),
         "does not match its purchase order; reference check"),
        # Written so before the order was set apart with a separator.
        ("single keying, valid; matches order PO-4711", "single keying, valid; matches order"),
        (f"{VERIFIED}; matches order PO-4711", f"{VERIFIED}; matches order"),
        (reasons.unreadable(["the IBAN of Anna Schmidt; is cut off", ""]), "marked unreadable"),
        (reasons.rejected(TaskKind.REVIEW, "call Anna: 555-0100"), "rejected in review"),
        # Nothing typed nor quoted: whole.
        (ERASED_REASON, ERASED_REASON),
        ("keyings differ on total, vendor", "keyings differ on total, vendor"),
        ("; sampled", "; sampled"),
        ("", ""),
        (None, None),
    ],
    ids=["matched", "verified-matched", "assisted-matched", "checked-matched",
         "unmatched-and-checked", "matched-before", "verified-matched-before", "unreadable",
         "rejected", "erased", "nothing-typed", "leading-and", "empty", "none"],
)  # fmt: skip
async def test_a_reason_is_cut_in_sql_to_its_fixed_words_as_in_python(
    plumbing: Plumbing, reason: str | None, kept: str | None
) -> None:
    async with plumbing.sessions() as session:
        cut = await session.scalar(select(untyped_reason(literal(reason, String))))
    assert cut == kept
    if reason is not None:
        assert reasons.untyped(reason) == kept

"""Adaptive QC on items with tables: an item is right only if every field and every cell is,
so a keying is worth the product over its fields and over each column's cells, row by row;
items without tables are valued as they always were."""

import math
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from bpo_common.contracts import QcMode, QcPolicy
from bpo_common.rules import JobSpec
from bpo_validation.domain.accuracy import (
    KeyerAccuracy,
    Ledger,
    Share,
    Trust,
    beliefs,
    both_wrong,
    crew_beliefs,
)
from bpo_validation.domain.crew import Crew, Tally, posterior, shared
from bpo_validation.domain.fields import judged_fields, table_rows
from bpo_validation.domain.verdicts import Ruling
from bpo_validation.service.accuracy import share_kept

from .walking import keying, walk

INVOICE = JobSpec.model_validate(
    {
        "fields": [
            {"name": "vendor", "type": "string"},
            {
                "name": "lines",
                "type": "table",
                "columns": [
                    {"name": "sku", "type": "string"},
                    {"name": "qty", "type": "integer"},
                ],
            },
        ]
    }
)
NAMES = judged_fields(INVOICE)
# Ten keyers alike, each right on 99 % of their fields and cells.
CREW = Crew({UUID(int=n): {name: Tally(10000, 9900) for name in NAMES} for n in range(10)})
KEYER = UUID(int=1)
ONE, FIFTY = (("lines", 1),), (("lines", 50),)


def _invoice(rows: int) -> dict[str, Any]:
    return {"vendor": "ACME", "lines": [{"sku": f"S-{n}", "qty": n} for n in range(rows)]}


def test_a_keying_is_right_only_if_every_cell_of_its_rows_is() -> None:
    assert table_rows(INVOICE, _invoice(50)) == FIFTY
    assert table_rows(INVOICE, {"vendor": "ACME"}) == (("lines", 0),)
    mine = beliefs(NAMES, CREW, CREW.by_keyer[KEYER])
    fifty, one = mine.trust(FIFTY), mine.trust(ONE)
    # One field and 50 rows of two cells: 101 chances of 99 % each.
    assert fifty.p == pytest.approx(0.99**101, rel=0.01)
    assert fifty.p < 0.37
    assert one.p == pytest.approx(0.99**3, rel=0.001)
    assert (fifty.cells, fifty.rows) == ((1, 50, 50), FIFTY)
    # A column's cells err with one parameter: its doubt grows with the rows, not their root.
    grown = math.sqrt((1 + 2 * 50**2) / 3)
    assert fifty.sd / fifty.p == pytest.approx(grown * one.sd / one.p)
    assert fifty.shared / fifty.p == pytest.approx(grown * one.shared / one.p)
    # Keyed twice, the item is wrong where both keyings erred on one of its 101 cells.
    twice = crew_beliefs(NAMES, CREW).twice(FIFTY)
    assert twice.p == pytest.approx(1 - 101 * 0.01**2, rel=1e-4)
    assert twice.rows == FIFTY


@pytest.mark.parametrize(
    ("rows", "ruling", "reason"),
    [
        (50, Ruling.SECOND_KEYING,
         "keyed again: with the keyer's item accuracy 36.24% alone the job's delivered accuracy "
         "could fall to 29.515%, under its target 95.00%"),
        (1, Ruling.ACCEPT,
         "one keying: the keyer's item accuracy 97.03% keeps the job's delivered accuracy at "
         "95.726% or more (99 % confidence), target 95.00%"),
    ],
    ids=["fifty-lines", "one-line"],
)  # fmt: skip
def test_adaptive_qc_keys_again_an_invoice_whose_many_lines_make_one_keying_likely_wrong(
    rows: int, ruling: Ruling, reason: str
) -> None:
    """The same keyer and job: one line may stand alone, fifty may not."""
    policy = QcPolicy(mode=QcMode.ADAPTIVE, target_accuracy=Decimal("0.95"))
    keyer = KeyerAccuracy(CREW.by_keyer[KEYER], CREW, Ledger(size=1000))
    (verdict,) = walk(INVOICE, policy, [keying(_invoice(rows))], keyer=keyer, found={})
    assert (verdict.ruling, verdict.reason) == (ruling, reason)
    # Routing reads the item accuracy of this keying, rows and all.
    assert verdict.trust is not None
    assert verdict.trust[0] == pytest.approx(0.99 ** (1 + 2 * rows), rel=0.01)
    assert verdict.ledger is not None
    (counted,) = [share for share in verdict.ledger.shares if share.items]
    assert counted.sizes == {(("lines", rows),): 1}


def test_the_ledger_values_each_item_again_at_its_own_rows() -> None:
    mine, crew = beliefs(NAMES, CREW, {}), crew_beliefs(NAMES, CREW)
    ledger = Ledger()
    for rows in (ONE, FIFTY, FIFTY):
        ledger = ledger.add_single(KEYER, mine.trust(rows)).add_checked(crew.twice(rows))
    # Later, the keyer's record is known to be better than the crew's.
    better = beliefs(NAMES, CREW, {name: Tally(20000, 19980) for name in NAMES})
    now = ledger.refreshed({KEYER: better.trust}).rechecked(crew.twice)
    carried = now.carried[KEYER]
    assert carried.sizes == {ONE: 1, FIFTY: 2}
    assert carried.expected == pytest.approx(better.trust(ONE).p + 2 * better.trust(FIFTY).p)
    assert carried.sd == pytest.approx(better.trust(ONE).sd + 2 * better.trust(FIFTY).sd)
    assert now.checked.expected == pytest.approx(crew.twice(ONE).p + 2 * crew.twice(FIFTY).p)
    # A share kept before rows were counted: its items are valued as they were, a row each.
    kept = Share(1, 0.97, 0.03, 0.0, 0.0, {(): 1}).at(better.trust)
    assert kept.expected == pytest.approx(better.trust(ONE).p)


# Five fields, no table, keyers unalike (two groups): as the QC bench keys.
FIELDS = ["invoice_number", "vendor", "invoice_date", "total", "currency"]
UNALIKE = Crew(
    {
        UUID(int=n): {
            name: Tally(3000 + 97 * n, 3000 + 97 * n - (2 + 3 * k if n % 2 else 40 + 9 * k))
            for k, name in enumerate(FIELDS)
        }
        for n in range(8)
    }
)


def _as_before(own: dict[str, Tally]) -> Trust:
    """A single keying as valued before tables counted by their rows: one factor a field."""
    p, relative_variance, relative_shared, errors, crews = 1.0, 0.0, 0.0, [], []
    for name in FIELDS:
        belief = posterior(UNALIKE, name, own)
        p *= belief.mean
        relative_variance += belief.variance / (belief.mean * belief.mean)
        relative_shared += (shared(UNALIKE, name, own) / belief.mean) ** 2
        errors.append((1 - belief.mean, math.sqrt(belief.variance)))
        crews.append(1 - posterior(UNALIKE, name, {}).mean)
    sd, doubt = p * math.sqrt(relative_variance), p * math.sqrt(relative_shared)
    return Trust(p, sd, tuple(errors), tuple(FIELDS), tuple(crews), doubt)


@pytest.mark.parametrize("keyer", [1, 2, 9])
def test_items_without_tables_are_valued_exactly_as_before(keyer: int) -> None:
    spec = JobSpec.model_validate({"fields": [{"name": n, "type": "string"} for n in FIELDS]})
    own = dict(UNALIKE.by_keyer.get(UUID(int=keyer), {}))
    rows = table_rows(spec, dict.fromkeys(FIELDS, "x"))
    assert rows == ()
    single = beliefs(judged_fields(spec), UNALIKE, own).trust(rows)
    before = _as_before(own)
    assert (single.p, single.sd, single.shared) == (before.p, before.sd, before.shared)
    assert (single.errors, single.names, single.crew_errors) == (
        before.errors,
        before.names,
        before.crew_errors,
    )
    # Keyed twice: wrong where both keyings erred on one field, as before.
    crew = crew_beliefs(FIELDS, UNALIKE).trust(rows)
    pairs = list(zip(before.errors, crew.errors, strict=True))
    missed = sum(one * other for (one, _), (other, _) in pairs)
    common = sum((b * sd_a) ** 2 + (a * sd_b) ** 2 for (a, sd_a), (b, sd_b) in pairs)
    twice = both_wrong(single, crew)
    assert (twice.p, twice.sd, twice.shared) == (1 - missed, 0.0, math.sqrt(common))
    many = Ledger()
    for _ in range(7):
        many = many.add_single(KEYER, single)
    again = many.carried[KEYER].at(lambda _: before)
    assert (again.expected, again.variance, again.sd, again.shared) == (
        7 * before.p,
        7 * before.p * (1 - before.p),
        7 * before.sd,
        7 * before.shared,
    )


def test_a_share_kept_counts_the_items_its_rows_do_not_as_of_one_row_a_table() -> None:
    row = [3, 2.5, 0.01, 0.1, 0.0]
    fifty = [[{"lines": 50}, 1]]
    assert share_kept(row, fifty).sizes == {(("lines", 50),): 1, (): 2}
    # Kept before rows were counted, or rows of other items (a replica of the release before
    # wrote the share again, fewer items than they count): each item of one row a table.
    assert share_kept(row, None).sizes == {(): 3}
    assert share_kept(row, [[{"lines": 50}, 5]]).sizes == {(): 3}
    assert share_kept(row, [[{"lines": 50}, 3]]).sizes == {(("lines", 50),): 3}

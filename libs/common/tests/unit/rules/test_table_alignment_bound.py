"""Aligning two large keyings of a table that differ throughout compares each row with those
near its place only (`rows.BAND`), not with every row of the other keying."""

import pytest

from bpo_common.rules import FieldSpec, rows
from bpo_common.rules.rows import BAND, align

WIDE = FieldSpec.model_validate(
    {
        "name": "lines",
        "type": "table",
        "columns": [{"name": f"c{n}", "type": "string"} for n in range(10)],
    }
)


def _rows(prefix: str, count: int, edited: int = 1) -> list[dict[str, str]]:
    """`count` rows, each with `edited` cells of its own (the rest shared by both keyings)."""
    return [
        {f"c{n}": f"{prefix}{r}" if n < edited else f"same{r}-{n}" for n in range(10)}
        for r in range(count)
    ]


def test_500_rows_that_differ_throughout_are_compared_near_their_place_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared = 0
    share = rows._differing_share

    def counted(a: tuple[object, ...], b: tuple[object, ...]) -> float:
        nonlocal compared
        compared += 1
        return share(a, b)

    monkeypatch.setattr(rows, "_differing_share", counted)
    paired = align(WIDE, _rows("a", 500, edited=10), _rows("b", 500, edited=10))
    assert paired == [(n, n) for n in range(500)]
    assert compared <= 500 * (2 * BAND + 1), f"{compared} row pairs compared"


def test_rows_shifted_within_the_band_still_pair_with_their_own() -> None:
    first = _rows("a", 300)
    # The second keyer left out the first five rows and added three at the end.
    second = _rows("b", 300)[5:] + _rows("extra", 3)
    paired = align(WIDE, first, second)
    assert paired[:5] == [(n, None) for n in range(5)]
    assert paired[5:300] == [(n, n - 5) for n in range(5, 300)]
    assert paired[300:] == [(None, j) for j in range(295, 298)]

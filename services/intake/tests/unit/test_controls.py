"""Control items injected at claim: how often a claim draws one, and the copy it gets."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest

from bpo_common.crypto import LocalKeyRing, is_sealed, new_data_key, new_kek
from bpo_common.rules import spec_for
from bpo_intake.domain.controls import PoolItem, Resealer, answer_fits, chance, control_item
from bpo_intake.domain.jobs import ItemStatus

NOW = datetime(2031, 1, 1, tzinfo=UTC)
POOL_JOB, JOB, CLIENT = UUID(int=1), UUID(int=2), UUID(int=3)


@pytest.mark.parametrize(
    ("rate", "wary", "expected"),
    [
        ("0", True, "0"),
        ("0.05", False, "0.05"),
        ("0.05", True, "0.10"),
        ("0.3", True, "0.5"),
        # A rate above the cap is not lowered for anyone.
        ("0.8", True, "0.8"),
        ("1", True, "1"),
    ],
)
def test_a_new_or_doubted_keyer_draws_controls_twice_as_often_up_to_one_in_two(
    rate: str, wary: bool, expected: str
) -> None:
    assert chance(Decimal(rate), wary=wary) == Decimal(expected)


def test_a_control_copies_the_pool_item_with_its_personal_values_sealed_for_its_own_job() -> None:
    ring = LocalKeyRing.parse(new_kek("k1"))
    (old, _), (new, _) = new_data_key(ring, POOL_JOB), new_data_key(ring, JOB)
    fields: list[dict[str, Any]] = [
        {"name": "holder", "type": "string", "pii": True},
        {"name": "total", "type": "decimal"},
    ]
    personal = spec_for(JOB, fields, [], None).personal
    known = {"holder": "Jane Doe", "total": "9.50"}
    pool = PoolItem(
        id=UUID(int=9),
        job_id=POOL_JOB,
        source=personal.seal({"holder": "Jane Doe", "scan": "1.png"}, old),
        golden=personal.seal(known, old),
        documents=[UUID(int=10)],
        layout_id=UUID(int=11),
        suggestions={
            "holder": {"value": old.seal("Jane Do"), "confidence": 0.9, "planted": True},
            "total": {"value": "9.50", "confidence": 0.97},
        },
        extracted_at=NOW,
        data_key=None,
    )

    item = control_item(pool, JOB, CLIENT, Resealer(personal, old, new), NOW, item_id=UUID(int=12))

    assert item["id"] == UUID(int=12)
    assert (item["job_id"], item["client_id"], item["control_of"]) == (JOB, CLIENT, pool.id)
    assert item["status"] is ItemStatus.IN_PROGRESS
    assert item["external_id"] is None
    assert is_sealed(item["golden"]["holder"])
    assert personal.open(item["golden"], new) == known
    assert personal.open(item["source"], new) == {"holder": "Jane Doe", "scan": "1.png"}
    assert new.open(item["suggestions"]["holder"]["value"]) == "Jane Do"
    assert item["suggestions"]["holder"]["planted"] is True
    assert item["suggestions"]["total"] == {"value": "9.50", "confidence": 0.97}
    assert (item["documents"], item["layout_id"], item["extracted_at"]) == (
        pool.documents,
        pool.layout_id,
        NOW,
    )


def test_a_known_answer_is_read_as_stored_against_a_job_whose_decimal_point_is_a_comma() -> None:
    # qty typed 1,5 is stored 1.500: read as typed, it was 1500, and the rule refused it.
    fields = [
        {"name": "qty", "type": "decimal", "decimal_places": 3, "decimal_separator": ","},
        {"name": "price", "type": "decimal", "decimal_places": 2, "decimal_separator": ","},
        {"name": "amount", "type": "decimal", "decimal_places": 2, "decimal_separator": ","},
    ]
    spec = spec_for(UUID(int=71), fields, ["amount == qty * price"], None)
    assert answer_fits(spec, {"qty": "1.500", "price": "2.00", "amount": "3.00"})
    assert not answer_fits(spec, {"qty": "1.500", "price": "2.00", "amount": "4.00"})

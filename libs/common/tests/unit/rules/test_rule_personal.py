"""Personal data in a job's records: the `pii` fields' values and the `pii` columns' cells are
sealed to be kept, opened to be used, masked for whoever may not see them; a match rule
cannot read them."""

from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from bpo_common.crypto import LocalKeyRing, new_data_key, new_kek
from bpo_common.rules import MASK, JobSpec, spec_errors

FIELDS: list[dict[str, Any]] = [
    {"name": "name", "type": "string", "pii": True},
    {"name": "total", "type": "decimal"},
    {"name": "note", "type": "string", "required": False, "pii": True},
    {
        "name": "lines",
        "type": "table",
        "columns": [
            {"name": "sku", "type": "string"},
            {"name": "holder", "type": "string", "pii": True},
        ],
    },
    {
        "name": "family",
        "type": "table",
        "pii": True,
        "columns": [{"name": "member", "type": "string"}],
    },
]
RECORD: dict[str, Any] = {
    "name": "Jane Doe",
    "total": "10.5",
    "note": None,
    "lines": [{"sku": "A-1", "holder": "Jane Doe"}, {"sku": "B-2", "holder": None}],
    "family": [{"member": "John Doe"}],
}


def test_personal_values_are_sealed_to_be_kept_and_open_again_the_rest_as_it_was() -> None:
    spec = JobSpec.model_validate({"fields": FIELDS})
    key, _ = new_data_key(LocalKeyRing.parse(new_kek("k1")), UUID(int=7))
    kept = spec.personal.seal(RECORD, key)
    assert "Doe" not in str(kept)
    assert (kept["total"], kept["note"]) == ("10.5", None), "others, and empty values, as they are"
    assert [row["sku"] for row in kept["lines"]] == ["A-1", "B-2"]
    assert kept["lines"][1]["holder"] is None
    assert isinstance(kept["family"], str), "a pii table is sealed whole"
    assert spec.personal.open(kept, key) == RECORD


def test_personal_values_are_masked_for_a_reader_who_may_not_see_them() -> None:
    spec = JobSpec.model_validate({"fields": FIELDS})
    key, _ = new_data_key(LocalKeyRing.parse(new_kek("k1")), UUID(int=7))
    kept = spec.personal.seal(RECORD, key)
    assert spec.personal.reader(None).record(kept) == {
        "name": MASK,
        "total": "10.5",
        "note": None,
        "lines": [{"sku": "A-1", "holder": MASK}, {"sku": "B-2", "holder": None}],
        "family": MASK,
    }
    assert spec.personal.reader(key).record(kept) == RECORD
    assert spec.personal.reader(None).value("name", kept["name"]) == MASK
    assert spec.personal.reader(None).value("total", "10.5") == "10.5"


def test_a_pii_table_is_masked_cell_by_cell_its_rows_kept_where_its_key_opens_it() -> None:
    spec = JobSpec.model_validate({"fields": FIELDS})
    key, _ = new_data_key(LocalKeyRing.parse(new_kek("k1")), UUID(int=7))
    family = [{"member": "John Doe"}, {"member": None}]
    kept = spec.personal.seal(RECORD | {"family": family}, key)
    masked = spec.personal.reader(key, clear=False)
    assert masked.record(kept) == {
        "name": MASK,
        "total": "10.5",
        "note": None,
        "lines": [{"sku": "A-1", "holder": MASK}, {"sku": "B-2", "holder": None}],
        "family": [{"member": MASK}, {"member": None}],
    }
    assert masked.value("family", kept["family"]) == [{"member": MASK}, {"member": None}]
    assert masked.value("name", kept["name"]) == MASK
    assert masked.shown(kept["name"]) == MASK
    assert spec.personal.reader(key).value("family", kept["family"]) == family


def test_a_job_without_pii_has_nothing_personal() -> None:
    spec = JobSpec.model_validate({"fields": [{"name": "total", "type": "decimal"}]})
    assert not spec.personal
    assert spec.personal.mask({"total": "1"}) == {"total": "1"}
    written = spec.model_dump(mode="json", exclude_none=True)["fields"]
    assert written == [{"name": "total", "type": "decimal", "required": True}]


@pytest.mark.parametrize(
    ("personal", "path"),
    [
        ({"po": True}, "match.order_field"),
        ({"lines.qty": True}, "match.quantity"),
        ({"vendor": True}, "match.duplicates.vendor"),
    ],
)
def test_a_field_or_column_a_match_reads_cannot_be_pii(
    personal: dict[str, bool], path: str
) -> None:
    def pii(name: str) -> dict[str, bool]:
        return {"pii": True} if personal.get(name) else {}

    fields = [
        {"name": "po", "type": "string", **pii("po")},
        {"name": "vendor", "type": "string", **pii("vendor")},
        {"name": "number", "type": "string"},
        {"name": "payee", "type": "string", "pii": True},
        {
            "name": "lines",
            "type": "table",
            "columns": [
                {"name": "line", "type": "string"},
                {"name": "qty", "type": "integer", **pii("lines.qty")},
                {"name": "price", "type": "decimal"},
                {"name": "holder", "type": "string", "pii": True},
            ],
        },
    ]
    match = {
        "orders": "orders",
        "order_field": "po",
        "table": "lines",
        "line": "line",
        "quantity": "qty",
        "price": "price",
        "duplicates": {"vendor": "vendor", "number": "number"},
    }
    with pytest.raises(ValidationError) as refused:
        JobSpec.model_validate({"fields": fields, "match": match})
    (error,) = spec_errors(refused.value)
    assert error.field == path
    assert "is pii; matching keeps the values it reads" in error.message

"""A partial second keying: which of the job's fields its task keys, shows and checks."""

from typing import Any

from bpo_common.errors import FieldError
from bpo_common.rules import JobSpec
from bpo_intake.domain.tasks import check_keying, keyed_fields, shown_fields

FIELDS: list[dict[str, Any]] = [
    {"name": "number", "type": "string"},
    {"name": "net", "type": "decimal"},
    {"name": "total", "type": "decimal"},
    {"name": "note", "type": "string", "required": False},
]
SPEC = JobSpec.model_validate({"fields": FIELDS, "rules": ["total >= net"]})


def test_a_second_keying_keys_the_fields_validation_named_in_the_jobs_order() -> None:
    assert keyed_fields(FIELDS, ["total", "number"]) == ["number", "total"]
    assert keyed_fields(FIELDS, ["total", "no_such_field"]) == ["total"]
    # None of the job's, or all of them: the whole item, as before.
    assert keyed_fields(FIELDS, []) is None
    assert keyed_fields(FIELDS, ["no_such_field"]) is None
    assert keyed_fields(FIELDS, ["number", "net", "total", "note"]) is None
    assert [spec["name"] for spec in shown_fields(FIELDS, ["total"])] == ["total"]
    assert shown_fields(FIELDS, None) == FIELDS


def test_a_partial_second_keying_requires_and_takes_its_fields_only() -> None:
    done = check_keying(SPEC, {"total": "1,000.50"}, ["total"])
    assert (done.errors, done.normalized) == ([], {"total": "1000.5"})
    # The number is required of a whole keying, not of this one; the rule reading the net
    # waits for validation, which has the first keying's net.
    whole = check_keying(SPEC, {"total": "1"}, None)
    assert {error.field for error in whole.errors} == {"number", "net"}
    missing = check_keying(SPEC, {}, ["total"])
    assert missing.errors == [FieldError("total", "required")]
    other = check_keying(SPEC, {"total": "5", "number": "A-1", "extra": "x"}, ["total"])
    assert other.errors == [
        FieldError("number", "not one of the fields this second keying keys"),
        FieldError("extra", "not a field of this job"),
    ]
    # Both of its fields keyed: the rule between them holds.
    broken = check_keying(SPEC, {"net": "5", "total": "4"}, ["net", "total"])
    assert [error.field for error in broken.errors] == ["rules[0]"]


def test_a_draft_of_a_partial_second_keying_requires_nothing_not_given_yet() -> None:
    assert check_keying(SPEC, {}, ["net", "total"], draft=True).errors == []
    draft = check_keying(SPEC, {"net": "x"}, ["net", "total"], draft=True)
    assert [error.field for error in draft.errors] == ["net"]
    assert check_keying(SPEC, {"number": "A"}, ["total"], draft=True).errors == [
        FieldError("number", "not one of the fields this second keying keys")
    ]

"""Rules of jobs and items: deadlines, keyings per item, batches, progress, golden answers."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest

from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_common.contracts.intake import Entry, Suggested, TaskSubmitted
from bpo_common.contracts.sealed import MAX_RECORD_BYTES, too_large
from bpo_common.contracts.validation import ReviewRequired
from bpo_common.crypto import LocalKeyRing, new_data_key, new_kek
from bpo_common.errors import FieldError, Invalid
from bpo_common.events import wrap
from bpo_common.rules import JobSpec
from bpo_common.rules.spec import MAX_ROWS
from bpo_intake.domain.items import (
    ItemIn,
    check_client_values,
    check_golden,
    checked_items,
    checked_row,
    not_in_csv,
)
from bpo_intake.domain.jobs import (
    FINAL,
    ItemStatus,
    QcPolicyIn,
    chunked,
    due_at,
    entries_per_item,
    progress,
    statistics_outgrown,
)
from bpo_intake.schemas import JobCreate

NOW = datetime(2031, 1, 1, 12, tzinfo=UTC)
SPEC = JobSpec.model_validate(
    {"fields": [{"name": "invoice_number", "type": "string"}, {"name": "total", "type": "decimal"}]}
)


def test_an_sla_sets_the_deadline_from_now_and_otherwise_the_given_one_stands() -> None:
    given = datetime(2031, 2, 1, tzinfo=UTC)

    assert due_at(Decimal("1.5"), None, NOW) == NOW + timedelta(minutes=90)
    assert due_at(None, given, NOW) == given
    assert due_at(None, None, NOW) is None


@pytest.mark.parametrize(
    ("mode", "keyings"),
    [(QcMode.SINGLE, 1), (QcMode.DOUBLE, 2), (QcMode.VERIFY, 1), (QcMode.ADAPTIVE, 1)],
)
def test_only_a_double_keyed_job_gets_two_keyings_per_item(mode: QcMode, keyings: int) -> None:
    assert entries_per_item(QcPolicy(mode=mode)) == keyings


def test_rows_are_cut_into_batches_of_at_most_the_size() -> None:
    assert chunked(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert chunked([], 2) == []


def test_progress_is_the_share_of_final_items() -> None:
    counts = {ItemStatus.COMPLETED: 2, ItemStatus.REJECTED: 1, ItemStatus.PENDING: 1}

    assert progress(counts) == 0.75
    assert progress({}) == 0.0


def test_a_golden_answer_is_normalized_or_its_bad_fields_named() -> None:
    good = ItemIn(source={}, golden={"invoice_number": " A-1 ", "total": "1,250.50"})
    bad = ItemIn(source={}, golden={"total": "ten"})

    checked, problems = check_golden(SPEC, good)
    _, errors = check_golden(SPEC, bad)

    assert problems == []
    assert checked.golden == {"invoice_number": "A-1", "total": "1250.5"}
    assert sorted(error.field for error in errors) == ["golden.invoice_number", "golden.total"]
    assert check_golden(SPEC, ItemIn(source={})) == (ItemIn(source={}), [])


def test_a_parsed_row_becomes_the_item_to_store_or_its_problems() -> None:
    bad = ItemIn(source={}, golden={"invoice_number": "A", "total": "ten"})

    assert checked_row(SPEC, ItemIn(source={"n": 1})) == ItemIn(source={"n": 1})
    problems = checked_row(SPEC, bad)
    assert isinstance(problems, list)
    assert [error.field for error in problems] == ["golden.total"]


def test_a_jobs_items_are_checked_together_naming_each_bad_one_by_its_index() -> None:
    items = [
        ItemIn(source={}),
        ItemIn(source={}, golden={"invoice_number": "A", "total": "ten"}),
    ]

    with pytest.raises(Invalid) as refused:
        checked_items(SPEC, items)

    assert [error.field for error in refused.value.errors] == ["items[1].golden.total"]
    assert refused.value.detail == "invalid items: items[1].golden.total"


def test_an_item_waiting_on_a_match_exception_is_not_final() -> None:
    counts = {ItemStatus.COMPLETED: 1, ItemStatus.EXCEPTION: 1}

    assert ItemStatus.EXCEPTION not in FINAL
    assert progress(counts) == 0.5


TABLED = JobSpec.model_validate(
    {
        "fields": [
            {"name": "number", "type": "string"},
            {
                "name": "lines",
                "type": "table",
                "required": False,
                "columns": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"}],
            },
        ]
    }
)


def test_a_golden_table_is_normalized_row_by_row_or_its_bad_cells_named() -> None:
    good = ItemIn(source={}, golden={"number": "R-1", "lines": [{"sku": " A ", "qty": "1,000"}]})
    bad = ItemIn(
        source={},
        golden={
            "number": "R-1",
            "lines": [{"sku": "A", "qty": "x"}, {"sku": "B", "qty": 1, "zz": 1}],
        },
    )

    checked, problems = check_golden(TABLED, good)
    _, errors = check_golden(TABLED, bad)

    assert problems == []
    assert checked.golden == {"number": "R-1", "lines": [{"sku": "A", "qty": 1000}]}
    assert [(e.field, e.message) for e in errors] == [
        ("golden.lines[0].qty", "not a number"),
        ("golden.lines[1].zz", "not a column of lines"),
    ]


def test_a_verify_jobs_client_values_of_a_table_must_be_rows_and_a_csv_cell_is_told_why() -> None:
    rows = ItemIn(source={"number": "R-1", "lines": [{"sku": "A", "qty": "bad"}]})
    cell = ItemIn(source={"number": "R-1", "lines": "A x 2"})
    scalar = ItemIn(source={"lines": 7})
    empty = ItemIn(source={"lines": " "})

    assert check_client_values(TABLED, rows) == []
    assert check_client_values(TABLED, empty) == []
    assert check_client_values(TABLED, cell) == [FieldError("source.lines", not_in_csv("lines"))]
    (error,) = check_client_values(TABLED, scalar)
    assert error.message == "must be a list of rows, each an object of column: value"
    assert checked_items(TABLED, [cell]) == [cell], "outside verify jobs the source is free"
    with pytest.raises(Invalid) as refused:
        checked_items(TABLED, [rows, cell], verify=True)
    assert [e.field for e in refused.value.errors] == ["items[1].source.lines"]
    assert isinstance(checked_row(TABLED, scalar, verify=True), list)


@pytest.mark.parametrize(
    ("appended", "known_tasks", "outgrown"),
    [
        (2000, 0.0, True),  # a young table, whose statistics say it is empty
        (2000, 8000.0, True),  # a quarter of what the statistics know of
        (2000, 8001.0, False),
        (499, 0.0, False),  # too small to be worth an analysis
        (5000, 10_000_000.0, True),  # large on any table
    ],
)
def test_an_append_refreshes_the_queue_statistics_when_they_have_fallen_behind(
    appended: int, known_tasks: float, outgrown: bool
) -> None:
    assert statistics_outgrown(appended, known_tasks) is outgrown


def test_a_rate_written_with_endless_trailing_zeros_is_kept_as_its_value() -> None:
    # Its 20,002 decimal places would not fit a numeric column (16,383) where it is stored.
    policy = QcPolicyIn.model_validate({"target_accuracy": "0.95" + "0" * 20_000})
    assert policy.target_accuracy == Decimal("0.95")
    assert str(policy.target_accuracy) == "0.95"
    assert str(QcPolicyIn.model_validate({"golden_rate": "0.050"}).golden_rate) == "0.050"
    fields = [{"name": "note", "type": "string"}]
    job = JobCreate.model_validate(
        {"fields": fields, "work_type": "notes", "sla_hours": "1.5" + "0" * 20_000}
    )
    assert str(job.sla_hours) == "1.5"


def test_a_jobs_items_do_not_count_towards_the_size_of_its_spec() -> None:
    # The spec is bounded (it travels whole in the job's announcement); the items are not it.
    items = [{"external_id": f"x{i}", "source": {"note": "n" * 300}} for i in range(4_000)]
    fields = [{"name": "note", "type": "string"}]
    job = JobCreate.model_validate({"fields": fields, "work_type": "notes", "items": items})
    assert len(job.items) == 4_000


# NATS's max_payload in deploy/nats/nats.conf, deploy/k8s/base/nats.yaml and the test stack.
NATS_MAX_PAYLOAD = 16 * 1000 * 1000


def test_values_past_the_bound_are_named_by_their_largest_field() -> None:
    # {"note":"…","memo":"…"}: 21 bytes besides the two texts.
    at_the_bound = {"note": "x" * (MAX_RECORD_BYTES - 31), "memo": "y" * 10}
    assert too_large(at_the_bound) is None
    error = too_large({**at_the_bound, "memo": "y" * 11})
    assert error is not None
    assert error.field == "note"
    assert error.message.startswith(f"the values take {MAX_RECORD_BYTES + 1:,} bytes as JSON, ")


def test_a_golden_answer_of_the_largest_table_mostly_empty_is_within_the_bound() -> None:
    # 500 rows of 50 optional columns with names of 63 characters, one keyed a row: canonical,
    # every other cell is null, which the events carry too.
    columns = [f"c{column:02}" + "c" * 60 for column in range(50)]
    spec = JobSpec.model_validate(
        {"fields": [{"name": "lines", "type": "table", "required": False,
                     "columns": [{"name": n, "type": "string", "required": False}
                                 for n in columns]}]}
    )  # fmt: skip
    golden = {"lines": [{columns[0]: f"row {n}"} for n in range(MAX_ROWS)]}

    padded = {"lines": [dict.fromkeys(columns) | row for row in golden["lines"]]}
    assert checked_items(spec, [ItemIn(source={}, golden=golden)]) == [
        ItemIn(source={}, golden=padded)
    ]


def test_the_largest_events_of_records_at_the_bound_stay_under_natss_limit() -> None:
    job = UUID(int=3)
    key, _ = new_data_key(LocalKeyRing.parse(new_kek("k1")), job)
    record = {"lines": [{"text": "x" * 1000}] * (MAX_RECORD_BYTES // 1013)}
    assert too_large(record) is None
    sealed = key.seal(record)
    now = datetime(2031, 1, 1, tzinfo=UTC)
    # A submit with the golden answer, the client values and pre-fill as large as the keying.
    submitted = TaskSubmitted(
        task_id=UUID(int=1), job_id=job, item_id=UUID(int=2), client_id=UUID(int=4),
        work_type="invoice", kind=TaskKind.ENTRY, contractor_id=UUID(int=5),
        data=sealed, golden=sealed, client_values=sealed,
        suggestions={"lines": Suggested(value=sealed, confidence=0.9)},
        entries_expected=1, claimed_at=now, submitted_at=now,
    )  # fmt: skip
    # An adjudication after another: three keyings shown.
    shown = ReviewRequired(
        item_id=UUID(int=2), job_id=job, client_id=UUID(int=4), kind=TaskKind.ADJUDICATION,
        entries=[Entry(task_id=UUID(int=6), contractor_id=UUID(int=5), data=sealed)] * 3,
        reason="the keyings differ", decided_at=now,
    )  # fmt: skip

    for event in (wrap(submitted, source="intake"), wrap(shown, source="validation")):
        assert len(event.model_dump_json().encode()) < NATS_MAX_PAYLOAD * 0.8

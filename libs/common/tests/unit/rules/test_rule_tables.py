"""Table fields: every cell checked at its path, rules on rows and over them, two keyings
aligned row by row, and the invoice match rule that reads a table's columns."""

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from bpo_common.errors import FieldError
from bpo_common.ids import new_id
from bpo_common.rules import (
    FieldSpec,
    JobSpec,
    Kind,
    Tolerance,
    check,
    differing_fields,
    equal_after_normalization,
    spec_errors,
    spec_for,
)
from bpo_common.rules.expressions import RuleEvaluationError, sums_kept
from bpo_common.rules.matching import Duplicates
from bpo_common.rules.rows import align, cell_path, cells
from bpo_common.rules.spec import rule_kinds

COLUMNS: list[dict[str, Any]] = [
    {"name": "sku", "type": "string", "case": "upper"},
    {"name": "qty", "type": "integer", "min": 1},
    {"name": "unit_price", "type": "decimal", "required": False},
    {"name": "amount", "type": "decimal", "required": False},
    {"name": "shipped", "type": "date", "required": False, "date_formats": ["%d.%m.%Y"]},
]


def _lines(**rules: Any) -> dict[str, Any]:
    return {"name": "lines", "type": "table", "columns": COLUMNS, **rules}


def _spec(*rules: str, **table: Any) -> JobSpec:
    fields = [
        {"name": "net", "type": "decimal", "required": False},
        {"name": "n", "type": "integer", "required": False},
        _lines(**table),
        {"name": "items", "type": "table", "required": False, "columns": [COLUMNS[1]]},
    ]
    return JobSpec.model_validate({"fields": fields, "rules": list(rules)})


def _refusals(
    fields: list[dict[str, Any]],
    rules: list[str] | None = None,
    match: dict[str, Any] | None = None,
) -> list[FieldError]:
    with pytest.raises(ValidationError) as caught:
        JobSpec.model_validate({"fields": fields, "rules": rules or [], "match": match})
    return spec_errors(caught.value)


# Spec: a broken table is refused at its path when the job is created.


@pytest.mark.parametrize(
    ("field", "errors"),
    [
        (
            {"name": "lines", "type": "table"},
            [FieldError("fields[0].columns", "table fields need columns")],
        ),
        (
            _lines(columns=[{"name": "sub", "type": "table", "columns": COLUMNS}]),
            [FieldError("fields[0].columns[0].type", "a column cannot be a table")],
        ),
        (
            _lines(columns=[COLUMNS[1], COLUMNS[0], {"name": "qty", "type": "decimal"}]),
            [
                FieldError("fields[0].columns[0].name", "column qty is repeated"),
                FieldError("fields[0].columns[2].name", "column qty is repeated"),
            ],
        ),
        (
            _lines(
                columns=[
                    {
                        **COLUMNS[0],
                        "lookup": {
                            "dataset": "products",
                            "checks": [
                                {"field": "ean", "column": "ean"},
                                {"field": "sku", "column": "code", "tolerance": "1"},
                            ],
                        },
                    }
                ]
            ),
            [
                FieldError(
                    "fields[0].columns[0].lookup.checks[0].field", "ean is not a field of the job"
                ),
                FieldError(
                    "fields[0].columns[0].lookup.checks[1].tolerance",
                    "a tolerance applies to number fields only",
                ),
            ],
        ),
        (
            _lines(key="ean"),
            [FieldError("fields[0].key", "ean is not a column of lines")],
        ),
        (
            _lines(min_rows=3, max_rows=2),
            [FieldError("fields[0].max_rows", "max_rows must not be less than min_rows")],
        ),
        (
            _lines(max_rows=501),
            [FieldError("fields[0].max_rows", "Input should be less than or equal to 500")],
        ),
    ],
)
def test_a_broken_table_is_refused_at_its_path(
    field: dict[str, Any], errors: list[FieldError]
) -> None:
    assert _refusals([field]) == errors


def test_a_table_of_500_rows_is_allowed() -> None:
    assert FieldSpec.model_validate(_lines(min_rows=500, max_rows=500)).row_limit == 500
    assert FieldSpec.model_validate(_lines()).row_limit == 500


@pytest.mark.parametrize(
    ("rule", "value"),
    [("columns", COLUMNS), ("key", "sku"), ("min_rows", 1), ("max_rows", 3)],
)
def test_table_rules_are_refused_on_a_scalar_field(rule: str, value: object) -> None:
    assert _refusals([{"name": "sku", "type": "string", rule: value}]) == [
        FieldError(f"fields[0].{rule}", f"{rule} does not apply to string fields (only to table)")
    ]


@pytest.mark.parametrize(
    ("rule", "value"),
    [
        ("pattern", "^A"),
        ("lookup", {"dataset": "products"}),
        ("hints", {"labels": ["Items"]}),
        ("min", 1),
    ],
)
def test_scalar_rules_are_refused_on_a_table_field(rule: str, value: object) -> None:
    [error] = _refusals([_lines(**{rule: value})])
    assert error.field == f"fields[0].{rule}"
    assert error.message.startswith(f"{rule} does not apply to table fields (only to ")


def test_a_lookup_cannot_cross_check_a_table() -> None:
    vendor = {
        "name": "vendor",
        "type": "string",
        "lookup": {"dataset": "vendors", "checks": [{"field": "lines", "column": "iban"}]},
    }
    assert _refusals([vendor, _lines()]) == [
        FieldError("fields[0].lookup.checks[0].field", "lines is a table")
    ]


def test_rules_read_a_table_whole_and_its_cells_by_column() -> None:
    kinds = rule_kinds(_spec().fields)
    assert kinds["lines"] is Kind.TABLE
    assert kinds["lines.qty"] is Kind.NUMBER
    assert kinds["lines.sku"] is Kind.TEXT
    assert kinds["lines.shipped"] is Kind.DATE
    assert "qty" not in kinds


# Checking a submission: every bad cell at its path, rows counted from 0.


def test_every_bad_cell_is_named_by_row_and_column() -> None:
    rows = [
        {"sku": "a", "qty": 1},
        {"sku": "b", "qty": "x"},
        {"sku": "c", "qty": 0, "amount": "abc"},
        {"sku": "d", "qty": 1, "shipped": "2024-13-01"},
    ]
    result = check(_spec(), {"lines": rows})
    assert result.errors == [
        FieldError("lines[1].qty", "not a number"),
        FieldError("lines[2].qty", "must be at least 1"),
        FieldError("lines[2].amount", "not a number"),
        FieldError("lines[3].shipped", "not a valid date: use YYYY-MM-DD, DD.MM.YYYY"),
    ]
    assert "lines" not in result.normalized


def test_unknown_columns_and_rows_that_are_not_objects_are_named() -> None:
    rows = [{"sku": "a", "qty": 1}, {"sku": "b", "qty": 1, "zz": 1}, "row", None, [1]]
    assert check(_spec(), {"lines": rows}).errors == [
        FieldError("lines[1].zz", "not a column of lines"),
        FieldError("lines[2]", "must be an object of column: value"),
        FieldError("lines[3]", "must be an object of column: value"),
        FieldError("lines[4]", "must be an object of column: value"),
    ]


@pytest.mark.parametrize("value", [{"sku": "a", "qty": 1}, "a, 1", 3])
def test_a_table_must_be_a_list_of_rows(value: object) -> None:
    assert check(_spec(), {"lines": value}).errors == [
        FieldError("lines", "must be a list of rows, each an object of cells")
    ]


def test_row_limits_are_checked() -> None:
    spec = _spec(min_rows=2, max_rows=3)
    too_many = [{"sku": str(i), "qty": 1} for i in range(4)]
    assert check(spec, {"lines": too_many}).errors == [FieldError("lines", "has 4 rows; at most 3")]
    # Too few rows does not hide the bad cells of the rows there are.
    assert check(spec, {"lines": [{"sku": "a", "qty": "x"}]}).errors == [
        FieldError("lines", "needs at least 2 rows, has 1"),
        FieldError("lines[0].qty", "not a number"),
    ]
    assert check(spec, {"lines": too_many[:3]}).valid


def test_a_table_without_max_rows_takes_at_most_500() -> None:
    rows = [{"sku": str(i), "qty": 1} for i in range(501)]
    assert check(_spec(), {"lines": rows}).errors == [
        FieldError("lines", "has 501 rows; at most 500")
    ]
    assert check(_spec(), {"lines": rows[:500]}).valid


def test_an_empty_table_is_required_unless_optional() -> None:
    required = [FieldError("lines", "required: give at least one row")]
    empties: list[object] = [None, [], "  "]
    for empty in empties:
        assert check(_spec(), {"lines": empty}).errors == required
        optional = check(_spec(required=False), {"lines": empty})
        assert optional.valid
        assert optional.normalized["lines"] is None
    assert check(_spec(), {}).errors == required
    assert check(_spec(required=False), {}).normalized["lines"] is None


def test_a_sum_in_a_row_rule_is_the_same_on_every_row() -> None:
    spec = _spec("lines.amount > 0 and sum(lines.amount) == 25")
    rows = [
        {"sku": "A", "qty": 1, "amount": "10"},
        {"sku": "B", "qty": 1},
        {"sku": "C", "qty": 1, "amount": "5"},
    ]
    errors = check(spec, {"lines": rows}).errors
    assert [error.message.split(":")[0] for error in errors] == [
        "cannot check lines.amount > 0 and sum(lines.amount) == 25 on lines[0]",
        "cannot check lines.amount > 0 and sum(lines.amount) == 25 on lines[2]",
    ]
    assert all("lines[1].amount is empty" in error.message for error in errors)


def test_the_key_column_is_required_and_unique_after_normalizing() -> None:
    rows = [
        {"sku": "a", "qty": 1},
        {"sku": "b", "qty": 1},
        {"sku": " A ", "qty": 1},
        {"qty": 1},
        {"sku": "  ", "qty": 2},
        {"sku": "b", "qty": 3},
    ]
    assert check(_spec(key="sku"), {"lines": rows}).errors == [
        FieldError("lines[3].sku", "required: sku is the key of lines's rows"),
        FieldError("lines[4].sku", "required: sku is the key of lines's rows"),
        FieldError("lines[2].sku", "repeats the sku of lines[0]: A"),
        FieldError("lines[5].sku", "repeats the sku of lines[1]: B"),
    ]


def test_the_key_column_is_required_even_when_its_column_is_optional() -> None:
    columns = [{"name": "ean", "type": "string", "required": False}, COLUMNS[1]]
    spec = JobSpec.model_validate(
        {"fields": [{"name": "lines", "type": "table", "columns": columns, "key": "ean"}]}
    )
    assert check(spec, {"lines": [{"qty": 1}]}).errors == [
        FieldError("lines[0].ean", "required: ean is the key of lines's rows")
    ]


def test_rows_are_normalized_cell_by_cell_with_every_column() -> None:
    rows = [
        {
            "sku": " ab-1 ",
            "qty": "1,000",
            "unit_price": "1,000.50",
            "amount": 2.50,
            "shipped": "01.03.2024",
        },
        {"sku": "b", "qty": 2, "unit_price": "  "},
    ]
    result = check(_spec(), {"lines": rows, "net": "10"})
    assert result.valid
    assert result.normalized["lines"] == [
        {
            "sku": "AB-1",
            "qty": 1000,
            "unit_price": "1000.5",
            "amount": "2.5",
            "shipped": "2024-03-01",
        },
        {"sku": "B", "qty": 2, "unit_price": None, "amount": None, "shipped": None},
    ]


def test_a_partial_record_leaves_an_absent_table_out() -> None:
    result = check(_spec(), {"net": "1"}, partial=True)
    assert result.valid
    assert "lines" not in result.normalized


# Rules: cells are checked on every row; sum() and count() read the rows whole.

LINES = [
    {"sku": "a", "qty": 2, "unit_price": "1.50", "amount": "3.00"},
    {"sku": "b", "qty": "3", "unit_price": "2", "amount": "7"},
    {"sku": "c", "qty": 1, "unit_price": "4"},
]


def test_a_rule_on_cells_names_the_row_it_fails_on_and_shows_its_cells() -> None:
    spec = _spec("lines.qty * lines.unit_price == lines.amount")
    # Row 2 has no amount: the rule is not checked there, as on an empty optional field.
    assert check(spec, {"lines": LINES}).errors == [
        FieldError(
            "rules[0]",
            "rule not met on lines[1]: lines.qty * lines.unit_price == lines.amount "
            "(lines[1].qty=3, lines[1].unit_price=2, lines[1].amount=7)",
        )
    ]
    assert check(spec, {"lines": [LINES[0], LINES[2]]}).valid


def test_a_rule_on_cells_fails_on_every_row_that_breaks_it() -> None:
    spec = _spec("lines.qty < n")
    errors = check(spec, {"lines": LINES, "n": 2}).errors
    assert errors == [
        FieldError("rules[0]", "rule not met on lines[0]: lines.qty < n (lines[0].qty=2, n=2)"),
        FieldError("rules[0]", "rule not met on lines[1]: lines.qty < n (lines[1].qty=3, n=2)"),
    ]


def test_a_rule_knows_the_table_whose_rows_it_is_checked_on() -> None:
    on_rows, over_rows = _spec(
        "lines.qty * lines.unit_price == lines.amount", "sum(lines.amount) == net"
    ).compiled_rules
    assert on_rows.rows == "lines"
    assert on_rows.names == ("lines.qty", "lines.unit_price", "lines.amount")
    assert over_rows.rows is None
    assert over_rows.names == ("lines", "net")


def test_a_sum_of_a_column_is_compared_with_a_field() -> None:
    spec = _spec("sum(lines.amount) == net")
    assert check(spec, {"lines": LINES[:2], "net": "10"}).valid
    # The table is not shown whole; the field is.
    assert check(spec, {"lines": LINES[:2], "net": "10.01"}).errors == [
        FieldError("rules[0]", "rule not met: sum(lines.amount) == net (net=10.01)")
    ]


def test_a_sum_over_a_row_with_an_empty_cell_says_which_cell() -> None:
    assert check(_spec("sum(lines.amount) == net"), {"lines": LINES, "net": "10"}).errors == [
        FieldError("rules[0]", "cannot check sum(lines.amount) == net: lines[2].amount is empty")
    ]


def test_a_sum_adds_a_product_of_each_row() -> None:
    spec = _spec("sum(lines.qty * lines.unit_price) == net")
    assert check(spec, {"lines": LINES, "net": "13"}).valid  # 2 * 1.50 + 3 * 2 + 1 * 4
    assert check(spec, {"lines": LINES, "net": "16"}).errors == [
        FieldError("rules[0]", "rule not met: sum(lines.qty * lines.unit_price) == net (net=16)")
    ]


def test_count_counts_the_rows() -> None:
    spec = _spec("count(lines) == n")
    assert check(spec, {"lines": LINES, "n": 3}).valid
    assert check(spec, {"lines": LINES, "n": "2"}).errors == [
        FieldError("rules[0]", "rule not met: count(lines) == n (n=2)")
    ]
    # An empty optional table is left out, like an empty optional field.
    assert check(_spec("count(items) >= 1"), {"lines": LINES}).valid


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            "lines.qty == items.qty",
            "a rule is checked on the rows of one table, not of items and lines",
        ),
        (
            "lines.qty > sum(items.qty) and items.qty > 0",
            "a rule is checked on the rows of one table, not of items and lines",
        ),
        (
            "sum(lines.qty * items.qty) > 0",
            "sum() adds the rows of one table, not of items and lines",
        ),
        ("sum(net) == net", "sum() adds a column over a table's rows, e.g. sum(lines.amount)"),
        ("sum(lines.qty * sum(lines.amount)) > 0", "sum() cannot hold another sum() or count()"),
        ("sum(lines.sku) > 0", "sum() takes one number of a table's rows, e.g. sum(lines.amount)"),
        ("count(net) > 0", "count() takes a table, e.g. count(lines)"),
        ("count(lines.qty) > 0", "count() takes a table, e.g. count(lines)"),
        ("lines == lines", "a table is compared by its cells, sum() or count(), not whole"),
        ("count(lines) == lines", "a table is compared by its cells, sum() or count(), not whole"),
        ("lines + 1 > 0", "cannot compute table + number"),
        ("lines.zz > 0", "lines has no column zz"),
        ("sum(lines.zz) > 0", "lines has no column zz"),
    ],
)
def test_a_rule_that_misreads_a_table_is_refused_with_the_reason(rule: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        _spec("count(lines) > 0", rule)
    assert spec_errors(caught.value) == [FieldError("rules[1]", message)]


# Two keyings of a table: their rows aligned, then compared cell by cell.

TABLE = FieldSpec.model_validate(
    {
        "name": "lines",
        "type": "table",
        "columns": [
            {"name": "sku", "type": "string"},
            {"name": "qty", "type": "integer"},
            {"name": "price", "type": "decimal"},
        ],
    }
)
KEYED = TABLE.model_copy(update={"key": "sku"})


def _row(sku: str, qty: object, price: object = "1") -> dict[str, object]:
    return {"sku": sku, "qty": qty, "price": price}


A, B, C, D = _row("a", 1), _row("b", 2), _row("c", 3), _row("d", 4)
X = _row("x", 9, "9")


def test_identical_tables_pair_row_by_row() -> None:
    assert align(TABLE, [A, B, C, D], [A, B, C, D]) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    # Cells are compared in canonical form.
    same_a = _row("a ", "1", "1.00")
    assert align(TABLE, [A, B], [same_a, B]) == [(0, 0), (1, 1)]


def test_an_inserted_row_pairs_with_nothing() -> None:
    assert align(TABLE, [A, B, C, D], [A, B, X, C, D]) == [
        (0, 0),
        (1, 1),
        (None, 2),
        (2, 3),
        (3, 4),
    ]
    assert align(TABLE, [A, B], [X, A, B]) == [(None, 0), (0, 1), (1, 2)]


def test_a_removed_row_pairs_with_nothing() -> None:
    assert align(TABLE, [A, B, C, D], [A, C, D]) == [(0, 0), (1, None), (2, 1), (3, 2)]
    assert align(TABLE, [A, B], []) == [(0, None), (1, None)]
    assert align(TABLE, [], [A]) == [(None, 0)]


def test_a_changed_cell_pairs_its_rows_rather_than_removing_and_inserting() -> None:
    changed_b = _row("b", 5)
    assert align(TABLE, [A, B, C, D], [A, changed_b, C, D]) == [(0, 0), (1, 1), (2, 2), (3, 3)]
    # Every cell changed in a row alone between two anchors: still one row, keyed twice.
    assert align(TABLE, [A, B, C], [A, X, C]) == [(0, 0), (1, 1), (2, 2)]


def test_an_inserted_row_beside_a_changed_row_is_told_apart_from_it() -> None:
    changed_b = _row("b", 5)
    assert align(TABLE, [A, B, C, D], [A, X, changed_b, C, D]) == [
        (0, 0),
        (None, 1),
        (1, 2),
        (2, 3),
        (3, 4),
    ]
    assert align(TABLE, [A, B, C, D], [A, changed_b, X, C, D]) == [
        (0, 0),
        (1, 1),
        (None, 2),
        (2, 3),
        (3, 4),
    ]


def test_without_a_key_reordered_rows_are_removed_and_inserted() -> None:
    assert align(TABLE, [A, B, C, D], [B, A, C, D]) == [
        (None, 0),
        (0, 1),
        (1, None),
        (2, 2),
        (3, 3),
    ]


def test_with_a_key_rows_pair_on_it_whatever_their_order() -> None:
    changed_b = _row("b", 7)
    assert align(KEYED, [A, B, C, D], [D, C, changed_b, A]) == [(0, 3), (1, 2), (2, 1), (3, 0)]
    assert align(KEYED, [A, B], [X, _row(" a", "1")]) == [(0, 1), (1, None), (None, 0)]


def test_with_a_key_repeated_keys_pair_first_with_first() -> None:
    first, second = _row("a", 1), _row("a", 2)
    assert align(KEYED, [first, second, B], [_row("a", 3), B, _row("a", 4)]) == [
        (0, 0),
        (1, None),
        (2, 1),
        (None, 2),
    ]


def _qty_cells(table: FieldSpec, keyings: list[list[dict[str, object]]]) -> list[Any]:
    return [
        (cell_path(table, cell), cell.rows, cell.values, cell.equal)
        for cell in cells(table, keyings)
        if cell.column == "qty"
    ]


def test_cells_of_two_keyings_are_compared_after_normalizing() -> None:
    first = [_row("a", "1,000"), B]
    second = [_row("a", 1000), _row("b", 3)]
    assert _qty_cells(TABLE, [first, second]) == [
        ("lines[0].qty", (0, 0), ("1,000", 1000), True),
        ("lines[1].qty", (1, 1), (2, 3), False),
    ]


def test_cells_of_keyed_rows_follow_the_first_keyings_order() -> None:
    assert _qty_cells(KEYED, [[A, B], [_row("b", 3), A]]) == [
        ("lines[0].qty", (0, 1), (1, 1), True),
        ("lines[1].qty", (1, 0), (2, 3), False),
    ]


def test_cells_of_three_keyings_align_rows_to_the_first() -> None:
    first = [A, B]
    second = [A, _row("b", 3), _row("c", 1)]
    third = [_row("z", 1), A, B]
    assert _qty_cells(TABLE, [first, second, third]) == [
        ("lines[0].qty", (0, 0, 1), (1, 1, 1), True),
        ("lines[1].qty", (1, 1, 2), (2, 3, 2), False),
        ("lines[2 of keying 2].qty", (None, 2, None), (None, 1, None), False),
        ("lines[0 of keying 3].qty", (None, None, 0), (None, None, 1), False),
    ]


def test_a_row_one_keying_lacks_is_a_difference_in_every_column() -> None:
    found = [(cell_path(TABLE, cell), cell.equal) for cell in cells(TABLE, [[A, B], [A]])]
    assert found[3:] == [
        ("lines[1].sku", False),
        ("lines[1].qty", False),
        ("lines[1].price", False),
    ]
    assert all(equal for _, equal in found[:3])


def test_two_keyings_of_a_table_are_equal_after_normalizing_cells() -> None:
    first = [_row("a", "1,000", "1,000.50"), _row("b", 1, "2")]
    second = [_row(" a ", 1000, 1000.5), _row("b", "1", "2.00")]
    assert equal_after_normalization(TABLE, first, second)
    assert not equal_after_normalization(TABLE, first, second[:1])
    assert not equal_after_normalization(TABLE, first, [second[0], _row("b", 1, "2.01")])
    assert equal_after_normalization(TABLE, None, [])


def test_row_order_matters_without_a_key_and_not_with_one() -> None:
    first = [_row("a", 1), _row("b", 2)]
    swapped = first[::-1]
    assert not equal_after_normalization(TABLE, first, swapped)
    assert equal_after_normalization(KEYED, first, swapped)
    spec = JobSpec.model_validate(
        {
            "fields": [
                {"name": "vendor", "type": "string"},
                TABLE.model_dump(exclude_none=True),
                {**KEYED.model_dump(exclude_none=True), "name": "keyed"},
            ]
        }
    )
    a = {"vendor": "ACME", "lines": first, "keyed": first}
    assert differing_fields(spec, a, {"vendor": "ACME ", "lines": swapped, "keyed": swapped}) == [
        "lines"
    ]
    assert differing_fields(spec, a, {"vendor": "ACME", "lines": first, "keyed": first[:1]}) == [
        "keyed"
    ]


# The match rule: tolerances and the job's fields it names.


@pytest.mark.parametrize(
    ("invoiced", "allowed"),
    [("10.05", True), ("9.95", True), ("10.051", False), ("9.949", False), ("10", True)],
)
def test_an_absolute_tolerance_includes_its_edge(invoiced: str, allowed: bool) -> None:
    tolerance = Tolerance(absolute=Decimal("0.05"))
    assert tolerance.allows(Decimal(invoiced), Decimal("10")) is allowed


@pytest.mark.parametrize(
    ("invoiced", "ordered", "allowed"),
    [
        ("51", "50", True),
        ("49", "50", True),
        ("51.01", "50", False),
        ("48.99", "50", False),
        # 2 % of the ordered 98 is 1.96, not 2 % of the invoiced 100.
        ("100", "98", False),
        ("-51", "-50", True),
        ("-49", "-50", True),
        ("-51.01", "-50", False),
        ("0", "0", True),
        ("0.01", "0", False),
    ],
)
def test_a_percent_tolerance_is_a_share_of_the_ordered_value(
    invoiced: str, ordered: str, allowed: bool
) -> None:
    tolerance = Tolerance(percent=Decimal("2"))
    assert tolerance.allows(Decimal(invoiced), Decimal(ordered)) is allowed


@pytest.mark.parametrize("body", [{"absolute": "1", "percent": "2"}, {}])
def test_a_tolerance_is_either_absolute_or_percent(body: dict[str, str]) -> None:
    with pytest.raises(ValidationError) as caught:
        Tolerance.model_validate(body)
    assert [error["msg"] for error in caught.value.errors()] == ["give either absolute or percent"]


INVOICE_FIELDS: list[dict[str, Any]] = [
    {"name": "po", "type": "string"},
    {"name": "vendor", "type": "string"},
    {"name": "total", "type": "decimal"},
    {
        "name": "lines",
        "type": "table",
        "columns": [
            {"name": "line", "type": "integer"},
            {"name": "sku", "type": "string"},
            {"name": "qty", "type": "decimal"},
            {"name": "price", "type": "decimal"},
        ],
    },
]
MATCH: dict[str, Any] = {
    "orders": "orders",
    "order_field": "po",
    "table": "lines",
    "line": "line",
    "quantity": "qty",
    "price": "price",
}


def test_a_match_on_the_jobs_fields_is_accepted_and_exact_by_default() -> None:
    spec = JobSpec.model_validate({"fields": INVOICE_FIELDS, "match": MATCH})
    assert spec.match is not None
    assert spec.match.tolerance("price") == Tolerance(absolute=Decimal(0))


def test_a_match_naming_columns_the_table_lacks_is_refused() -> None:
    match = {**MATCH, "line": "position", "quantity": "qtty"}
    assert _refusals(INVOICE_FIELDS, match=match) == [
        FieldError("match.line", "position is not a column of lines"),
        FieldError("match.quantity", "qtty is not a column of lines"),
    ]


def test_a_match_quantity_must_be_a_number_column() -> None:
    assert _refusals(INVOICE_FIELDS, match={**MATCH, "quantity": "sku"}) == [
        FieldError("match.quantity", "sku is not a number column")
    ]


def test_a_match_table_must_be_a_table_field() -> None:
    assert _refusals(INVOICE_FIELDS, match={**MATCH, "table": "po"}) == [
        FieldError("match.table", "po is not a table field of the job")
    ]


def test_a_match_order_field_cannot_be_a_table() -> None:
    [error] = _refusals(INVOICE_FIELDS, match={**MATCH, "order_field": "lines"})
    assert error.field == "match.order_field"
    assert error.message.startswith("lines ")


def test_a_duplicates_rule_compares_amounts_as_numbers_and_dates_as_dates() -> None:
    duplicates = {"vendor": "vendor", "amount": "vendor", "date": "total"}
    assert _refusals(INVOICE_FIELDS, match={**MATCH, "duplicates": duplicates}) == [
        FieldError("match.duplicates.amount", "vendor is not a number field"),
        FieldError("match.duplicates.date", "total is not a date field"),
    ]


def test_a_duplicates_rule_that_could_never_find_one_is_refused() -> None:
    amount_alone = {"vendor": "vendor", "number": "po", "amount": "total"}
    assert _refusals(INVOICE_FIELDS, match={**MATCH, "duplicates": amount_alone}) == [
        FieldError("match.duplicates.date", "amount and date go together")
    ]
    assert _refusals(INVOICE_FIELDS, match={**MATCH, "duplicates": {"vendor": "vendor"}}) == [
        FieldError("match.duplicates", "give number, or amount and date, or both")
    ]


def test_a_stored_duplicates_rule_of_other_kinds_still_loads() -> None:
    """A job accepted before the kinds were checked is read back as it was accepted (an
    amount without its date too)."""
    duplicates = {"vendor": "vendor", "amount": "vendor"}
    match = {**MATCH, "duplicates": duplicates}
    spec = spec_for(new_id(), INVOICE_FIELDS, [], match)
    assert spec.match is not None
    assert spec.match.duplicates == Duplicates(vendor="vendor", amount="vendor")


def test_a_duplicates_rule_naming_fields_the_job_lacks_is_refused() -> None:
    duplicates = {"vendor": "supplier", "amount": "total", "date": "issued"}
    assert _refusals(INVOICE_FIELDS, match={**MATCH, "duplicates": duplicates}) == [
        FieldError("match.duplicates.vendor", "supplier is not a field of the job"),
        FieldError("match.duplicates.date", "issued is not a field of the job"),
    ]


def test_hints_on_a_column_are_refused_and_a_stored_spec_with_them_still_loads() -> None:
    column = {"name": "sku", "type": "string", "hints": {"labels": ["SKU"]}}
    fields = [{"name": "lines", "type": "table", "columns": [column]}]
    assert _refusals(fields) == [
        FieldError("fields[0].columns[0].hints", "a column takes no hints (fields do)")
    ]
    (table,) = spec_for(new_id(), fields, []).fields
    assert table.columns is not None
    assert table.columns[0].hints is not None


class _CountedRows(list[dict[str, Any]]):
    """A table's rows that count how often they are read whole."""

    reads = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        self.reads += 1
        return super().__iter__()


@pytest.mark.parametrize(
    "rule",
    [
        "lines.qty * 100 <= sum(lines.qty)",
        "lines.qty <= sum(lines.qty / lines.amount)",  # two amounts are 0
    ],
)
def test_a_sum_in_a_rule_on_every_row_is_added_up_once_a_record(rule: str) -> None:
    # A rule on each of 500 rows that reads the whole table: adding it up again on every
    # row took seconds a submission (and a sum that cannot be added up, as long again).
    (compiled,) = _spec(rule).compiled_rules
    table = _CountedRows(
        {"qty": Decimal(50 if r == 7 else 1), "amount": Decimal(r % 250)} for r in range(500)
    )
    held: list[bool | None] = []
    with sums_kept():
        for r in range(len(table)):
            row = {f"lines.{column}": value for column, value in table[r].items()}
            try:
                held.append(compiled.evaluate({"lines": table, **row}))
            except RuleEvaluationError:
                held.append(None)
    assert table.reads == 1
    if "/" in rule:
        assert held == [None] * 500, "division by zero on every row"
    else:
        assert [r for r, holds in enumerate(held) if not holds] == [7]

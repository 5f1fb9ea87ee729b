"""Results written out as a JSON array, NDJSON or CSV, batch by batch."""

from datetime import UTC, datetime
from uuid import UUID

from bpo_intake.domain.results import CsvTable, JsonArray, JsonLines, ResultRow, ResultsEncoder

ONE = UUID("0190d7a0-0000-7000-8000-000000000001")
TWO = UUID("0190d7a0-0000-7000-8000-000000000002")
DONE = datetime(2031, 3, 4, 5, 6, 7, tzinfo=UTC)
ROWS: list[ResultRow] = [
    (ONE, "inv-1", {"total": "-5", "note": "not a field"}, DONE, ["inv-1.pdf", "=x.png"]),
    (TWO, None, None, None, []),
]


def write(encoder: ResultsEncoder, batches: list[list[ResultRow]]) -> str:
    parts = [encoder.start()]
    parts += [encoder.rows(batch, first=n == 0) for n, batch in enumerate(batches)]
    return "".join([*parts, encoder.end()])


def test_json_is_one_array_across_batches_with_the_jobs_fields_only() -> None:
    text = write(JsonArray(["total"]), [ROWS[:1], ROWS[1:]])

    assert text == (
        f'[{{"item_id":"{ONE}","external_id":"inv-1","completed_at":"2031-03-04T05:06:07Z",'
        '"documents":["inv-1.pdf","=x.png"],"data":{"total":"-5"}},\n'
        f'{{"item_id":"{TWO}","external_id":null,"completed_at":null,"documents":[],'
        '"data":{"total":null}}]\n'
    )


def test_an_empty_json_result_is_an_empty_array_and_empty_ndjson_is_nothing() -> None:
    assert write(JsonArray(["total"]), []) == "[]\n"
    assert write(JsonLines(["total"]), []) == ""


def test_ndjson_is_one_record_a_line() -> None:
    lines = write(JsonLines(["total"]), [ROWS]).splitlines()

    assert [line.split(",")[0] for line in lines] == [
        f'{{"item_id":"{ONE}"',
        f'{{"item_id":"{TWO}"',
    ]


def test_csv_has_a_header_of_the_fields_and_defuses_formulas() -> None:
    assert write(CsvTable(["total"]), [ROWS]) == (
        f"item_id,external_id,total\r\n{ONE},inv-1,-5\r\n{TWO},,\r\n"
    )


def test_csv_names_each_items_documents_when_the_job_has_some() -> None:
    assert write(CsvTable(["total"], documents=True), [ROWS]) == (
        f"item_id,external_id,documents,total\r\n{ONE},inv-1,inv-1.pdf;=x.png,-5\r\n{TWO},,,\r\n"
    )


LINES = {"lines": ["sku", "qty"]}
TABLED: list[ResultRow] = [
    (
        ONE,
        "inv-1",
        {
            "number": "R-1",
            "lines": [{"sku": "A-1", "qty": 2}, {"sku": "=B", "qty": None}],
            "taxes": [{"rate": "19"}],
        },
        DONE,
        [],
    ),
    (TWO, None, {"number": "R-2", "lines": [], "taxes": None}, DONE, []),
]


def test_csv_gives_a_row_per_table_row_repeating_the_items_other_cells() -> None:
    encoder = CsvTable(["number", "lines", "total"], tables=LINES)

    assert write(encoder, [TABLED[:1]]) == (
        "item_id,external_id,line,number,lines.sku,lines.qty,total\r\n"
        f"{ONE},inv-1,1,R-1,A-1,2,\r\n"
        f"{ONE},inv-1,2,R-1,'=B,,\r\n"
    )


def test_tables_share_csv_rows_by_row_number_and_an_item_without_rows_has_one() -> None:
    encoder = CsvTable(["lines", "number", "taxes"], tables=LINES | {"taxes": ["rate"]})

    assert write(encoder, [TABLED]) == (
        "item_id,external_id,line,lines.sku,lines.qty,number,taxes.rate\r\n"
        f"{ONE},inv-1,1,A-1,2,R-1,19\r\n"
        f"{ONE},inv-1,2,'=B,,R-1,\r\n"
        f"{TWO},,,,,R-2,\r\n"
    )


def test_json_and_ndjson_carry_a_table_nested_as_it_is() -> None:
    (record,) = write(JsonLines(["lines"], tables=LINES), [TABLED[:1]]).splitlines()

    assert record.endswith('"data":{"lines":[{"sku":"A-1","qty":2},{"sku":"=B","qty":null}]}}')

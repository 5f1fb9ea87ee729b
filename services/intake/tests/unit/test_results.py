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
        f"item_id,external_id,total\r\n{ONE},inv-1,'-5\r\n{TWO},,\r\n"
    )


def test_csv_names_each_items_documents_when_the_job_has_some() -> None:
    assert write(CsvTable(["total"], documents=True), [ROWS]) == (
        f"item_id,external_id,documents,total\r\n{ONE},inv-1,inv-1.pdf;=x.png,'-5\r\n{TWO},,,\r\n"
    )

"""Item bodies parsed chunk by chunk: every row an item or its problems, named by its place."""

import json
from typing import Any

import pytest

from bpo_common.rules import JobSpec
from bpo_intake.domain.csv_items import LOWER_CASE, UNCLOSED_QUOTE, CsvItems
from bpo_intake.domain.item_bodies import ItemsParser, JsonItems, NdjsonItems
from bpo_intake.domain.items import ItemIn, not_in_csv

SPEC = JobSpec.model_validate(
    {"fields": [{"name": "invoice_number", "type": "string"}, {"name": "total", "type": "decimal"}]}
)


def parse(parser: type[ItemsParser], body: bytes, size: int = 3) -> list[tuple[str, Any]]:
    """Every row of `body` fed in chunks of `size` bytes: (place, item or error fields)."""
    reading = parser(SPEC)
    rows = []
    for start in range(0, len(body), size):
        rows += reading.feed(body[start : start + size])
        if reading.done:
            break
    else:
        rows += reading.end()
    return [
        (place.label, parsed if isinstance(parsed, ItemIn) else [e.field for e in parsed])
        for place, parsed in rows
    ]


def test_ndjson_gives_one_item_a_line_numbered_and_skips_blank_lines() -> None:
    body = b'{"source": {"a": "caf\xc3\xa9"}}\n\n  \r\n{"external_id": "x", "source": {}}'

    assert parse(NdjsonItems, body) == [
        ("line 1", ItemIn(source={"a": "café"})),
        ("line 4", ItemIn(external_id="x", source={})),
    ]


def test_ndjson_names_what_is_wrong_with_each_line_and_reads_on() -> None:
    body = b'{"source": 1}\n{"source": {}, "colour": 2}\n{"source": {}\n{"source": {}}\n'

    assert parse(NdjsonItems, body) == [
        ("line 1", ["source"]),
        ("line 2", ["colour"]),
        ("line 3", [""]),
        ("line 4", ItemIn(source={})),
    ]


def test_ndjson_of_a_utf16_file_without_its_byte_order_mark_is_no_item() -> None:
    # Its NUL bytes had JSON take each line for UTF-16 and read the item it holds.
    body = '{"external_id": "A-1", "source": {}}\n'.encode("utf-16-le")

    # Its line end's NUL begins a line 2: both are faults of the whole line, no item.
    assert parse(NdjsonItems, body) == [("line 1", [""]), ("line 2", [""])]


def test_ndjson_names_text_that_cannot_be_stored() -> None:
    body = json.dumps({"source": {"note": "a\u0000b"}}).encode() + b"\n"
    # A surrogate's own UTF-8 bytes, which Python's json reads from bytes as a lone surrogate.
    raw = b'{"source": {"x": "ok", "note": "a\xed\xa0\x80b"}}\n'

    assert parse(NdjsonItems, body + raw) == [
        ("line 1", ["source.note"]),
        ("line 2", ["source.note"]),
    ]


def test_json_builds_each_item_of_the_items_array_as_it_closes() -> None:
    body = json.dumps({"items": [{"source": {"n": 1}}, {"source": {"n": 2.5}}]}).encode()

    assert parse(JsonItems, body, size=5) == [
        ("items[0]", ItemIn(source={"n": 1})),
        ("items[1]", ItemIn(source={"n": 2.5})),
    ]


@pytest.mark.parametrize("size", [1, 2, 5])
def test_json_after_a_byte_order_mark_is_read_whatever_the_chunks(size: int) -> None:
    body = b'\xef\xbb\xbf{"items": [{"source": {"n": 1}}]}'

    assert parse(JsonItems, body, size=size) == [("items[0]", ItemIn(source={"n": 1}))]


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (b'[{"source": {}}]', [("body", [""])]),
        (b"\xef", [("body", [""])]),
        (b'{"itemz": []}', [("body", [""])]),
        (b'{"items": {"source": {}}}', [("body", [""])]),
        (b"", [("body", [""])]),
        (b'{"items": [{"source": {}}, 7]}', [("items[0]", ItemIn(source={})), ("items[1]", [""])]),
        (
            b'{"items": [{"source": {}}, {"source"',
            [("items[0]", ItemIn(source={})), ("items[1]", [""])],
        ),
        (
            b'{"items": [{"source": {}}, {"source": {"note": "a\tb"}}]}',
            [("items[0]", ItemIn(source={})), ("items[1]", [""])],
        ),
        (b'{"items": [{"source": {"path": "C:\\data"}}]}', [("items[0]", [""])]),
    ],
)
def test_json_that_is_not_an_items_object_is_named_where_it_breaks(
    body: bytes, rows: list[tuple[str, Any]]
) -> None:
    assert parse(JsonItems, body) == rows


@pytest.mark.parametrize(
    ("digits", "message"),
    [
        (1001, "a whole number of more than 1000 digits"),
        # Past what Python reads as a number at all: the parser's own word, cut short.
        (5000, f"not valid JSON: Unexpected symbol '{'9' * 81}…"),
    ],
)
def test_a_whole_number_of_more_than_1000_digits_is_refused_as_an_ndjson_line_is(
    digits: int, message: str
) -> None:
    number = b"9" * digits
    reading = JsonItems(SPEC)
    ((place, problems),) = reading.feed(b'{"items": [{"source": {"n": ' + number + b"}}]}")
    assert reading.done
    assert place.label == "items[0]"
    assert isinstance(problems, list)
    assert [problem.message for problem in problems] == [message]
    assert parse(NdjsonItems, b'{"source": {"n": ' + number + b"}}\n") == [("line 1", ["source.n"])]


def test_a_number_whose_digits_a_double_does_not_keep_is_refused_as_an_ndjson_line_is() -> None:
    body = b'{"items": [{"source": {}, "golden": {"total": 99999999999999999.99}}]}'
    ((place, problems),) = JsonItems(SPEC).feed(body)
    assert place.label == "items[0]"
    assert isinstance(problems, list)
    assert [problem.message for problem in problems] == [
        "99999999999999999.99 has more digits than a JSON number keeps (15 to 17): send it as "
        "text, in quotes"
    ]
    ndjson = b'{"source": {}, "golden": {"total": 99999999999999999.99}}\n'
    assert parse(NdjsonItems, ndjson) == [("line 1", ["golden.total"])]
    kept = b'{"items": [{"source": {"n": 12.5, "m": 1e-3}}]}'
    assert parse(JsonItems, kept) == [("items[0]", ItemIn(source={"n": 12.5, "m": 0.001}))]


def test_json_stops_at_the_first_break() -> None:
    reading = JsonItems(SPEC)

    ((_, problems),) = reading.feed(b'{"items": [}')

    assert reading.done
    assert isinstance(problems, list)
    assert problems[0].message.startswith("not valid JSON: ")


def test_csv_takes_external_id_golden_columns_and_the_rest_as_source() -> None:
    body = (
        '\ufeffexternal_id,image,golden.total\r\na,1.png,\r\n\r\n,"two\nlines",12.5\r\nc,3.png,'
    ).encode()

    assert parse(CsvItems, body) == [
        ("line 2", ItemIn(external_id="a", source={"image": "1.png"})),
        ("line 4", ItemIn(source={"image": "two\nlines"}, golden={"total": "12.5"})),
        ("line 6", ItemIn(external_id="c", source={"image": "3.png"})),
    ]


def test_a_csv_row_of_empty_cells_is_no_item_as_a_blank_line_is_none() -> None:
    """Excel writes `,,` for a formatted row left blank."""
    body = b"external_id,image\r\na,1.png\r\n,\r\n , \r\nb,2.png\r\n,\r\n"
    assert [place for place, _ in parse(CsvItems, body)] == ["line 2", "line 5"]
    assert parse(CsvItems, b"external_id,image\r\n,\r\n,\r\n") == []


def test_a_csv_cell_past_the_csv_modules_limit_is_an_item_as_in_ndjson() -> None:
    cell = "x" * 200_000  # past the csv module's 128 KiB
    ((place, item),) = parse(CsvItems, f"image\n{cell}\n".encode(), size=65_536)
    assert (place, item) == ("line 2", ItemIn(source={"image": cell}))


def test_a_quote_inside_an_unquoted_cell_is_text_as_csv_reads_it_whatever_follows() -> None:
    """An inch mark: one on its own line, and one on each of two lines, read alike; a quoted
    cell after it still spans lines, and a doubled quote in one is a quote."""
    body = (
        b'external_id,desc\r\nA,24" monitor\r\nB,mouse\r\nC,27" monitor\r\nD,13" pad\r\n'
        b'E,"two\r\nlines, ""quoted"""\r\n'
    )

    assert parse(CsvItems, body) == [
        ("line 2", ItemIn(external_id="A", source={"desc": '24" monitor'})),
        ("line 3", ItemIn(external_id="B", source={"desc": "mouse"})),
        ("line 4", ItemIn(external_id="C", source={"desc": '27" monitor'})),
        ("line 5", ItemIn(external_id="D", source={"desc": '13" pad'})),
        ("line 6", ItemIn(external_id="E", source={"desc": 'two\r\nlines, "quoted"'})),
    ]


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1000])
def test_csv_and_ndjson_lines_that_end_with_cr_alone_are_lines_whatever_the_chunks(
    size: int,
) -> None:
    """As Excel for Mac saves CSV; a quoted cell keeps the line ends it spans, whichever."""
    csv_body = b'external_id,desc\r1,a\r\r2,"two\rlines"\r3,"cr\r\nlf"\r\n4,b\r'
    ndjson_body = b'{"external_id": "1", "source": {}}\r\r{"source": {"a": "\\r"}}\r'

    assert parse(CsvItems, csv_body, size) == [
        ("line 2", ItemIn(external_id="1", source={"desc": "a"})),
        ("line 4", ItemIn(external_id="2", source={"desc": "two\rlines"})),
        ("line 6", ItemIn(external_id="3", source={"desc": "cr\r\nlf"})),
        ("line 8", ItemIn(external_id="4", source={"desc": "b"})),
    ]
    assert parse(NdjsonItems, ndjson_body, size) == [
        ("line 1", ItemIn(external_id="1", source={})),
        ("line 3", ItemIn(source={"a": "\r"})),
    ]


@pytest.mark.parametrize(
    ("body", "rows"),
    [
        (b"a,a,,golden.vat\r\n", [("line 1", ["", "", "golden.vat"])]),
        (
            b"a,b\r\n1\r\n2,3\r\n",
            [("line 2", [""]), ("line 3", ItemIn(source={"a": "2", "b": "3"}))],
        ),
        (b'a,b\r\n1,"open\r\n2,3\r\n', [("line 2", [""])]),
        (b"a\r\n1\r\n\xff\r\n4\r\n", [("line 2", ItemIn(source={"a": "1"})), ("line 3", [""])]),
        (b"a\r\n1\x002\r\n", [("line 2", ["source.a"])]),
    ],
    ids=["bad-header", "short-row", "unclosed-quote", "not-utf8", "nul"],
)
def test_csv_names_the_line_of_each_problem(body: bytes, rows: list[tuple[str, Any]]) -> None:
    assert parse(CsvItems, body) == rows


def test_csv_says_how_to_close_a_quoted_cell() -> None:
    reading = CsvItems(SPEC)
    reading.feed(b'a,b\r\n1,"open\r\n')

    ((place, problems),) = reading.end()

    assert place.label == "line 2"
    assert isinstance(problems, list)
    assert problems[0].message == f"not valid CSV: {UNCLOSED_QUOTE}"
    assert UNCLOSED_QUOTE.endswith('(a quote inside a cell is doubled: "say ""hi""")')


TABLES = JobSpec.model_validate(
    {
        "fields": [
            {"name": "number", "type": "string"},
            {
                "name": "lines",
                "type": "table",
                "columns": [{"name": "sku", "type": "string"}, {"name": "qty", "type": "integer"}],
            },
        ]
    }
)


def csv_rows(spec: JobSpec, body: bytes) -> list[tuple[str, Any]]:
    reading = CsvItems(spec)
    rows = reading.feed(body) + ([] if reading.done else reading.end())
    return [
        (
            place.label,
            parsed if isinstance(parsed, ItemIn) else [(e.field, e.message) for e in parsed],
        )
        for place, parsed in rows
    ]


@pytest.mark.parametrize("column", ["golden.lines", "golden.lines.qty", "golden.lines[0].qty"])
def test_a_csv_golden_column_cannot_give_a_table_and_says_to_send_ndjson_or_json(
    column: str,
) -> None:
    body = f"external_id,golden.number,{column}\r\na,R-1,2\r\n".encode()

    assert csv_rows(TABLES, body) == [("line 1", [(column, not_in_csv("lines"))])]
    assert not_in_csv("lines") == (
        "lines is a table, whose rows a CSV cell cannot hold: send items that give it as "
        "NDJSON or JSON"
    )


def test_a_csv_golden_answer_cannot_give_a_required_table_but_ordinary_rows_pass() -> None:
    body = b"external_id,golden.number,lines\r\na,R-1,x\r\nb,,x\r\n"

    assert csv_rows(TABLES, body) == [
        ("line 2", [("golden.lines", not_in_csv("lines"))]),
        ("line 3", ItemIn(external_id="b", source={"lines": "x"})),
    ]


@pytest.mark.parametrize("size", [1, 4, 1000])
@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_csv_whose_header_is_separated_by_semicolons_or_tabs_is_read_so(
    separator: str, size: int
) -> None:
    """As Excel saves CSV where the comma is the decimal mark, and a tab-separated export; a
    comma inside the header's quotes is a name's, and a documents cell holding `;` is quoted."""
    rows = [
        ["external_id", '"name, first"', "documents", "golden.total"],
        ["A-1", "4711", '"inv-1.pdf;inv-2.pdf"', ""],
        [],
        ["A-3", "47,13", "inv-3.pdf", "12,50"],
    ]
    body = "\ufeff" + "".join(separator.join(cells) + "\r\n" for cells in rows)

    assert parse(CsvItems, body.encode(), size) == [
        (
            "line 2",
            ItemIn(
                external_id="A-1",
                source={"name, first": "4711"},
                documents=["inv-1.pdf", "inv-2.pdf"],
            ),
        ),
        (
            "line 4",
            ItemIn(
                external_id="A-3",
                source={"name, first": "47,13"},
                documents=["inv-3.pdf"],
                golden={"total": "12,50"},
            ),
        ),
    ]


def test_a_csv_is_separated_by_what_its_header_line_has_most_outside_quotes() -> None:
    body = b'\r\nexternal_id,"a;b",c\td\r\n1,x;y,z\r\n'

    assert parse(CsvItems, body) == [
        ("line 3", ItemIn(external_id="1", source={"a;b": "x;y", "c\td": "z"})),
    ]
    # Excel quotes no name with a comma in a `;`-separated file; a tab export keeps them too.
    # As many commas in names as separators between them: the separator is not the comma.
    for separator in (";", "\t"):
        header = separator.join(["external_id", "Betrag, brutto", "total"])
        row = separator.join(["R-1", "12,50", "3"])
        assert parse(CsvItems, f"{header}\r\n{row}\r\n".encode()) == [
            ("line 2", ItemIn(external_id="R-1", source={"Betrag, brutto": "12,50", "total": "3"}))
        ]
        tied = separator.join(["external_id", "Betrag, brutto"])
        assert parse(CsvItems, f"{tied}\r\nR-1{separator}12,50\r\n".encode()) == [
            ("line 2", ItemIn(external_id="R-1", source={"Betrag, brutto": "12,50"}))
        ]
    # A header of one column: its cells may hold commas.
    assert parse(CsvItems, b"external_id\r\nR-1\r\n") == [
        ("line 2", ItemIn(external_id="R-1", source={}))
    ]


def test_a_reserved_csv_column_in_another_case_is_refused_naming_it_and_its_spelling() -> None:
    body = b"External_ID,note,DOCUMENTS,Golden.total,golden.invoice_number\r\na,b,c,1,2\r\n"

    assert csv_rows(SPEC, body) == [
        (
            "line 1",
            [
                (name, f"did you mean {spelling}? {LOWER_CASE}")
                for name, spelling in (
                    ("External_ID", "external_id"),
                    ("DOCUMENTS", "documents"),
                    ("Golden.total", "golden.total"),
                )
            ],
        )
    ]
    assert LOWER_CASE == "external_id, documents and golden.<field> are written in lower case"

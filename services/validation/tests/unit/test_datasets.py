"""Reading an uploaded reference dataset: rows keyed by a column, bad lines named."""

import pytest

from bpo_common.errors import Invalid
from bpo_validation.domain.datasets import Format, parse
from bpo_validation.domain.reference import reference_key


def test_csv_rows_are_kept_as_text_and_found_by_a_casefolded_key() -> None:
    table = parse(b'\xef\xbb\xbfid,name\n V-1 ,"ACME, Inc."\n\nv-2,Globex\n', Format.CSV, "id")
    assert table.columns == ["id", "name"]
    assert table.rows == [
        {"key": "v-1", "values": {"id": " V-1 ", "name": "ACME, Inc."}},
        {"key": "v-2", "values": {"id": "v-2", "name": "Globex"}},
    ]


@pytest.mark.parametrize("separator", [";", "\t"])
def test_a_csv_separated_by_semicolons_or_tabs_is_read_so_as_items_are(separator: str) -> None:
    # As Excel saves CSV where the comma is the decimal mark, a name with a comma unquoted.
    lines = [["po", "Betrag, brutto", "vendor"], ["PO-1", "12,50", '"ACME; Inc."']]
    body = "".join(separator.join(cells) + "\r\n" for cells in lines).encode()
    table = parse(body, Format.CSV, "po")
    assert table.columns == ["po", "Betrag, brutto", "vendor"]
    assert table.rows == [
        {"key": "po-1", "values": {"po": "PO-1", "Betrag, brutto": "12,50", "vendor": "ACME; Inc."}}
    ]


def test_ndjson_numbers_keep_their_digits_and_columns_are_the_union() -> None:
    body = b'{"id": "V-1", "limit": 1000.50}\n{"id": "V-2", "open": true}\n'
    table = parse(body, Format.NDJSON, "id")
    assert table.columns == ["id", "limit", "open"]
    assert table.rows[0]["values"] == {"id": "V-1", "limit": "1000.50"}


@pytest.mark.parametrize("end", [b"\n", b"\r\n", b"\r"], ids=["LF", "CRLF", "CR"])
def test_ndjson_lines_end_as_intakes_item_bodies_end(end: bytes) -> None:
    body = end.join([b'{"po": "1"}', b'{"po": "2", "note": "a\xe2\x80\xa8b"}', b""])
    table = parse(body, Format.NDJSON, "po")
    assert [row["values"] for row in table.rows] == [{"po": "1"}, {"po": "2", "note": "a\u2028b"}]


def test_every_bad_line_is_named() -> None:
    with pytest.raises(Invalid) as raised:
        parse(b"id,name\nV-1\nV-2,ok\nv-2,again\n", Format.CSV, "id")
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("line 2", "1 cells where the header has 2"),
        ("line 4", "key v-2 repeats line 3 (case and spaces ignored)"),
    ]


def test_a_key_too_long_for_the_index_or_that_holds_lines_is_a_bad_line() -> None:
    long = "k" * 501
    body = f'{{"id": "{long}"}}\n{{"id": "{"k" * 500}"}}\n{{"id": [{{"sku": "A"}}]}}\n'.encode()
    with pytest.raises(Invalid) as raised:
        parse(body, Format.NDJSON, "id")
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("line 1", "the key is 501 characters long; the limit is 500"),
        ("line 3", "the key column id holds lines, not one value"),
    ]


@pytest.mark.parametrize("end", ["\n", "\r"], ids=["LF", "CR"])
@pytest.mark.parametrize("media", list(Format))
def test_a_dataset_saved_in_another_encoding_names_each_line_and_its_byte(
    media: Format, end: str
) -> None:
    # An Excel export in Windows-1252: é and ü are one byte each, not UTF-8.
    lines = ["po,vendor", "PO-1,Acme", "PO-2,Café Müller", "PO-3,Señor", ""]
    body = end.join(lines).encode("cp1252")
    with pytest.raises(Invalid) as raised:
        parse(body, media, "po")
    assert raised.value.detail == (
        "the dataset is not UTF-8 text (save it as UTF-8): line 3, line 4"
    )
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("line 3", "not UTF-8 (byte 9 of the line)"),
        ("line 4", "not UTF-8 (byte 8 of the line)"),
    ]


@pytest.mark.parametrize(
    ("text", "fields"),
    [
        ('{"po": "PO-1"}\n{"po": "PO-2"}\n', ["line 1", "line 2", "line 3"]),
        ('{"po": "PO-1"}', ["line 1"]),
    ],
    ids=["two-rows", "one-row-no-line-end"],
)
def test_an_ndjson_dataset_saved_as_utf16_without_its_bom_names_its_lines(
    text: str, fields: list[str]
) -> None:
    # UTF-8 to the decoder (NUL is a character), but each line's NUL bytes once had JSON read
    # it as UTF-16: a line of odd length crashed, one of even length became a row.
    with pytest.raises(Invalid) as raised:
        parse(text.encode("utf-16-le"), Format.NDJSON, "po")
    assert raised.value.detail == f"the dataset has bad lines: {', '.join(fields)}"
    assert [e.field for e in raised.value.errors] == fields
    assert all(e.message.startswith("not valid JSON: ") for e in raised.value.errors)


@pytest.mark.parametrize(
    ("body", "media", "message"),
    [
        (b"po,total\r\n", Format.CSV, "holds no row"),
        (b"po,total\n\n , \n", Format.CSV, "holds no row"),
        (b"", Format.CSV, "is empty"),
        (b"\xef\xbb\xbf\r\n", Format.CSV, "is empty"),
        (b"\n\n", Format.NDJSON, "is empty"),
    ],
    ids=["header-only", "header-and-blank-rows", "empty-csv", "bom-and-a-line-end", "blank-ndjson"],
)
def test_an_upload_without_rows_names_the_body_not_the_key(
    body: bytes, media: Format, message: str
) -> None:
    with pytest.raises(Invalid) as raised:
        parse(body, media, "po")
    assert [(e.field, e.message) for e in raised.value.errors] == [("body", message)]


def test_a_key_saved_with_its_accents_apart_is_found_as_keyed_values_are_written() -> None:
    """NFD (macOS, some exports) and NFC keys alike: keyed values are NFC."""
    table = parse("vendor,city\nMu\u0308ller GmbH,Köln\n".encode(), Format.CSV, "vendor")
    assert [row["key"] for row in table.rows] == ["müller gmbh"]
    # A key of NFC text is what it was (stored keys still match): ΐ folds as it did.
    assert reference_key("Παΐσιος") == "Παΐσιος".casefold()
    assert table.rows[0]["values"]["vendor"] == "Mu\u0308ller GmbH", "the value kept as sent"


def test_a_csv_after_blank_lines_is_read_from_its_header_as_items_are() -> None:
    table = parse(b"\r\n\r\npo,vendor\r\nPO-1,ACME\r\n", Format.CSV, "po")
    assert table.columns == ["po", "vendor"]
    assert [row["key"] for row in table.rows] == ["po-1"]


def test_a_csv_cell_past_the_csv_modules_limit_is_taken_up_to_a_records_bound() -> None:
    cell = "x" * 200_000  # past the csv module's 128 KiB
    table = parse(f"po,notes\nPO-1,{cell}\n".encode(), Format.CSV, "po")
    assert table.rows[0]["values"]["notes"] == cell
    with pytest.raises(Invalid) as raised:
        parse(f"po,notes\nPO-1,{'x' * 2_200_000}\n".encode(), Format.CSV, "po")
    assert [(e.field, e.message) for e in raised.value.errors] == [
        ("line 2", "not valid CSV: a cell is larger than 2 MiB, the most a record holds")
    ]

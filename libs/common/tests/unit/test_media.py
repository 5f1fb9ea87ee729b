"""Choosing a response format from Accept, reading Content-Type, and CSV a spreadsheet
cannot run."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bpo_common.errors import NotAcceptable, UnsupportedMediaType
from bpo_common.media import attachment, content_type, csv_text, negotiate, spreadsheet_safe

OFFERED = ["application/json", "text/csv", "application/pdf"]


@pytest.mark.parametrize(
    ("accept", "chosen"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("text/csv", "text/csv"),
        ("text/*;q=0.9, application/json;q=0.5", "text/csv"),
        ("*/*", "application/json"),
        ("application/*;q=0.2, application/pdf", "application/pdf"),
        ("text/csv, application/json", "application/json"),
        ("*/*;q=0.1, application/json;q=0", "text/csv"),
    ],
)
def test_the_offered_type_accept_gives_the_highest_quality_wins(
    accept: str | None, chosen: str
) -> None:
    assert negotiate(accept, OFFERED, "refused") == chosen


def test_an_accept_that_allows_none_of_them_is_refused_with_the_callers_words() -> None:
    with pytest.raises(NotAcceptable, match="only JSON here"):
        negotiate("image/png, text/csv;q=0", OFFERED, "only JSON here")


def test_cells_that_a_spreadsheet_would_run_are_quoted_and_plain_numbers_are_not() -> None:
    written = ("=SUM(A1)", "-2+3+cmd|' /C calc'!A0", "@x", "plain", "", "-12.50", "+4930123456")
    assert [spreadsheet_safe(t) for t in written] == [
        "'=SUM(A1)",
        "'-2+3+cmd|' /C calc'!A0",
        "'@x",
        "plain",
        "",
        "-12.50",
        "+4930123456",
    ]


def test_csv_cells_keep_numbers_defuse_text_and_write_json_and_times_as_json_does() -> None:
    moment = datetime(2026, 12, 4, 9, 30, tzinfo=UTC)
    assert csv_text([[None, True, -2, Decimal("-1.50"), "-2", "-2-1", {"a": [1]}, moment]]) == (
        ',true,-2,-1.50,-2,\'-2-1,"{""a"":[1]}",2026-12-04T09:30:00Z\r\n'
    )


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        (None, "send items as text/csv or application/json (with a Content-Type header)"),
        ("image/png", "send items as text/csv or application/json (not image/png)"),
        ("text/csv; charset=latin-1", "send items in UTF-8"),
    ],
)
def test_a_body_in_a_type_not_taken_is_refused_saying_what_is(
    header: str | None, detail: str
) -> None:
    with pytest.raises(UnsupportedMediaType) as refused:
        content_type(header, ["text/csv", "application/json"], "items")
    assert refused.value.detail == detail


def test_a_body_in_a_type_taken_is_named_by_its_media_type() -> None:
    assert content_type('Text/CSV; charset="UTF-8"', ["text/csv"], "items") == "text/csv"


def test_a_download_name_that_is_not_plain_ascii_is_sent_as_rfc_6266_says() -> None:
    assert attachment("job-1-results.csv")["Content-Disposition"] == (
        'attachment; filename="job-1-results.csv"'
    )
    header = attachment('請求書 "7".pdf')["Content-Disposition"]
    assert header == (
        'attachment; filename="___ _7_.pdf"; '
        "filename*=UTF-8''%E8%AB%8B%E6%B1%82%E6%9B%B8%20%227%22.pdf"
    )
    header.encode("latin-1")  # what an HTTP header may carry

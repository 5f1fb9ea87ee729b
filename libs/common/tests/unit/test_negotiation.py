"""Choosing a response format from Accept; CSV cells a spreadsheet cannot run."""

import pytest

from bpo_common.errors import NotAcceptable
from bpo_common.negotiation import negotiate, spreadsheet_safe

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


def test_cells_that_a_spreadsheet_would_run_are_quoted() -> None:
    assert [spreadsheet_safe(t) for t in ("=SUM(A1)", "-2", "@x", "plain", "")] == [
        "'=SUM(A1)",
        "'-2",
        "'@x",
        "plain",
        "",
    ]

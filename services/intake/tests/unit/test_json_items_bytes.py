"""A JSON items body with a byte that is not UTF-8: named at the item it is in and its byte in
the body, whatever the chunks, after any fault before it."""

import pytest

from bpo_common.rules import JobSpec
from bpo_intake.domain.item_bodies import JsonItems

SPEC = JobSpec.model_validate({"fields": [{"name": "total", "type": "decimal"}]})


@pytest.mark.parametrize("size", [1, 7, 4096])
def test_json_that_is_not_utf8_is_named_at_its_item_and_byte_of_the_body(size: int) -> None:
    items = [b'{"source": {"n": "x%d"}}' % number for number in range(300)]
    items[250] = b'{"source": {"n": "caf\xe9"}}'  # Latin-1, as a legacy export writes it
    body = b'\xef\xbb\xbf{"items": [' + b", ".join(items) + b"]}"
    reading, rows = JsonItems(SPEC), []
    for start in range(0, len(body), size):
        rows += reading.feed(body[start : start + size])
        if reading.done:
            break
    *read, (place, problems) = rows
    assert (len(read), place.label) == (250, "items[250]")
    assert isinstance(problems, list)
    bad = body.index(b"\xe9") + 1
    assert [problem.message for problem in problems] == [f"not UTF-8 (byte {bad} of the body)"]


def test_a_number_refused_just_before_a_byte_that_is_not_utf8_is_what_is_said() -> None:
    body = b'{"items": [{"source": {}}, {"source": {"n": 1234567890123.4567\xa0}}]}'
    first, (place, problems) = JsonItems(SPEC).feed(body)
    assert (first[0].label, place.label) == ("items[0]", "items[1]")
    assert isinstance(problems, list)
    assert [problem.message for problem in problems] == [
        "1234567890123.4567 has more digits than a JSON number keeps (15 to 17): send it as "
        "text, in quotes"
    ]

"""Text PostgreSQL cannot store, found wherever it sits in a JSON value."""

from bpo_common.errors import FieldError
from bpo_common.text import MESSAGE, unstorable


def test_every_place_with_a_nul_or_a_lone_surrogate_is_named_and_nothing_else() -> None:
    body = {
        "name": "ok",
        "items": [
            {"source": {"scan": "a\x00b", "page": 1, "tags": ["x", "\ud83d"]}},
            {"source": {"scan": "\U0001f600 paired is fine"}},
        ],
        "bad\x00key": None,
    }
    assert unstorable(body) == [
        FieldError("items[0].source.scan", MESSAGE),
        FieldError("items[0].source.tags[1]", MESSAGE),
        FieldError("bad\ufffdkey", f"the name {MESSAGE}"),
    ]


def test_a_value_alone_is_named_by_its_path_or_as_the_body() -> None:
    assert unstorable("\x00") == [FieldError("body", MESSAGE)]
    assert unstorable("\udc00", "line 3") == [FieldError("line 3", MESSAGE)]
    assert unstorable(["fine", 1, 2.5, True, None]) == []

"""What the stream and the dead letters keep of an erased item's events."""

from bpo_common.erasure import redacted


def test_an_erased_keying_keeps_no_document_name_on_the_stream_sealed_or_in_clear() -> None:
    sealed = {"item_id": "i", "data": "pii:v1:k:AAAA", "documents": "pii:v1:k:BBBB", "keyed": 2}
    assert redacted(sealed) == {"item_id": "i", "data": None, "documents": None, "keyed": 2}
    # Published before the names were sealed: the list itself.
    older = {"item_id": "i", "data": "pii:v1:k:AAAA", "documents": ["Jane-Doe.pdf"]}
    assert redacted(older) == {"item_id": "i", "data": None, "documents": None}
    decided = {"item_id": "i", "result": {"name": "pii:v1:k:CCCC"}, "fields": ["name"]}
    assert redacted(decided) == {"item_id": "i", "result": {"name": None}, "fields": ["name"]}

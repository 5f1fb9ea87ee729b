"""What the stream and the dead letters keep of an erased item's events."""

from bpo_common.clock import utcnow
from bpo_common.erasure import Erased, redacted
from bpo_common.events import Envelope
from bpo_common.ids import new_id


def test_an_erased_keying_keeps_no_document_name_on_the_stream_sealed_or_in_clear() -> None:
    sealed = {"item_id": "i", "data": "pii:v1:k:AAAA", "documents": "pii:v1:k:BBBB", "keyed": 2}
    assert redacted(sealed) == {"item_id": "i", "data": None, "documents": None, "keyed": 2}
    # Published before the names were sealed: the list itself.
    older = {"item_id": "i", "data": "pii:v1:k:AAAA", "documents": ["Jane-Doe.pdf"]}
    assert redacted(older) == {"item_id": "i", "data": None, "documents": None}
    decided = {"item_id": "i", "result": {"name": "pii:v1:k:CCCC"}, "fields": ["name"]}
    assert redacted(decided) == {"item_id": "i", "result": {"name": None}, "fields": ["name"]}


def _event(data: dict[str, object]) -> Envelope:
    return Envelope(id=new_id(), type="t", source="s", time=utcnow(), version=1, data=data)


def test_an_erased_items_event_is_picked_for_its_names_in_clear_alone() -> None:
    job, item = new_id(), new_id()
    erased = Erased.by(job, [item])
    ids = {"job_id": str(job), "item_id": str(item)}
    assert erased.in_event(_event(ids | {"data": None, "documents": ["Jane-Doe.pdf"]}))
    assert not erased.in_event(_event(ids | {"data": None, "documents": None}))
    assert not erased.in_event(_event({"job_id": str(job), "documents": 3})), "a count"

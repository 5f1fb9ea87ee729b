"""What the stream and the dead letters keep of an erased item's events."""

from uuid import UUID

import pytest

from bpo_common.clock import utcnow
from bpo_common.contracts import ExceptionAction, TaskKind, intake, reasons, validation
from bpo_common.contracts.erasure import TYPED_EVENTS
from bpo_common.contracts.intake import ERASED_REASON
from bpo_common.erasure import Erased, redacted
from bpo_common.events import Envelope, Event, wrap
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


TYPED = "the IBAN of Anna Schmidt is cut off"


def _typed_events() -> list[Event]:
    """An event of each shape that carries what a person typed about an item."""
    ids = {"item_id": new_id(), "job_id": new_id(), "client_id": new_id()}
    now = utcnow()
    keyed = {"task_id": new_id(), "contractor_id": new_id(), "data": "pii:v1:k:AAAA"}
    return [
        intake.TaskSubmitted(
            **ids,
            **keyed,
            work_type="invoice",
            kind=TaskKind.ENTRY,
            golden=None,
            entries_expected=1,
            rejection=TYPED,
            claimed_at=now,
            submitted_at=now,
        ),
        validation.ReviewRequired(
            **ids,
            kind=TaskKind.REVIEW,
            entries=[intake.Entry(**keyed, unreadable=TYPED)],
            reason=reasons.unreadable([TYPED]),
            decided_at=now,
        ),
        validation.ItemRejected(
            **ids, reason=reasons.rejected(TaskKind.REVIEW, TYPED), decided_at=now
        ),
        validation.ItemRejected(
            **ids, reason=reasons.resolved(ExceptionAction.REJECT, True, TYPED), decided_at=now
        ),
        intake.ItemRejected(
            **ids,
            work_type="invoice",
            reason=reasons.rejected(TaskKind.ADJUDICATION, TYPED),
            rejected_at=now,
        ),
    ]


@pytest.mark.parametrize("event", _typed_events(), ids=lambda event: event.event_type)
def test_an_erased_items_typed_text_is_emptied_and_its_event_still_reads(event: Event) -> None:
    envelope = wrap(event, source="test")
    assert TYPED in envelope.model_dump_json()
    erased = Erased.by(UUID(envelope.data["job_id"]), [UUID(envelope.data["item_id"])])
    assert erased.in_event(envelope)

    kept = envelope.model_copy(update={"data": redacted(envelope.data)})

    assert TYPED not in kept.model_dump_json()
    assert not erased.in_event(kept), "emptied once: nothing left to empty"
    # Read again as every consumer reads it (a rebuild replays the stream).
    read = Envelope.model_validate_json(kept.model_dump_json()).payload(type(event))
    shown = read.model_dump(mode="json")
    assert shown == redacted(envelope.data)


def test_every_event_carrying_typed_text_is_one_the_stream_erasure_reads() -> None:
    assert {type(event) for event in _typed_events()} == set(TYPED_EVENTS)


def test_the_fixed_words_of_a_reason_stay_and_what_was_typed_goes() -> None:
    (submitted, review, in_review, resolution, adjudication) = [
        redacted(wrap(event, source="test").data) for event in _typed_events()
    ]
    assert submitted["rejection"] == "", "still marked unreadable"
    assert review["reason"] == "marked unreadable"
    assert [entry["unreadable"] for entry in review["entries"]] == [""]
    assert in_review["reason"] == "rejected in review"
    assert resolution["reason"] == "match exception rejected by the client's accounts payable"
    assert adjudication["reason"] == "rejected in adjudication"
    assert adjudication["erased"] is False, "a rejection of the work still"


def test_a_reason_nobody_typed_in_stays_whole() -> None:
    ids = {"item_id": str(new_id()), "job_id": str(new_id())}
    for reason in (ERASED_REASON, "keyings differ on total, vendor", "rejected"):
        assert redacted(ids | {"reason": reason}) == ids | {"reason": reason}
    # An erasure's rejection from before it said so in `erased`: told by its reason still.
    older = {**ids, "client_id": str(new_id()), "work_type": "w", "rejected_at": "2026-01-01"}
    kept = redacted(older | {"reason": ERASED_REASON})
    assert intake.ItemRejected.model_validate(kept).erased


@pytest.mark.parametrize(
    ("reason", "kept"),
    [
        (reasons.reference_check(["vendor Muller is not name Mueller GmbH", "total 15.00 differs"
                                  " from limit 12 by more than 0.5"]), "reference check"),
        ("sampled for review at rate 0.1; " + reasons.reference_check(["po PO-9 is not in po"]),
         "sampled for review at rate 0.1; reference check"),
        (reasons.unmatched(["lines[0]: sku ABC-1: 12 invoiced, 10 ordered"]),
         "does not match its purchase order"),
        (reasons.matched("2 keyings agree", "PO-4711"), "2 keyings agree; matches order"),
        # Words of its own with a separator before the order: each part cut apart.
        (reasons.matched("verified: the client's values stand", "PO-4711"),
         "verified: the client's values stand; matches order"),
        (reasons.matched("assisted: the keyer confirmed the machine's values on all 5 fields",
                         "PO-4711"),
         "assisted: the keyer confirmed the machine's values on all 5 fields; matches order"),
        (reasons.matched("sampled for review at rate 0.1; reference check: po PO-9 is not in po",
                         "PO-9"), "sampled for review at rate 0.1; reference check; matches order"),
        (reasons.together(reasons.unmatched(["lines[0]: sku ABC-1: 12 invoiced, 10 ordered",
                                             "total 51.00 is not 50.00"]),
                          reasons.reference_check(["po PO-9 is not in po"])),
         "does not match its purchase order; reference check"),
        # Written so before the order was set apart with a separator.
        ("single keying, valid; matches order PO-4711", "single keying, valid; matches order"),
        ("verified: the client's values stand; matches order PO-4711",
         "verified: the client's values stand; matches order"),
    ],
    ids=["reference-check", "sampled-and-checked", "unmatched", "matched", "verified-matched",
         "assisted-matched", "checked-matched", "unmatched-and-checked", "matched-before",
         "verified-matched-before"],
)  # fmt: skip
def test_a_reason_quoting_keyed_values_keeps_only_its_fixed_words(reason: str, kept: str) -> None:
    job = new_id()
    ids: dict[str, object] = {"item_id": str(new_id()), "job_id": str(job)}
    assert redacted(ids | {"reason": reason}) == ids | {"reason": kept}
    assert Erased.by(job, None).in_event(_event(ids | {"reason": reason})), "picked to empty"

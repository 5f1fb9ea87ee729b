"""The event envelope: one shape, UUIDv7 ids, UTC times, typed payloads."""

import json
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

import bpo_common.contracts  # noqa: F401 (every contract module, for the walk of Event's subclasses)
from bpo_common.contracts.erasure import SEALED_EVENTS
from bpo_common.contracts.intake import ItemsReceived, JobCreated, ReceivedItem
from bpo_common.contracts.sealed import emptied, holds_sealed
from bpo_common.events import Envelope, Event, event_class, wrap
from bpo_common.ids import new_id


def _items_received(count: int) -> ItemsReceived:
    return ItemsReceived(
        job_id=UUID(int=1),
        client_id=UUID(int=2),
        work_type="invoice",
        items=[
            ReceivedItem(item_id=UUID(int=10 + n), external_id=f"x{n}", golden=n % 2 == 0)
            for n in range(count)
        ],
        received_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    )


@given(st.integers(min_value=0, max_value=20), st.text(min_size=1, max_size=40))
def test_an_event_survives_the_wire_unchanged(count: int, correlation_id: str) -> None:
    event = _items_received(count)
    envelope = wrap(event, source="intake", client_id=UUID(int=2), correlation_id=correlation_id)
    received = Envelope.model_validate_json(envelope.model_dump_json())
    assert received == envelope
    assert received.payload(ItemsReceived) == event
    assert received.id.version == 7
    assert received.time.utcoffset() is not None
    assert received.type == received.subject == "bpo.intake.items.received"


def test_reading_a_payload_as_the_wrong_event_type_is_refused() -> None:
    envelope = wrap(_items_received(1), source="intake")
    with pytest.raises(TypeError, match=r"holds bpo\.intake\.items\.received"):
        envelope.payload(JobCreated)


def test_event_types_are_registered_by_their_subject() -> None:
    assert event_class("bpo.intake.job.created") is JobCreated


def test_ids_of_consecutive_events_sort_by_creation() -> None:
    ids = [wrap(_items_received(0), source="intake").id for _ in range(50)]
    assert ids == sorted(ids)


def test_every_event_carrying_sealed_values_is_emptied_by_an_erasure() -> None:
    def subclasses(cls: type[Event]) -> list[type[Event]]:
        return [cls, *(sub for child in cls.__subclasses__() for sub in subclasses(child))]

    sealing = {
        cls
        for cls in subclasses(Event)
        if getattr(cls, "event_type", None)
        and "sealed with the job's data key" in json.dumps(cls.model_json_schema())
    }
    assert sealing == set(SEALED_EVENTS)


def test_an_emptied_event_keeps_everything_but_its_sealed_values() -> None:
    data = {
        "item_id": "i",
        "fields_keyed": 2,
        "data": "pii:v1:k:abc",
        "entries": [{"task_id": "t", "data": "pii:v1:k:def"}],
        "golden": None,
    }
    assert holds_sealed(data)
    assert emptied(data) == {
        "item_id": "i",
        "fields_keyed": 2,
        "data": None,
        "entries": [{"task_id": "t", "data": None}],
        "golden": None,
    }
    assert not holds_sealed(emptied(data))


def test_an_event_the_stream_holds_reads_as_it_was_accepted_though_a_check_was_added_since() -> (
    None
):
    """Hints on a table's column were accepted once and are refused now: a job created then
    still reads back from the stream (a rebuild replays it; a consumer may meet it late)."""
    column = {"name": "sku", "type": "string", "hints": {"labels": ["SKU"]}}
    table = {"name": "lines", "type": "table", "columns": [column]}
    data = {
        "job_id": str(new_id()), "client_id": str(new_id()), "work_type": "invoice",
        "fields": [table], "qc": {"mode": "single"}, "priority": 0, "due_at": None,
        "sla_hours": None, "external_ref": None, "created_at": "2026-01-01T00:00:00Z",
    }  # fmt: skip
    envelope = Envelope(
        id=new_id(), type=JobCreated.event_type, source="intake",
        time=datetime(2026, 1, 1, tzinfo=UTC), version=1, data=data,
    )  # fmt: skip
    (lines,) = envelope.payload(JobCreated).fields
    assert lines.columns is not None
    assert lines.columns[0].hints is not None

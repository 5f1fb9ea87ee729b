"""A consumer's batch cut into runs of one event type, and the first of each fact in a run."""

from datetime import UTC, datetime

from bpo_common.contracts.messaging import EventDeadLettered
from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import first_of_each, runs


def _envelope(subject: str) -> Envelope:
    event = EventDeadLettered(consumer="c", event_id=None, subject=subject, deliveries=1, error="")
    return wrap(event, source="test", time=datetime(2030, 1, 1, tzinfo=UTC))


def test_runs_keep_the_delivery_order_and_cut_where_the_type_changes() -> None:
    a, b, c = (_envelope(s) for s in "abc")
    other = c.model_copy(update={"type": "bpo.other.thing.happened", "id": new_id()})

    cut = runs([a, b, other, c])

    assert [[envelope.id for envelope in run] for run in cut] == [[a.id, b.id], [other.id], [c.id]]


def test_a_run_keeps_the_first_event_of_each_fact_as_one_at_a_time_would() -> None:
    events = [("item-1", "blurred"), ("item-1", "torn"), ("item-2", "blank")]

    kept = first_of_each(events, lambda event: event[0])

    assert kept == [("item-1", "blurred"), ("item-2", "blank")]

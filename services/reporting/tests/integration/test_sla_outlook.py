"""The SLA outlook of an open job with nothing left: it completes, once closed, at the time its
last item was finished, so that time is its forecast and says whether it is late. Items held in
match exceptions wait on the client, not on the keyers: the outlook counts them apart."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from nats.js import JetStreamContext
from sqlalchemy import insert, select

from bpo_common.contracts.intake import (
    ERASED_REASON,
    ItemCompleted,
    ItemRejected,
    ItemsReceived,
    JobCreated,
    ReceivedItem,
)
from bpo_common.contracts.validation import ExceptionOpened, ExceptionResolved
from bpo_common.contracts.vocabulary import ExceptionAction, QcPolicy
from bpo_common.db import SessionFactory
from bpo_common.events import Event, wrap
from bpo_common.ids import new_id
from bpo_common.tables import dead_letter
from bpo_devtools.testing import TestStack
from bpo_reporting.models import OpenExceptionFact
from bpo_reporting.service.rebuild import rebuild

from .api import Reports
from .scenario import publish

DAY = datetime(2005, 7, 8, tzinfo=UTC)


def _received(job: dict[str, Any], due_at: datetime, items: list[UUID]) -> list[Event]:
    """The job, due at `due_at`, created at the day's start and its `items` received at 9:00."""
    return [
        JobCreated(
            **job,
            fields=[],
            qc=QcPolicy(),
            priority=50,
            due_at=due_at,
            sla_hours=None,
            external_ref=None,
            created_at=DAY,
        ),
        ItemsReceived(
            **job,
            items=[
                ReceivedItem(item_id=item_id, external_id=str(item_id), golden=False)
                for item_id in items
            ],
            received_at=DAY + timedelta(hours=9),
        ),
    ]


def _finished_job(client_id: UUID, due_at: datetime) -> tuple[UUID, list[Event]]:
    """A job due at `due_at` whose two items were finished at 10:00 and 11:00, not closed."""
    job_id, completed, rejected = new_id(), new_id(), new_id()
    job = {"job_id": job_id, "client_id": client_id, "work_type": "invoice"}
    events: list[Event] = [
        # The last item's end first: the outlook does not depend on the events' order.
        ItemRejected(
            item_id=rejected, **job, reason="unreadable", rejected_at=DAY + timedelta(hours=11)
        ),
        *_received(job, due_at, [completed, rejected]),
        ItemCompleted(
            item_id=completed,
            **job,
            golden=False,
            fields=1,
            completed_at=DAY + timedelta(hours=10),
        ),
    ]
    return job_id, events


async def test_a_job_with_nothing_left_is_forecast_at_its_last_item_and_late_only_past_due(
    js: JetStreamContext, reports: Reports
) -> None:
    client_id = new_id()
    on_time, on_time_events = _finished_job(client_id, DAY + timedelta(hours=12))
    late, late_events = _finished_job(client_id, DAY + timedelta(hours=10, minutes=30))
    await publish(js, [wrap(event, source="intake") for event in (*on_time_events, *late_events)])

    sla = await reports.body("sla", client_id=str(client_id))

    outlook = {
        row["job_id"]: (row["items_remaining"], row["forecast_completion_at"], row["at_risk"])
        for row in sla["data"]
    }
    assert outlook == {
        str(on_time): (0, "2005-07-08T11:00:00Z", False),
        str(late): (0, "2005-07-08T11:00:00Z", True),
    }
    assert (sla["jobs_open"], sla["jobs_at_risk"]) == (2, 1)


# A due time still ahead, whatever day the tests run.
AHEAD = datetime.now(UTC) + timedelta(days=365)


def _held_job(client_id: UUID, due_at: datetime) -> tuple[UUID, list[UUID], list[Event]]:
    """A job due at `due_at` of three items: the first completed at 10:00, the other two
    received and not finished."""
    job_id, items = new_id(), [new_id() for _ in range(3)]
    job = {"job_id": job_id, "client_id": client_id, "work_type": "invoice"}
    events: list[Event] = [
        *_received(job, due_at, items),
        _completed(job_id, client_id, items[0], hours=10),
    ]
    return job_id, items, events


def _completed(job_id: UUID, client_id: UUID, item_id: UUID, hours: int) -> ItemCompleted:
    return ItemCompleted(
        item_id=item_id,
        job_id=job_id,
        client_id=client_id,
        work_type="invoice",
        golden=False,
        fields=1,
        completed_at=DAY + timedelta(hours=hours),
    )


def _erased(job_id: UUID, client_id: UUID, item_id: UUID) -> ItemRejected:
    return ItemRejected(
        item_id=item_id,
        job_id=job_id,
        client_id=client_id,
        work_type="invoice",
        reason=ERASED_REASON,
        rejected_at=DAY + timedelta(hours=12),
    )


def _opened(job_id: UUID, client_id: UUID, item_id: UUID) -> ExceptionOpened:
    return ExceptionOpened(
        exception_id=new_id(),
        item_id=item_id,
        job_id=job_id,
        client_id=client_id,
        outcome="mismatch",
        reasons=[],
        lines=[],
        opened_at=DAY + timedelta(hours=11),
    )


def _resolved(opened: ExceptionOpened) -> ExceptionResolved:
    return ExceptionResolved(
        exception_id=opened.exception_id,
        item_id=opened.item_id,
        job_id=opened.job_id,
        client_id=opened.client_id,
        action=ExceptionAction.ACCEPT,
        by_client=True,
        resolved_at=DAY + timedelta(hours=13),
    )


async def _publish(js: JetStreamContext, events: list[Event]) -> set[UUID]:
    """Put the events on the stream as their services would, once reporting took them; their
    envelopes' ids."""
    envelopes = [wrap(event, source=event.event_type.split(".")[1]) for event in events]
    await publish(js, envelopes)
    return {envelope.id for envelope in envelopes}


async def _outlook(reports: Reports, client_id: UUID) -> dict[str, tuple[Any, ...]]:
    """Each of the client's open jobs: items remaining, waiting on the client, the forecast and
    whether it is at risk."""
    sla = await reports.body("sla", client_id=str(client_id))
    names = ("items_remaining", "items_waiting_on_client", "forecast_completion_at", "at_risk")
    return {row["job_id"]: tuple(row[name] for name in names) for row in sla["data"]}


async def test_items_held_on_exceptions_wait_on_the_client_until_resolved(
    js: JetStreamContext, reports: Reports, reporting_db: SessionFactory
) -> None:
    client_id = new_id()
    held, held_items, held_events = _held_job(client_id, AHEAD)
    late, late_items, late_events = _held_job(client_id, DAY + timedelta(hours=12))
    exceptions = [_opened(held, client_id, item_id) for item_id in held_items[1:]]
    late_exceptions = [_opened(late, client_id, item_id) for item_id in late_items[1:]]
    await _publish(js, [*held_events, *late_events, *exceptions, *late_exceptions])

    # Nothing left for the keyers: no forecast, and at risk only once due.
    assert await _outlook(reports, client_id) == {
        str(held): (0, 2, None, False),
        str(late): (0, 2, None, True),
    }
    sla = await reports.body("sla", client_id=str(client_id))
    assert (sla["jobs_open"], sla["jobs_at_risk"]) == (2, 1)

    # One resolved: its item is the keyers' again until validation's decision finishes it;
    # a resolution whose opening reporting never took ends nothing, and fails nothing.
    unseen = _resolved(_opened(held, client_id, new_id()))
    sent = await _publish(js, [_resolved(exceptions[0]), unseen])

    outlook = await _outlook(reports, client_id)
    assert outlook[str(held)][:2] == (1, 1)
    async with reporting_db() as session:
        letters = await session.scalars(
            select(dead_letter.c.event_id).where(dead_letter.c.consumer == "reporting")
        )
        assert not sent & set(letters), "reporting gave up on a resolution"

    # The other one's exception closed by its item's erasure (which validation announces by
    # intake's rejection alone), then the resolved item accepted.
    await _publish(js, [_erased(held, client_id, held_items[2])])

    assert (await _outlook(reports, client_id))[str(held)][:2] == (1, 0)

    await _publish(js, [_completed(held, client_id, held_items[1], hours=14)])

    assert (await _outlook(reports, client_id))[str(held)] == (
        0,
        0,
        "2005-07-08T14:00:00Z",
        False,
    )


async def test_an_exception_of_an_item_already_finished_holds_nothing(
    js: JetStreamContext, reports: Reports
) -> None:
    client_id = new_id()
    job_id, items, events = _held_job(client_id, AHEAD)
    # An erasure moves the opening's event, emptied, to the stream's end: after the item's
    # rejection it caused.
    await _publish(
        js,
        [*events, _erased(job_id, client_id, items[1]), _opened(job_id, client_id, items[1])],
    )

    outlook = await _outlook(reports, client_id)
    assert outlook[str(job_id)][:2] == (1, 0), "the last item is the keyers' to do"


async def test_a_rebuild_gives_the_same_items_waiting_on_the_client(
    js: JetStreamContext, reports: Reports, reporting_db: SessionFactory, stack: TestStack
) -> None:
    client_id = new_id()
    job_id, items, events = _held_job(client_id, AHEAD)
    opened = [_opened(job_id, client_id, item_id) for item_id in items[1:]]
    await _publish(js, [*events, *opened, _resolved(opened[0])])
    # The forecast of an item left moves with the clock; the items must not move.
    before = {job: outlook[:2] for job, outlook in (await _outlook(reports, client_id)).items()}
    assert before == {str(job_id): (1, 1)}
    # Damage the table: the rebuild must start it from nothing, not patch it.
    async with reporting_db() as session, session.begin():
        await session.execute(
            insert(OpenExceptionFact).values(
                exception_id=new_id(), job_id=job_id, item_id=items[1], opened_at=DAY
            )
        )
    assert (await _outlook(reports, client_id))[str(job_id)][:2] == (0, 2)

    await rebuild(reporting_db, stack.urls.nats_url)

    after = await _outlook(reports, client_id)
    assert {job: outlook[:2] for job, outlook in after.items()} == before


async def test_rows_left_for_a_finished_item_or_twice_for_one_count_once_or_not_at_all(
    js: JetStreamContext, reports: Reports, reporting_db: SessionFactory
) -> None:
    client_id = new_id()
    job_id, items, events = _held_job(client_id, AHEAD)
    await _publish(js, events)
    # As a replica of the last release leaves them: the exception of an item it completed
    # without ending it; and an item with two exceptions open.
    left = [items[0], items[1], items[1]]
    async with reporting_db() as session, session.begin():
        for item_id in left:
            row = {"exception_id": new_id(), "job_id": job_id, "item_id": item_id}
            await session.execute(insert(OpenExceptionFact).values(**row, opened_at=DAY))

    outlook = await _outlook(reports, client_id)

    assert outlook[str(job_id)][:2] == (1, 1), "one item for the keyers, one waiting"

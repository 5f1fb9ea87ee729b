"""`bpo reporting rebuild` replays the stream into fresh read models: the same numbers."""

import asyncio
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from nats.js import JetStreamContext
from pydantic import ValidationError
from sqlalchemy import delete, func, select, text, update
from uuid_utils.compat import uuid7

from bpo_common.contracts.intake import TaskExpired
from bpo_common.db import SessionFactory
from bpo_common.events import STREAM_NAME, Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import record_received
from bpo_common.messaging import connect, ensure_stream
from bpo_common.tables import dead_letter, inbox_event
from bpo_devtools.servers import NatsServer, free_port
from bpo_devtools.testing import TestStack, consumer_drained, eventually, stream_messages
from bpo_reporting.consumers import CONSUMER, handlers
from bpo_reporting.models import HourlyRollup, JobAccuracyFact, JobFact
from bpo_reporting.service.rebuild import HistoryGone, rebuild

from .api import Reports
from .scenario import Scenario, publish, published

DAY = datetime(2002, 7, 6, tzinfo=UTC)
BUSY_DAY = datetime(2003, 3, 3, tzinfo=UTC)
LOST_DAY = datetime(2005, 5, 5, tzinfo=UTC)
# The reports of one client's day: those no other client's events change.
OWN = ("overview", "hourly", "sla", "accuracy")


async def _reports(reports: Reports, scenario: Scenario) -> dict[str, Any]:
    period = {"from": scenario.day.isoformat(), "to": (scenario.day + timedelta(1)).isoformat()}
    client = {"client_id": str(scenario.client_id)}
    requests = {
        "overview": ("overview", {**period, **client}),
        "overview, every client": ("overview", period),
        "overview, last 30 days": ("overview", {}),
        "hourly": ("throughput", {**period, **client}),
        "daily": ("throughput", {**period, "bucket": "day"}),
        "contractors": ("contractors", period),
        "clients": ("clients", period),
        "sla": ("sla", client),
        "accuracy": ("accuracy", {**period, **client}),
    }
    answers: dict[str, Any] = {}
    for name, (report, params) in requests.items():
        response = await reports.get(report, params)
        body = response.json()
        if report == "sla":
            # Its forecast moves with the clock; the rest must not move.
            body.pop("generated_at")
            for job in body["data"]:
                job.pop("forecast_completion_at")
        elif name == "overview, last 30 days":
            body.pop("period_from")
            body.pop("period_to")
        answers[name] = (response.status_code, body)
    return answers


async def _rebuild(
    stack: TestStack, *options: str, nats_url: str | None = None, exit_code: int = 0
) -> str:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bpo_cli",
        "reporting",
        "rebuild",
        *options,
        env={
            **os.environ,
            "BPO_REPORTING_DATABASE_URL": stack.urls.database_urls["reporting"],
            "BPO_NATS_URL": nats_url or stack.urls.nats_url,
            "COLUMNS": "300",
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await process.communicate()
    assert process.returncode == exit_code, output.decode()
    return output.decode()


async def test_rebuild_from_the_stream_gives_exactly_the_same_numbers(
    reports: Reports, reporting_db: SessionFactory, js: JetStreamContext, stack: TestStack
) -> None:
    scenario = await published(js, DAY)
    before = await _reports(reports, scenario)
    assert before["overview"][1]["items_received"] == 9
    assert before["overview"][1]["revenue"] == "11.50"
    assert before["accuracy"][1]["flagged"] == 1
    # Damage the read models: the rebuild must start from nothing, not patch them.
    async with reporting_db() as session, session.begin():
        await session.execute(
            update(HourlyRollup)
            .where(HourlyRollup.client_id == scenario.client_id)
            .values(items_received=HourlyRollup.items_received + 100)
        )
        await session.execute(
            update(JobFact)
            .where(JobFact.client_id == scenario.client_id)
            .values(items_received=JobFact.items_received + 5)
        )
        await session.execute(
            update(JobAccuracyFact)
            .where(JobAccuracyFact.client_id == scenario.client_id)
            .values(met=True)
        )
    damaged = await _reports(reports, scenario)
    # Five hourly rows (invoices and claims at 8 and 9, invoices at 10); one open job.
    assert damaged["overview"][1]["items_received"] == 9 + 100 * 5
    assert damaged["overview"][1]["backlog"] == 1 + 5
    assert damaged["accuracy"][1]["flagged"] == 0

    output = await _rebuild(stack)

    assert "read models rebuilt from" in output, output
    after = await _reports(reports, scenario)
    assert after == before
    # The service's consumer carries on after the rebuild, without counting twice.
    later = Scenario(DAY)
    later.client_id = scenario.client_id
    await publish(js, later.envelopes())
    again = await _reports(reports, scenario)
    assert again["overview"][1]["items_received"] == 18
    assert again["overview"][1]["revenue"] == "23.00"


async def test_what_the_consumer_gave_up_on_is_left_out_again_and_the_rebuild_goes_on(
    reports: Reports, reporting_db: SessionFactory, js: JetStreamContext, stack: TestStack
) -> None:
    client_id, contractor_id = new_id(), new_id()
    expired = TaskExpired(
        task_id=new_id(),
        job_id=new_id(),
        item_id=new_id(),
        client_id=client_id,
        contractor_id=contractor_id,
        attempts=1,
        requeued=True,
        expired_at=datetime(2004, 4, 7, 9, tzinfo=UTC),
    )
    # An expiry no handler can read: the consumer retries it, then gives up on it.
    broken = Envelope(
        id=new_id(),
        type=TaskExpired.event_type,
        source="intake",
        time=datetime.now(UTC),
        client_id=client_id,
        version=1,
        data={"task_id": "not a task"},
    )
    # And a message on a subject reporting handles that is no event at all.
    await js.publish(TaskExpired.event_type, b"not an event")
    await publish(js, [broken, wrap(expired, source="intake", client_id=client_id)])

    async def given_up() -> bool:
        async with reporting_db() as session:
            letters = await session.scalars(
                select(dead_letter.c.event_id).where(dead_letter.c.consumer == "reporting")
            )
            return broken.id in set(letters)

    await eventually(given_up, what="the broken event in reporting's dead letters")
    period = {"from": "2004-04-07T00:00:00Z", "to": "2004-04-08T00:00:00Z"}

    async def expiries() -> list[int]:
        body = await reports.body("contractors", **period)
        return [
            r["tasks_expired"] for r in body["data"] if r["contractor_id"] == str(contractor_id)
        ]

    assert await expiries() == [1]

    output = await _rebuild(stack)

    assert "read models rebuilt from" in output, output
    assert "which failed again" in output, output
    left_out = re.search(r"left out ([\d,]+) events", output)
    assert left_out is not None, output
    assert int(left_out[1].replace(",", "")) >= 2, "the broken event and the message"
    assert await expiries() == [1]
    # Left out as the consumer left it: taken, so that a copy of it (an erasure's) is none.
    async with reporting_db() as session:
        taken = await session.scalars(
            select(inbox_event.c.event_id).where(inbox_event.c.event_id == broken.id)
        )
        assert list(taken) == [broken.id]


async def _rebuild_waiting_for_a_lock(db: SessionFactory) -> bool:
    async with db() as session:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND query LIKE 'LOCK TABLE%'"
        )
        return bool((await session.execute(query)).scalar_one())


async def test_a_rebuild_beside_the_consumer_applying_events_waits_for_it_and_completes(
    reports: Reports, reporting_db: SessionFactory, js: JetStreamContext, stack: TestStack
) -> None:
    scenario = await published(js, BUSY_DAY)
    before = await _reports(reports, scenario)
    later = Scenario(BUSY_DAY + timedelta(days=1))
    events = later.envelopes()
    # The consumer's transaction for the first of the next day's events, held between its
    # inbox row and the read models (bpo_common.inbox applies an event so), while the rebuild
    # starts and the rest of the day arrives for the service's own consumer.
    async with reporting_db() as session, session.begin():
        await record_received(session, CONSUMER, [events[0].id])
        rebuilding = asyncio.create_task(_rebuild(stack))
        await eventually(
            lambda: _rebuild_waiting_for_a_lock(reporting_db), what="the rebuild to wait"
        )
        for envelope in events:
            await js.publish(envelope.subject, envelope.model_dump_json().encode())
        await handlers[events[0].type](session, events[:1])

    output = await rebuilding

    assert "read models rebuilt from" in output, output
    await eventually(lambda: consumer_drained(js, CONSUMER), what="reporting to take the day")
    now = await _reports(reports, scenario)
    # The client's own reports (the others count the next day's open job and client too).
    assert {name: now[name] for name in OWN} == {name: before[name] for name in OWN}
    after = await _reports(reports, later)
    assert after["overview"][1]["items_received"] == 9, "each event counted once"
    assert after["overview"][1]["revenue"] == "11.50"


async def _taken(db: SessionFactory) -> int:
    async with db() as session:
        query = (
            select(func.count()).select_from(inbox_event).where(inbox_event.c.consumer == CONSUMER)
        )
        return int((await session.execute(query)).scalar_one())


async def _events_of(stack: TestStack, client_id: UUID) -> list[Envelope]:
    """The client's events as the stack's stream holds them."""
    found = []
    for data in await stream_messages(stack.urls.nats_url):
        try:
            envelope = Envelope.model_validate_json(data)
        except ValidationError:
            continue  # a message that is no event
        if envelope.client_id == client_id:
            found.append(envelope)
    return found


async def _published_as_made(js: JetStreamContext, day: datetime) -> tuple[Scenario, datetime]:
    """The day of work of `day` on the stream, taken by reporting today, its events' ids made
    that day a minute apart from 08:00 (as the services made them then); and when the last
    of them was made."""
    scenario = Scenario(day)
    envelopes = scenario.envelopes()
    made = [day + timedelta(hours=8, minutes=n) for n in range(len(envelopes))]
    await publish(
        js,
        [
            envelope.model_copy(update={"id": uuid7(nanoseconds=int(at.timestamp()) * 10**9)})
            for envelope, at in zip(envelopes, made, strict=True)
        ],
    )
    return scenario, made[-1]


async def test_a_stream_that_lost_events_the_reports_count_is_refused_unless_partial(
    reports: Reports, reporting_db: SessionFactory, js: JetStreamContext, stack: TestStack
) -> None:
    # The inbox knows this test's events alone (those of a year, taken again today by a
    # rebuild, say), whose ids were made on the days before: the refusal names theirs.
    async with reporting_db() as session, session.begin():
        await session.execute(delete(inbox_event).where(inbox_event.c.consumer == CONSUMER))
    earlier, earlier_last = await _published_as_made(js, LOST_DAY - timedelta(days=1))
    scenario, last = await _published_as_made(js, LOST_DAY)
    before = await _reports(reports, scenario)
    assert before["overview"][1]["items_received"] == 9
    # NATS's store lost: the services make the stream BPO anew, empty.
    server = NatsServer(stack.root / "nats-anew", free_port())
    server.start()
    client = await connect(server.url, name="reporting-test-anew")
    try:
        anew = client.jetstream()
        await ensure_stream(anew)

        refused = await _rebuild(stack, nats_url=server.url, exit_code=1)

        taken = await _taken(reporting_db)
        assert "not rebuilt, the read models are as they were:" in refused, refused
        assert (
            f"the stream no longer holds {taken:,} events the read models count, made from "
            f"2005-05-04 08:00 to {last:%Y-%m-%d %H:%M} UTC: rebuilt read models would not "
            "count them. --partial"
        ) in refused
        assert await _reports(reports, scenario) == before

        # The stream purged since: it holds the day's events, and not the day's before.
        for envelope in await _events_of(stack, earlier.client_id):
            await anew.publish(envelope.subject, envelope.model_dump_json().encode())
        first = (await anew.stream_info(STREAM_NAME)).state.last_seq + 1
        own = await _events_of(stack, scenario.client_id)
        for envelope in own:
            await anew.publish(envelope.subject, envelope.model_dump_json().encode())
        await anew.purge_stream(STREAM_NAME, seq=first)

        with pytest.raises(HistoryGone) as purged:
            await rebuild(reporting_db, server.url)

        assert (
            f"the stream no longer holds {taken - len(own):,} events the read models count, "
            f"made from 2005-05-04 08:00 to {earlier_last:%Y-%m-%d %H:%M} UTC:"
        ) in str(purged.value)
        assert await _reports(reports, scenario) == before

        # Asked to, it rebuilds from what is left: this day, whole.
        done = await rebuild(reporting_db, server.url, partial=True)

        assert done.events_applied == len(own)
        partial = await _reports(reports, scenario)
        assert {name: partial[name] for name in OWN} == {name: before[name] for name in OWN}
        assert (await _reports(reports, earlier))["overview"][1]["items_received"] == 0

        # An inbox kept a limited time may no longer know what the reports count: a stream
        # with no event is refused still.
        await anew.purge_stream(STREAM_NAME)
        async with reporting_db() as session, session.begin():
            await session.execute(delete(inbox_event).where(inbox_event.c.consumer == CONSUMER))
        with pytest.raises(HistoryGone, match="holds no event for reporting, while the read"):
            await rebuild(reporting_db, server.url)
        assert await _reports(reports, scenario) == partial
    finally:
        await client.close()
        await asyncio.to_thread(server.stop)
    # From the stream that holds everything, the reports are whole again.
    await rebuild(reporting_db, stack.urls.nats_url)
    assert await _reports(reports, scenario) == before

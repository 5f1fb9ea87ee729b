"""A run of submissions applied at once does what applying them one at a time does."""

from typing import Any
from uuid import UUID

from sqlalchemy import select

from bpo_common.contracts.intake import JobCreated, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope
from bpo_common.ids import new_id
from bpo_devtools.testing import outbox_events
from bpo_validation.models import Decision, Standing
from bpo_validation.service import decisions, jobs
from bpo_validation.settings import Settings

from .submissions import INTAKE, job_keys, keying, new_job

AGREED = {"number": "A-1", "total": "10"}
GOLDEN = {"number": "G", "total": "2"}
# Set when the event is applied, so never the same in two applications.
STAMPS = {"decided_at", "suspended_at"}


def _run(double: JobCreated, single: JobCreated, adaptive: JobCreated) -> list[TaskSubmitted]:
    """Two keyings of one item that agree and two that do not, each pair in the run; a keyer
    whose third wrong control item suspends them (and a fourth that does not again); an
    adaptive job's two items keyed again, which its ledger could not yet carry alone."""
    first, second, sloppy, proven = new_id(), new_id(), new_id(), new_id()
    agreed, disputed = new_id(), new_id()
    wrong = [{"number": "G" if n == 0 else "X", "total": "1"} for n in range(4)]
    return [
        keying(double, agreed, AGREED, contractor_id=first, expected=2),
        keying(single, new_id(), wrong[0], contractor_id=sloppy, golden=GOLDEN),
        keying(adaptive, new_id(), AGREED, contractor_id=proven),
        keying(double, disputed, AGREED, contractor_id=first, expected=2),
        keying(single, new_id(), wrong[1], contractor_id=sloppy, golden=GOLDEN),
        keying(double, agreed, AGREED, contractor_id=second, expected=2),
        keying(single, new_id(), GOLDEN, contractor_id=proven, golden=GOLDEN),
        keying(single, new_id(), wrong[2], contractor_id=sloppy, golden=GOLDEN),
        keying(
            double, disputed, {"number": "A-1", "total": "11"}, contractor_id=second, expected=2
        ),
        keying(single, new_id(), GOLDEN, contractor_id=proven, golden=GOLDEN),
        keying(single, new_id(), wrong[3], contractor_id=sloppy, golden=GOLDEN),
        keying(adaptive, new_id(), AGREED, contractor_id=proven),
    ]


class _Twin:
    """The same submissions under other ids: a second world to apply them in."""

    def __init__(self) -> None:
        self.ids: dict[UUID, UUID] = {}
        self.back: dict[str, str] = {}

    # Each world keys a work type of its own: the crew adaptive QC knows is the world's.
    first_work_type = f"runs-{new_id().hex[-8:]}"
    work_type = f"twin-{new_id().hex[-8:]}"

    def id(self, original: UUID) -> UUID:
        if original not in self.ids:
            self.ids[original] = new_id()
            self.back[str(self.ids[original])] = str(original)
        return self.ids[original]

    def job(self, job: JobCreated) -> JobCreated:
        return job.model_copy(
            update={
                "job_id": self.id(job.job_id),
                "client_id": self.id(job.client_id),
                "work_type": self.work_type,
            }
        )

    def keying(self, event: TaskSubmitted) -> TaskSubmitted:
        named = ("task_id", "item_id", "job_id", "client_id", "contractor_id")
        renamed = {name: self.id(getattr(event, name)) for name in named}
        return event.model_copy(update={**renamed, "work_type": self.work_type})

    def original(self, envelope: Envelope) -> tuple[str, dict[str, Any]]:
        """The event as the first world would say it."""
        return envelope.type, _unstamped(self.as_first(envelope.data))

    def as_first(self, value: Any) -> Any:
        """Ids and work type as the first world's."""
        if isinstance(value, dict):
            return {key: self.as_first(inner) for key, inner in value.items()}
        if isinstance(value, list | tuple):
            return type(value)(self.as_first(inner) for inner in value)
        if not isinstance(value, str):
            return value
        return self.back.get(value, value).replace(self.work_type, self.first_work_type)


def _unstamped(data: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in data.items() if key not in STAMPS}


async def _published_after(db: SessionFactory, mark: UUID) -> list[Envelope]:
    return [INTAKE.opened(e) for e in await outbox_events(db) if e.id > mark]


def _of(twin: "_Twin", envelopes: list[Envelope]) -> list[Envelope]:
    """The events that name one of the test's ids, originals or twins: the validation service
    of the test stack publishes other tests' events into the same outbox meanwhile."""
    ids = {str(original) for original in twin.ids} | set(twin.back)
    return [e for e in envelopes if any(str(value) in ids for value in e.data.values())]


async def _stored(
    db: SessionFactory, items: list[UUID], contractors: list[UUID]
) -> tuple[list[tuple[str, str | None, Any]], list[tuple[int, int, str | None]]]:
    """What is kept: each item's decisions, each contractor's standing; in the given order."""
    async with db() as session:
        kept = (
            await session.scalars(
                select(Decision).where(Decision.item_id.in_(items)).order_by(Decision.id)
            )
        ).all()
        standings = {
            standing.contractor_id: standing
            for standing in await session.scalars(
                select(Standing).where(Standing.contractor_id.in_(contractors))
            )
        }
    by_item = sorted(kept, key=lambda decision: items.index(decision.item_id))
    return (
        [(str(d.outcome), d.reason, d.result) for d in by_item],
        [(standings[c].judged, standings[c].correct, standings[c].reason) for c in contractors],
    )


async def test_a_run_applied_at_once_decides_judges_and_suspends_as_one_at_a_time(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    work_type = _Twin.first_work_type
    double = await new_job(validation_db, work_type=work_type, mode="double")
    single = await new_job(validation_db, work_type=work_type)
    adaptive = await new_job(
        validation_db, work_type=work_type, mode="adaptive", target_accuracy="0.95"
    )
    run = _run(double, single, adaptive)
    twin = _Twin()
    async with validation_db() as session, session.begin():
        for job in (double, single, adaptive):
            await jobs.record_job(session, twin.job(job))

    mark = new_id()
    async with validation_db() as session, session.begin():
        await decisions.record_submissions(
            session, run, validation_settings, keys=job_keys(validation_settings)
        )
    at_once = await _published_after(validation_db, mark)

    mark = new_id()
    for event in run:
        async with validation_db() as session, session.begin():
            await decisions.record_submissions(
                session,
                [twin.keying(event)],
                validation_settings,
                keys=job_keys(validation_settings),
            )
    one_by_one = await _published_after(validation_db, mark)

    at_once, one_by_one = _of(twin, at_once), _of(twin, one_by_one)
    said = [(envelope.type, envelope.data) for envelope in at_once]
    assert [twin.original(envelope) for envelope in one_by_one] == [
        (kind, _unstamped(data)) for kind, data in said
    ]
    reasons = [data.get("reason") for _, data in said]
    suspended = (
        f"accuracy 16.6% over the last 6 judged fields on {work_type} is below the floor 75.0%"
    )
    assert reasons.count(suspended) == 1
    assert any(str(reason).startswith("keyed again: ") for reason in reasons)
    assert [kind for kind, _ in said].count("bpo.validation.item.accepted") == 7
    assert "bpo.validation.review.required" in [kind for kind, _ in said]

    items = list(dict.fromkeys(event.item_id for event in run))
    contractors = list(dict.fromkeys(event.contractor_id for event in run))
    assert await _stored(validation_db, items, contractors) == twin.as_first(
        await _stored(validation_db, [twin.id(i) for i in items], [twin.id(c) for c in contractors])
    )


async def test_a_copy_of_a_submission_in_the_run_or_already_kept_changes_nothing(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, mode="double")
    item = new_id()
    first = keying(job, item, AGREED, expected=2)
    async with validation_db() as session, session.begin():
        await decisions.record_submissions(
            session, [first], validation_settings, keys=job_keys(validation_settings)
        )
    second = keying(job, item, AGREED, expected=2)
    async with validation_db() as session, session.begin():
        await decisions.record_submissions(
            session,
            [first, second, second.model_copy(update={"data": {}})],
            validation_settings,
            keys=job_keys(validation_settings),
        )

    told = [envelope.type for envelope in await outbox_events(validation_db, item_id=str(item))]
    assert told == ["bpo.validation.item.accepted", *["bpo.validation.contractor.scored"] * 2]
    async with validation_db() as session:
        kept = await session.scalars(select(Decision).where(Decision.item_id == item))
        assert [(d.outcome, d.result) for d in kept] == [("accepted", AGREED | {"currency": None})]

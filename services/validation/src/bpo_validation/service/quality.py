"""Use cases of contractors' quality: judged fields, running tallies, the quality floor on a
recent window per work type, reactivation, and the figures a contractor and their managers
see."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import MACHINE_CONTRACTOR_ID, TaskOutcome, intake, validation
from bpo_common.ids import new_id
from bpo_common.outbox import publish_each
from bpo_validation.domain.entries import Judging
from bpo_validation.domain.fields import FieldVerdict
from bpo_validation.domain.scoring import (
    Window,
    accuracy,
    keyed_share,
    reactivation_applies,
    suspension,
    task_outcome,
)
from bpo_validation.models import Entry, Standing
from bpo_validation.repository import decisions as decisions_repository
from bpo_validation.repository import jobs as jobs_repository
from bpo_validation.repository import quality as repository
from bpo_validation.schemas import (
    DayScore,
    KeyedScore,
    LayoutScore,
    Quality,
    Score,
    WrongPrefills,
)
from bpo_validation.service.entries import Rules
from bpo_validation.service.jobs import JobNotKnownYet
from bpo_validation.settings import Settings

TREND_DAYS = 7


def judgement_rows(
    judging: Judging, item_id: UUID, work_type: str, now: datetime
) -> list[dict[str, Any]]:
    """The judged fields of a judging, as rows of the judgements table."""
    return [
        {
            **_judged_field(judged.entry.contractor_id, verdict, item_id, work_type, now),
            "task_id": judged.entry.task_id,
            "golden": judging.golden,
            "layout_id": judged.entry.layout_id
            if judged.entry.contractor_id == MACHINE_CONTRACTOR_ID
            else None,
            "accepted_wrong_prefill": verdict.accepted_wrong_prefill,
        }
        for judged in judging.entries
        for verdict in judged.fields
    ]


def provisional_rows(
    judging: Judging, item_id: UUID, work_type: str, now: datetime
) -> list[dict[str, Any]]:
    """The fields of keyings that differ, judged against each other (`domain.entries.
    disputed`), as rows of the provisional judgements table."""
    return [
        _judged_field(judged.entry.contractor_id, verdict, item_id, work_type, now)
        for judged in judging.entries
        for verdict in judged.fields
    ]


def _judged_field(
    contractor_id: UUID, verdict: FieldVerdict, item_id: UUID, work_type: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": new_id(),
        "contractor_id": contractor_id,
        "item_id": item_id,
        "work_type": work_type,
        "field": verdict.field,
        "correct": verdict.correct,
        "judged_at": now,
    }


@dataclass(frozen=True)
class Tallies:
    """What one judging brings: (judged, correct) fields by contractor, on an item of this
    work type, and when each contractor's keying judged was submitted."""

    work_type: str
    by_contractor: Mapping[UUID, tuple[int, int]]
    keyed_at: Mapping[UUID, datetime]

    def windowed(self, standings: Mapping[UUID, Standing]) -> dict[UUID, int]:
        """The fields it brings to each keyer's window: none of a keying made before the
        keyer's latest reactivation (`repository.latest_judged` reads those alone too)."""
        return {
            contractor_id: judged
            for contractor_id, (judged, _) in self.by_contractor.items()
            if (since := standings[contractor_id].reactivated_at) is None
            or self.keyed_at[contractor_id] > since
        }


async def add_to_tallies(
    session: AsyncSession, judgings: Sequence[Tallies], settings: Settings
) -> list[list[validation.ContractorSuspended]]:
    """Add what each judging brings to the keyers' running tallies (the figures shown), in
    one write; then, after each judging, as judging one at a time would, hold each keyer to
    the quality floor over their latest `quality_window` judged fields on the work type of the
    item judged (of keyings made since a manager last reactivated them), all read in one
    query, this run's own (written already) among them. The suspensions each judging brings."""
    run: dict[UUID, tuple[int, int]] = {}
    for judging in judgings:
        for contractor_id, (judged, correct) in judging.by_contractor.items():
            total, right = run.get(contractor_id, (0, 0))
            run[contractor_id] = (total + judged, right + correct)
    standings = await repository.add_to_tallies(session, run)
    windowed = [judging.windowed(standings) for judging in judgings]
    brought: dict[tuple[UUID, str], int] = {}
    for judging, fields_brought in zip(judgings, windowed, strict=True):
        for contractor_id, judged in fields_brought.items():
            pair = (contractor_id, judging.work_type)
            brought[pair] = brought.get(pair, 0) + judged
    # A keyer suspended already is not held to the floor again until reactivated.
    asked = {
        pair: (standings[pair[0]].reactivated_at, settings.quality_window + judged)
        for pair, judged in brought.items()
        if standings[pair[0]].suspended_at is None
    }
    fields = await repository.latest_judged(session, asked)
    # How far into each pair's fields the run has come: the run's own are the latest.
    reached = {pair: max(0, len(fields[pair]) - brought[pair]) for pair in asked}
    suspensions = []
    for judging, fields_brought in zip(judgings, windowed, strict=True):
        brings = []
        for contractor_id, judged in sorted(fields_brought.items()):
            pair = (contractor_id, judging.work_type)
            if pair not in reached:
                continue
            reached[pair] += judged
            standing = standings[contractor_id]
            reason = suspension(
                judging.work_type,
                Window.latest(fields[pair][: reached[pair]], settings.quality_window),
                suspended=standing.suspended_at is not None,
                floor=settings.quality_floor,
                min_judged=settings.quality_min_judged,
            )
            if reason is None:
                continue
            standing.suspended_at = utcnow()
            standing.reason = reason
            brings.append(
                validation.ContractorSuspended(
                    contractor_id=contractor_id, reason=reason, suspended_at=standing.suspended_at
                )
            )
        suspensions.append(brings)
    return suspensions


async def reactivate(session: AsyncSession, event: intake.ContractorReactivated) -> None:
    """A manager gave the contractor work again: their suspension is cleared, and the floor
    counts only the fields of keyings they submit after the reactivation (a second chance:
    the errors that suspended them, judged before it or after, do not suspend them again)."""
    standing = await repository.standing_for_update(session, event.contractor_id)
    if not reactivation_applies(
        event.reactivated_at,
        suspended_at=standing.suspended_at,
        last_reactivated_at=standing.reactivated_at,
    ):
        return
    standing.suspended_at = None
    standing.reason = None
    standing.reactivated_at = event.reactivated_at


async def job_cancelled(session: AsyncSession, event: intake.JobCancelled) -> None:
    """A cancelled job's items that await a second keying, a review or an adjudication never
    get one (intake withdrew it): their keyings no longer count as half an error on the
    fields they differ on, and every task on them is scored `unjudged`, so that its keyer is
    paid. The cancel is noted, so that a keying applied after it (`decisions.record_submissions`)
    keeps no provisional judgement and is scored so too when it leaves its item undecided."""
    # The lock a decision run on the job takes: one running writes its provisional judgements
    # and decisions first, and they count; one after it reads the cancel.
    await decisions_repository.lock_items(session, (), [event.job_id])
    job = (await jobs_repository.rules_of_jobs(session, [event.job_id])).get(event.job_id)
    if job is None:
        # A keying applied once the job has come would not know of the cancel.
        raise JobNotKnownYet(f"job {event.job_id} has not arrived yet")
    if job.cancelled_at is not None:
        return  # cancelled before: its tasks are scored
    job.cancelled_at = event.cancelled_at
    await repository.drop_provisional(session, event.job_id)
    fields = len(Rules.of(job).spec.fields)
    undecided = await decisions_repository.unsettled_entries(session, event.job_id)
    await publish_each(
        session,
        [
            (
                unjudged(e, event.cancelled_at, fields=fields),
                e.client_id,
            )
            for e in undecided
        ],
    )


async def quality(
    session: AsyncSession, contractor_id: UUID, now: datetime | None = None
) -> Quality:
    now = now or utcnow()
    by_golden = {
        key: (n, ok) for key, n, ok in await repository.scores_by(session, contractor_id, "golden")
    }
    golden_judged, golden_correct = by_golden.get("golden", (0, 0))
    standing = await repository.get_standing(session, contractor_id)
    per_field = await repository.scores_by(session, contractor_id, "field")
    # The machine keeps no running tally (it is never suspended): its fields add up.
    judged, correct = (
        (standing.judged, standing.correct)
        if standing
        else (sum(n for _, n, _ in per_field), sum(ok for _, _, ok in per_field))
    )
    shown, kept = await repository.wrong_prefills(session, contractor_id)

    def keyed(rows: list[tuple[object, int, int]]) -> list[KeyedScore]:
        return [
            KeyedScore(key=str(key), judged=n, correct=ok, accuracy=accuracy(ok, n))
            for key, n, ok in rows
        ]

    since = (now - timedelta(days=TREND_DAYS - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return Quality(
        contractor_id=contractor_id,
        overall=Score(judged=judged, correct=correct, accuracy=accuracy(correct, judged)),
        per_field=keyed(per_field),
        per_work_type=keyed(await repository.scores_by(session, contractor_id, "work_type")),
        golden=Score(
            judged=golden_judged,
            correct=golden_correct,
            accuracy=accuracy(golden_correct, golden_judged),
        ),
        trend=[
            DayScore(day=day, judged=n, correct=ok, accuracy=accuracy(ok, n))
            for day, n, ok in await repository.scores_by(session, contractor_id, "day", since)
        ],
        suspended_at=standing.suspended_at if standing else None,
        suspension_reason=standing.reason if standing else None,
        wrong_prefills=WrongPrefills(
            shown=shown, accepted=kept, rate=kept / shown if shown else None
        ),
        per_layout=[
            LayoutScore(
                layout_id=layout_id, field=name, judged=n, correct=ok, accuracy=accuracy(ok, n)
            )
            for layout_id, name, n, ok in await repository.scores_by_layout(session, contractor_id)
        ],
    )


def scored(
    entry: Entry,
    judged: Mapping[UUID, tuple[int, int]],
    now: datetime,
    *,
    rejected: bool,
    fields: int,
    control_copy: bool = False,
    unjudged: bool = False,
) -> validation.ContractorScored:
    """How a task's work on a final item came out (billing pays on it); `judged` holds the
    (judged, correct) fields of each task; `fields`: how many the job has (a partial second
    keying keyed a share of them). `unjudged`: the item's job was cancelled before the item
    was final, and nothing judged the task."""
    fields_judged, fields_correct = judged.get(entry.task_id, (0, 0))
    return validation.ContractorScored(
        task_id=entry.task_id,
        item_id=entry.item_id,
        job_id=entry.job_id,
        client_id=entry.client_id,
        contractor_id=entry.contractor_id,
        work_type=entry.work_type,
        kind=entry.kind,
        outcome=TaskOutcome.UNJUDGED
        if unjudged
        else task_outcome(
            entry.kind,
            fields_judged,
            fields_correct,
            rejected=rejected,
            unreadable=entry.rejection is not None,
        ),
        golden=entry.golden is not None,
        fields_judged=fields_judged,
        fields_correct=fields_correct,
        share=keyed_share(len(entry.keyed_fields), fields),
        control_copy=control_copy,
        active_seconds=entry.active_seconds,
        submitted_at=entry.submitted_at,
        decided_at=now,
    )


def unjudged(
    entry: Entry, now: datetime, *, fields: int, control_copy: bool = False
) -> validation.ContractorScored:
    """A task on an item left undecided (its job cancelled, or its data erased, first): nothing
    judged it, and it is paid as it stands."""
    return scored(
        entry, {}, now, rejected=False, fields=fields, control_copy=control_copy, unjudged=True
    )

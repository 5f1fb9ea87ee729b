"""Use cases of contractors' quality: judged fields, running tallies held to the quality
floor, and the figures a contractor and their managers see."""

from datetime import datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import validation
from bpo_common.ids import new_id
from bpo_common.outbox import publish
from bpo_validation.domain.decision import Judging
from bpo_validation.domain.scoring import accuracy, suspension
from bpo_validation.repository import quality as repository
from bpo_validation.schemas import DayScore, KeyedScore, Quality, Score
from bpo_validation.settings import Settings

TREND_DAYS = 7


async def record_judging(
    session: AsyncSession, judging: Judging, item_id: UUID, work_type: str, settings: Settings
) -> None:
    """Keep the judged fields; add them to each keyer's running tally and hold it to the
    quality floor."""
    now = utcnow()
    await repository.add_judgements(
        session,
        [
            {
                "id": new_id(),
                "contractor_id": judged.entry.contractor_id,
                "task_id": judged.entry.task_id,
                "item_id": item_id,
                "work_type": work_type,
                "field": verdict.field,
                "correct": verdict.correct,
                "golden": judging.golden,
                "judged_at": now,
            }
            for judged in judging.entries
            for verdict in judged.fields
        ],
    )
    # In one order everywhere, so that two items judged at once never wait on each other.
    for contractor_id, (judged_fields, correct) in sorted(judging.tallies().items()):
        standing = await repository.add_to_tally(session, contractor_id, judged_fields, correct)
        reason = suspension(
            standing.judged,
            standing.correct,
            suspended=standing.suspended_at is not None,
            floor=settings.quality_floor,
            min_judged=settings.quality_min_judged,
        )
        if reason is None:
            continue
        standing.suspended_at = utcnow()
        standing.reason = reason
        await publish(
            session,
            validation.ContractorSuspended(
                contractor_id=contractor_id, reason=reason, suspended_at=standing.suspended_at
            ),
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
    judged, correct = (standing.judged, standing.correct) if standing else (0, 0)

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
        per_field=keyed(await repository.scores_by(session, contractor_id, "field")),
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
    )

"""Use cases of accuracy as a contract: the jobs' ledgers as a run of submissions rules on
their items, which keyers intake should offer second keyings first, and a job's delivered
accuracy as its client and managers see it."""

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, TypedDict
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import QcMode, validation
from bpo_common.contracts.intake import JobCompleted
from bpo_common.errors import NotFound
from bpo_common.outbox import publish
from bpo_validation.domain.accuracy import (
    Delivered,
    KeyerAccuracy,
    Ledger,
    Share,
    beliefs,
    crew_beliefs,
    doubtful,
)
from bpo_validation.domain.crew import MIN_STRENGTH, Crew
from bpo_validation.domain.fields import judged_fields
from bpo_validation.models import JobAccuracy, JobRules
from bpo_validation.repository import accuracy as repository
from bpo_validation.repository import jobs as job_rules
from bpo_validation.schemas import JobAccuracyOut
from bpo_validation.service.entries import Rules
from bpo_validation.settings import Settings


@dataclass
class Ledgers:
    """The ledgers of a run's jobs: read (and locked) when first needed, kept as the run
    rules, written once at its end."""

    settings: Settings
    ledgers: dict[UUID, Ledger] = field(default_factory=dict)
    # The jobs whose ledger changed.
    changed: set[UUID] = field(default_factory=set)
    # Whether each keyer is doubtful on a work type, as read or decided; when those the run
    # changed changed.
    routes: dict[tuple[UUID, str], bool] = field(default_factory=dict)
    rerouted: dict[tuple[UUID, str], datetime] = field(default_factory=dict)
    # The crew's record by work type as read (15 ms at the default window), kept until the
    # run writes judged fields: first keyings in a row read it once, and each reads what a
    # run of its own would (other runs' fields committed meanwhile aside).
    crews: dict[str, Crew] = field(default_factory=dict)

    async def keyer_accuracy(
        self, session: AsyncSession, job_id: UUID, contractor_id: UUID, work_type: str, items: int
    ) -> KeyerAccuracy:
        """What adaptive QC reads about a first keying of the job's (`items`: the job's items
        received, control items aside)."""
        if job_id not in self.ledgers:
            found = await repository.ledgers_for_update(session, [job_id], utcnow())
            ledger = _ledger(found[job_id]) if job_id in found else Ledger()
            self.ledgers[job_id] = replace(ledger, size=items)
        settings = self.settings
        if work_type not in self.crews:
            self.crews[work_type] = await repository.crew_by_keyer(
                session, work_type, settings.adaptive_crew_window
            )
        return KeyerAccuracy(
            own=await repository.recent_by_field(
                session, contractor_id, work_type, settings.adaptive_window
            ),
            crew=self.crews[work_type],
            ledger=self.ledgers[job_id],
        )

    async def route(
        self,
        session: AsyncSession,
        contractor_id: UUID,
        work_type: str,
        trust: tuple[float, float],
        now: datetime,
    ) -> validation.KeyerTrustChanged | None:
        """Whether the keyer's first keyings on the work type are now among the least trusted
        (domain.accuracy.doubtful); the event for intake when that changed."""
        key = (contractor_id, work_type)
        if key not in self.routes:
            self.routes[key] = await repository.route_of(session, contractor_id, work_type)
        single, crew = trust
        was = self.routes[key]
        now_doubtful = doubtful(was, single, crew)
        if now_doubtful == was:
            return None
        self.routes[key] = now_doubtful
        self.rerouted[key] = now
        return validation.KeyerTrustChanged(
            contractor_id=contractor_id,
            work_type=work_type,
            doubtful=now_doubtful,
            item_accuracy=single,
            crew_item_accuracy=crew,
            decided_at=now,
        )

    def judged(self) -> None:
        """The run wrote judged fields: the crew's records read so far are out of date."""
        self.crews.clear()

    def ruled(self, job_id: UUID, ledger: Ledger) -> None:
        self.ledgers[job_id] = ledger
        self.changed.add(job_id)

    async def write(self, session: AsyncSession) -> None:
        now = utcnow()
        rows = [
            {"job_id": job_id, **_kept(self.ledgers[job_id]), "updated_at": now}
            for job_id in sorted(self.changed)
        ]
        await repository.save_ledgers(session, rows)
        self.changed.clear()
        await repository.save_routes(
            session,
            [
                {
                    "contractor_id": contractor_id,
                    "work_type": work_type,
                    "doubtful": self.routes[contractor_id, work_type],
                    "changed_at": changed_at,
                }
                for (contractor_id, work_type), changed_at in sorted(self.rerouted.items())
            ],
        )
        self.rerouted.clear()


def _kept(ledger: Ledger) -> dict[str, Any]:
    """A ledger as its row keeps it."""
    return {
        "checked": _row(ledger.checked),
        "partly": _row(ledger.partly),
        "carried": {str(keyer): _row(share) for keyer, share in ledger.carried.items()},
        "sizes": {
            "checked": _sizes(ledger.checked),
            "partly": _sizes(ledger.partly),
            "carried": {str(keyer): _sizes(share) for keyer, share in ledger.carried.items()},
        },
    }


def _row(share: Share) -> list[float]:
    return [share.items, share.expected, share.variance, share.sd, share.shared]


def _sizes(share: Share) -> list[Any]:
    return [[dict(rows), items] for rows, items in share.sizes.items()]


def share_kept(row: list[float], kept: list[Any] | None) -> Share:
    """A share as kept: one kept before `shared` was has none of its doubt through the crew's,
    items its `sizes` do not count (kept before them, or added by a replica of the release
    before, which leaves them as they were) each of one row a table (as they were valued)."""
    items, expected, variance, sd, *shared = row
    counted = {tuple(sorted(rows.items())): int(n) for rows, n in kept or [] if n}
    if sum(counted.values()) > items:
        counted = {}  # not these items' (the share was written again without them)
    rest = int(items) - sum(counted.values())
    sizes = {**counted, (): counted.get((), 0) + rest} if rest else counted
    return Share(int(items), expected, variance, sd, sum(shared), sizes)


def _ledger(row: JobAccuracy) -> Ledger:
    sizes = row.sizes or {}
    carried = sizes.get("carried", {})
    return Ledger(
        carried={
            UUID(keyer): share_kept(share, carried.get(keyer))
            for keyer, share in row.carried.items()
        },
        checked=share_kept(row.checked, sizes.get("checked")),
        partly=share_kept(row.partly, sizes.get("partly")),
    )


METHOD = "beta-posterior-ledger"
# Where a delivered job's row keeps the judged fields its ledger, kept as it was valued when
# the job completed, rests on (in `sizes`).
DELIVERED_JUDGED = "judged"


async def _refreshed(
    session: AsyncSession, job: JobRules, settings: Settings
) -> tuple[Ledger, JobAccuracy | None, int]:
    """The job's ledger with each keyer who carried items alone at what is known of them now
    (the crew's figure weighing little: by then their own record stands) and the items keyed
    twice at what the crew's record says now, each item at its tables' rows; its row, and the
    judged fields on the work type it rests on. Once the job completed, its ledger as it was
    valued then (see job_completed)."""
    row = await repository.ledger_of(session, job.job_id)
    ledger = _ledger(row) if row else Ledger()
    delivered = (row.sizes or {}) if row is not None and row.delivered_at is not None else {}
    if DELIVERED_JUDGED in delivered:
        return ledger, row, int(delivered[DELIVERED_JUDGED])
    if not ledger.items:
        return ledger, row, 0
    found = await repository.crew_by_keyer(session, job.work_type, settings.adaptive_crew_window)
    judged = sum(tally.judged for tally in found.by_field.values())
    crew = replace(found, most=MIN_STRENGTH)
    names = judged_fields(Rules.of(job).spec)
    now = {
        keyer: beliefs(
            names,
            crew,
            await repository.recent_by_field(
                session, keyer, job.work_type, settings.adaptive_window
            ),
        ).trust
        for keyer in ledger.carried
    }
    return ledger.refreshed(now).rechecked(crew_beliefs(names, found).twice), row, judged


async def job_accuracy(
    session: AsyncSession, job_id: UUID, scope: UUID | None, settings: Settings
) -> JobAccuracyOut:
    """The accuracy an adaptive job delivers, estimated from its ledger, with its 95 %
    interval; another client's job is not found."""
    job = (await job_rules.rules_of_jobs(session, [job_id])).get(job_id)
    if job is None or (scope is not None and job.client_id != scope):
        raise NotFound(f"no job {job_id}")
    policy = Rules.of(job).policy
    ledger, row, judged = await _refreshed(session, job, settings)
    delivered = Delivered.of(ledger)
    return JobAccuracyOut(
        job_id=job_id,
        mode=policy.mode,
        target=policy.target_accuracy,
        method=METHOD,
        judged=judged,
        **_figures(ledger, delivered),
        meets_target=delivered.meets(float(policy.target_accuracy)),
        updated_at=row.updated_at if row else None,
        delivered_at=row.delivered_at if row else None,
    )


async def job_completed(session: AsyncSession, event: JobCompleted, settings: Settings) -> None:
    """An adaptive job completed: say what it delivered (a job without its target with 95 %
    confidence is flagged: billing credits it). Other modes keep no ledger."""
    job = (await job_rules.rules_of_jobs(session, [event.job_id])).get(event.job_id)
    # Its JobCreated came first on the stream: a job unknown here was never announced.
    if job is None or Rules.of(job).policy.mode is not QcMode.ADAPTIVE:
        return
    policy = Rules.of(job).policy
    ledger, row, judged = await _refreshed(session, job, settings)
    now = utcnow()
    if row is not None:
        # Kept as valued now, and no longer valued again: the job's accuracy answers what it
        # delivered, which intake shows, flags and billing credits, however its keyers'
        # records move on. Read back as any later read reads it, to say the same to the digit.
        kept = _kept(ledger)
        row.checked, row.partly, row.carried = kept["checked"], kept["partly"], kept["carried"]
        row.sizes = kept["sizes"] | {DELIVERED_JUDGED: judged}
        row.delivered_at = row.updated_at = now
        ledger = _ledger(await repository.written(session, row))
    delivered = Delivered.of(ledger)
    target = policy.target_accuracy
    met = delivered.meets(float(target))
    await publish(
        session,
        validation.JobAccuracyDelivered(
            job_id=job.job_id,
            client_id=job.client_id,
            work_type=job.work_type,
            target=target,
            **_figures(ledger, delivered),
            met=met is not False,
            decided_at=now,
        ),
        client_id=job.client_id,
    )


class _Figures(TypedDict):
    items: int
    single_keyed: int
    keyed_twice: int
    estimate: float | None
    lower: float | None
    upper: float | None
    assured: float | None


def _figures(ledger: Ledger, delivered: Delivered) -> _Figures:
    """What the endpoint and the event both say of a job's ledger."""
    return _Figures(
        items=ledger.items,
        single_keyed=ledger.single,
        keyed_twice=ledger.items - ledger.single,
        estimate=delivered.estimate,
        lower=delivered.low,
        upper=delivered.high,
        assured=delivered.assured,
    )

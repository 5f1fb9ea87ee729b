"""Use cases of decisions: keep each submitted entry, decide about its item, and say so.

`record_submission` loads what the decision reads (the job's rules, the item's entries, the
reference rows and the keyer's record that `decision.needs` names), lets `decision.decide`
rule once, and writes what the verdict says in the order the outbox has always shown it:
judgements with their tallies (and any suspension), the decision and its event, then, once
the item is final, how each task on it came out.
"""

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import QcPolicy, TaskKind, intake, validation
from bpo_common.errors import NotFound
from bpo_common.events import Event
from bpo_common.ids import new_id
from bpo_common.outbox import publish, publish_many
from bpo_common.rules import JobSpec, spec_for
from bpo_validation.domain import decision
from bpo_validation.domain.decision import Item, KeyerRecord, Ruling, Submission, Verdict
from bpo_validation.domain.scoring import task_outcome
from bpo_validation.models import Decision, Entry
from bpo_validation.repository import decisions as repository
from bpo_validation.repository import jobs as job_rules
from bpo_validation.repository import quality as scores
from bpo_validation.repository import reference
from bpo_validation.schemas import DecisionOut, EntryOut, ItemDecision
from bpo_validation.service.quality import record_judging
from bpo_validation.settings import Settings


class JobNotKnownYet(Exception):
    """A submission arrived before its job: the consumer retries it a little later."""


async def record_submission(
    session: AsyncSession, event: intake.TaskSubmitted, settings: Settings
) -> None:
    """Keep the entry; decide once the item has the entries it needs; judge and score."""
    job = await job_rules.get_job_rules(session, event.job_id, None)
    if job is None:
        raise JobNotKnownYet(f"job {event.job_id} has not arrived yet")
    await repository.lock_item(session, event.item_id)
    entry = Entry(
        task_id=event.task_id,
        item_id=event.item_id,
        job_id=event.job_id,
        client_id=event.client_id,
        work_type=event.work_type,
        kind=event.kind,
        contractor_id=event.contractor_id,
        data=event.data,
        golden=event.golden,
        client_values=event.client_values,
        rejection=event.rejection,
        entries_expected=event.entries_expected,
        submitted_at=event.submitted_at,
    )
    await repository.add_entry(session, entry)
    entries = await repository.entries_of_item(session, event.item_id)
    spec = spec_for(job.job_id, job.fields, job.rules)
    policy = QcPolicy.model_validate(job.qc)
    item = Item(
        event.item_id, event.work_type, [_submission(e) for e in entries], _submission(entry)
    )
    verdict = await _decide(session, spec, policy, item, event, settings)
    for judging in verdict.judgings:
        await record_judging(session, judging, event.item_id, event.work_type, settings)
    if verdict.ruling is None:
        return
    now = utcnow()
    # Kept for GET /v1/items/{id}/decision.
    await repository.add_decision(
        session,
        Decision(
            id=new_id(),
            item_id=event.item_id,
            job_id=event.job_id,
            client_id=event.client_id,
            outcome=verdict.ruling.outcome,
            reason=verdict.reason,
            result=verdict.result,
            comparison=verdict.comparison,
            decided_at=now,
        ),
    )
    await publish(
        session, _announcement(event, verdict.ruling, verdict, now), client_id=event.client_id
    )
    if verdict.ruling.settles:
        await _settle(session, event, entries, now, rejected=verdict.ruling is Ruling.REJECT)


async def _decide(
    session: AsyncSession,
    spec: JobSpec,
    policy: QcPolicy,
    item: Item,
    event: intake.TaskSubmitted,
    settings: Settings,
) -> Verdict:
    """Load what the decision reads beyond the item (`decision.needs`), then let it rule."""
    needs = decision.needs(spec, policy, item)
    keyer = None
    if needs.keyer_record:
        recent = await scores.recent_scores(
            session, event.contractor_id, event.work_type, settings.adaptive_window
        )
        keyer = KeyerRecord(*recent)
    lookups = {
        wanted: await reference.look_up(session, event.client_id, *wanted)
        for wanted in needs.lookups
    }
    return decision.decide(
        spec,
        policy,
        item,
        lookups=lookups,
        keyer=keyer,
        adaptive_min_judged=settings.adaptive_min_judged,
        confirm_adjudications=settings.confirm_adjudications,
    )


def _submission(entry: Entry) -> Submission:
    return Submission(
        task_id=entry.task_id,
        kind=entry.kind,
        contractor_id=entry.contractor_id,
        data=entry.data,
        golden=entry.golden,
        client_values=entry.client_values,
        rejection=entry.rejection,
        entries_expected=entry.entries_expected,
    )


class _About(TypedDict):
    item_id: UUID
    job_id: UUID
    client_id: UUID
    decided_at: datetime


def _announcement(
    event: intake.TaskSubmitted, ruling: Ruling, verdict: Verdict, now: datetime
) -> Event:
    """The event saying what became of the item."""
    about = _About(
        item_id=event.item_id, job_id=event.job_id, client_id=event.client_id, decided_at=now
    )
    if ruling is Ruling.ACCEPT:
        assert verdict.result is not None, "an accepted item has its result"
        return validation.ItemAccepted(**about, result=verdict.result)
    if ruling is Ruling.REJECT:
        return validation.ItemRejected(**about, reason=verdict.reason)
    if ruling is Ruling.SECOND_KEYING:
        return validation.SecondKeyingRequired(**about, reason=verdict.reason)
    return validation.ReviewRequired(
        **about,
        kind=TaskKind.REVIEW if ruling is Ruling.REVIEW else TaskKind.ADJUDICATION,
        entries=[
            intake.Entry(task_id=shown.task_id, contractor_id=shown.contractor_id, data=shown.data)
            for shown in verdict.shown
        ],
        reason=verdict.reason,
    )


async def _settle(
    session: AsyncSession,
    event: intake.TaskSubmitted,
    entries: Sequence[Entry],
    now: datetime,
    *,
    rejected: bool,
) -> None:
    """The item is final: say how each task's work on it came out (billing pays on it)."""
    judged_by_task = await scores.judged_by_task(session, event.item_id)
    events = []
    for entry in entries:
        judged, correct = judged_by_task.get(entry.task_id, (0, 0))
        events.append(
            validation.ContractorScored(
                task_id=entry.task_id,
                item_id=entry.item_id,
                job_id=entry.job_id,
                client_id=entry.client_id,
                contractor_id=entry.contractor_id,
                work_type=entry.work_type,
                kind=entry.kind,
                outcome=task_outcome(entry.kind, judged, correct, rejected=rejected),
                golden=entry.golden is not None,
                fields_judged=judged,
                fields_correct=correct,
                submitted_at=entry.submitted_at,
                decided_at=now,
            )
        )
    await publish_many(session, events, client_id=event.client_id)


async def item_decision(session: AsyncSession, item_id: UUID, scope: UUID | None) -> ItemDecision:
    decisions = await repository.decisions_of_item(session, item_id)
    if not decisions or (scope is not None and decisions[0].client_id != scope):
        raise NotFound(f"no decision about item {item_id}")
    latest = decisions[-1]
    return ItemDecision(
        item_id=item_id,
        job_id=latest.job_id,
        decision=latest.outcome,
        reason=latest.reason,
        result=latest.result,
        comparison=latest.comparison,
        entries=[
            EntryOut.model_validate(entry, from_attributes=True)
            for entry in await repository.entries_of_item(session, item_id)
        ],
        history=[DecisionOut.model_validate(d, from_attributes=True) for d in decisions],
    )

"""Use cases of the validation service: record entries, decide, judge, keep score."""

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import Principal, Role
from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind, TaskOutcome, intake, validation
from bpo_common.errors import NotFound
from bpo_common.ids import new_id
from bpo_common.outbox import publish, publish_many
from bpo_common.rules import JobSpec, check, spec_for
from bpo_validation import domain, repository
from bpo_validation.models import Decision, Entry, JobRules, Outcome, Standing
from bpo_validation.schemas import (
    CheckRequest,
    CheckResponse,
    DayScore,
    DecisionOut,
    EntryOut,
    FieldProblem,
    ItemDecision,
    KeyedScore,
    Quality,
    Score,
)
from bpo_validation.settings import Settings

TREND_DAYS = 7


class JobNotKnownYet(Exception):
    """A submission arrived before its job: the consumer retries it a little later."""


async def record_job(session: AsyncSession, event: intake.JobCreated) -> None:
    await repository.add_job_rules(
        session,
        JobRules(
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            fields=event.model_dump(mode="json")["fields"],
            rules=event.rules,
            qc=event.qc.model_dump(mode="json"),
            received_at=utcnow(),
        ),
    )


def _canonical(spec: JobSpec, data: dict[str, Any]) -> dict[str, Any]:
    """An entry's values in canonical form (intake sends them so; this keeps results exact)."""
    return {**data, **check(spec, data).normalized}


def spec_of(job: JobRules) -> JobSpec:
    return spec_for(job.job_id, job.fields, job.rules)


async def record_submission(
    session: AsyncSession, event: intake.TaskSubmitted, settings: Settings
) -> None:
    """Keep the entry; decide once the item has the entries it needs; judge and score."""
    job = await repository.get_job_rules(session, event.job_id, None)
    if job is None:
        raise JobNotKnownYet(f"job {event.job_id} has not arrived yet")
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
    spec = spec_of(job)
    if event.kind == "entry":
        if entry.golden is not None:
            await _judge(session, spec, [entry], entry.golden, settings, golden=True)
        keyings = [
            e for e in await repository.entries_of_item(session, entry.item_id) if e.kind == "entry"
        ]
        if len(keyings) >= entry.entries_expected:
            await _decide(session, job, spec, keyings, settings)
    else:
        await _finalize_review(session, spec, entry, settings)


async def _decide(
    session: AsyncSession,
    job: JobRules,
    spec: JobSpec,
    keyings: Sequence[Entry],
    settings: Settings,
) -> None:
    first = keyings[0]
    if first.golden is not None:
        result = check(spec, first.golden, partial=True).normalized
        await _accept(session, first, result, "control item: the known answer stands", [])
        return
    broken = _rule_failures(spec, keyings)
    if broken:
        await _review(session, first, "review", keyings, broken, [])
        return
    if first.client_values is not None:
        await _decide_verification(session, job, spec, first)
        return
    if len(keyings) == 1 and job.qc.get("mode") == "adaptive":
        await _decide_adaptive(session, job, spec, first, settings)
        return
    if len(keyings) == 1:
        rate = Decimal(str(job.qc.get("review_sample_rate", "0")))
        if domain.sampled_for_review(first.item_id, rate):
            await _review(
                session, first, "review", keyings, f"sampled for review at rate {rate}", []
            )
        else:
            result = _canonical(spec, first.data)
            await _accept_checked(session, spec, first, keyings, result, "single keying, valid", [])
        return
    rows = domain.comparison(spec, [k.data for k in keyings])
    differing = [row["field"] for row in rows if not row["equal"]]
    if not differing:
        await _judge(session, spec, keyings, first.data, settings, golden=False)
        result = _canonical(spec, first.data)
        reason = f"{len(keyings)} keyings agree"
        await _accept_checked(session, spec, first, keyings, result, reason, rows)
    else:
        reason = f"keyings differ on {', '.join(differing)}"
        await _review(session, first, "adjudication", keyings, reason, rows)


def _rule_failures(spec: JobSpec, keyings: Sequence[Entry]) -> str | None:
    """Why the keyings cannot be accepted as they are, if any fails the job's rules.

    Intake refuses such a submission, so this is a defence: an entry from another producer,
    or checked against an older spec, is never accepted unchecked."""
    failures = [
        f"keying {n} of {len(keyings)} fails the job's rules: "
        + "; ".join(f"{error.field}: {error.message}" for error in errors)
        for n, keying in enumerate(keyings, 1)
        if (errors := check(spec, keying.data).errors)
    ]
    return "; ".join(failures) or None


async def _decide_adaptive(
    session: AsyncSession, job: JobRules, spec: JobSpec, entry: Entry, settings: Settings
) -> None:
    """One keying is enough from a keyer proven accurate on this work type; else key it again."""
    target = Decimal(str(job.qc.get("target_accuracy", "0.99")))
    rate = Decimal(str(job.qc.get("review_sample_rate", "0")))
    judged, correct = await repository.recent_scores(
        session, entry.contractor_id, entry.work_type, settings.adaptive_window
    )
    if domain.sampled_for_review(entry.item_id, rate):
        reason = f"sampled for a second keying at rate {rate}"
    elif judged < settings.adaptive_min_judged:
        reason = f"the keyer has {judged} judged fields on {entry.work_type}, too few to trust"
    elif Decimal(correct) / Decimal(judged) < target:
        reason = f"the keyer's accuracy {correct / judged:.1%} is below the target {target:.1%}"
    else:
        why = f"one keying: the keyer's accuracy {correct / judged:.1%} meets {target:.1%}"
        await _accept_checked(session, spec, entry, [entry], _canonical(spec, entry.data), why, [])
        return
    now = await _record(session, entry, Outcome.REKEY, reason, None, [])
    await publish(
        session,
        validation.SecondKeyingRequired(
            item_id=entry.item_id,
            job_id=entry.job_id,
            client_id=entry.client_id,
            reason=reason,
            decided_at=now,
        ),
        client_id=entry.client_id,
    )


async def _decide_verification(
    session: AsyncSession, job: JobRules, spec: JobSpec, entry: Entry
) -> None:
    """Verify mode: the client's values stand if the verifier kept them; changes go to review."""
    assert entry.client_values is not None
    client = check(spec, entry.client_values, partial=True).normalized
    rows = domain.comparison(spec, [client, entry.data])
    changed = [row["field"] for row in rows if not row["equal"]]
    rate = Decimal(str(job.qc.get("review_sample_rate", "0")))
    if changed:
        reason = f"the verifier changed {', '.join(changed)} from the client's values"
        await _review(session, entry, "review", [entry], reason, rows)
    elif domain.sampled_for_review(entry.item_id, rate):
        await _review(session, entry, "review", [entry], f"sampled for review at rate {rate}", rows)
    else:
        result = _canonical(spec, entry.data)
        reason = "verified: the client's values stand"
        await _accept_checked(session, spec, entry, [entry], result, reason, rows)


async def _finalize_review(
    session: AsyncSession, spec: JobSpec, review: Entry, settings: Settings
) -> None:
    """A reviewer's or adjudicator's entry is final; it scores the keyings before it, or
    rejects the item. An adjudicator who agrees with no keying on a field is confirmed by a
    second adjudicator first (when `confirm_adjudications`)."""
    if review.rejection is not None:
        await _reject(session, review, f"rejected in {review.kind}: {review.rejection}")
        return
    entries = await repository.entries_of_item(session, review.item_id)
    keyings = [e for e in entries if e.kind == "entry" and e.golden is None]
    rows = domain.comparison(spec, [k.data for k in keyings] + [review.data])
    first_adjudication = [e.kind for e in entries].count("adjudication") == 1
    if review.kind == "adjudication" and first_adjudication and settings.confirm_adjudications:
        alone = domain.unconfirmed(spec, review.data, [k.data for k in keyings])
        if alone:
            reason = (
                f"the adjudicator's {', '.join(alone)} agrees with no keying; "
                "a second adjudicator decides"
            )
            await _review(session, review, "adjudication", [*keyings, review], reason, rows)
            return
    await _judge(session, spec, keyings, review.data, settings, golden=False)
    await _accept(
        session, review, review.data, f"{review.kind} by {review.contractor_id} is final", rows
    )


async def _record(
    session: AsyncSession,
    entry: Entry,
    outcome: Outcome,
    reason: str,
    result: dict[str, Any] | None,
    rows: list[dict[str, Any]],
) -> datetime:
    """Keep the decision and its reason for GET /v1/items/{id}/decision; returns its time."""
    now = utcnow()
    await repository.add_decision(
        session,
        Decision(
            id=new_id(),
            item_id=entry.item_id,
            job_id=entry.job_id,
            client_id=entry.client_id,
            outcome=outcome,
            reason=reason,
            result=result,
            comparison=rows,
            decided_at=now,
        ),
    )
    return now


async def _accept_checked(
    session: AsyncSession,
    spec: JobSpec,
    entry: Entry,
    keyings: Sequence[Entry],
    result: dict[str, Any],
    reason: str,
    rows: list[dict[str, Any]],
) -> None:
    """Accept the result unless it disagrees with the client's reference data: that is an
    exception a reviewer must look at, with what disagrees as the reason."""
    problems = await _reference_problems(session, spec, entry.client_id, result)
    if problems:
        why = f"reference check: {'; '.join(problems)}"
        await _review(session, entry, "review", keyings, why, rows)
    else:
        await _accept(session, entry, result, reason, rows)


async def _reference_problems(
    session: AsyncSession, spec: JobSpec, client_id: UUID, result: dict[str, Any]
) -> list[str]:
    problems: list[str] = []
    for field in spec.fields:
        value = result.get(field.name)
        if field.lookup is None or value is None:
            continue
        dataset = field.lookup.dataset
        found, row = await repository.reference_row(
            session, client_id, dataset, domain.reference_key(value)
        )
        if not found:
            problems.append(f"there is no reference dataset {dataset} to find {field.name} in")
        elif row is None:
            problems.append(f"{field.name} {value} is not in {dataset}")
        else:
            problems += domain.reference_mismatches(spec, field, result, row)
    return problems


async def _accept(
    session: AsyncSession,
    entry: Entry,
    result: dict[str, Any],
    reason: str,
    rows: list[dict[str, Any]],
) -> None:
    now = await _record(session, entry, Outcome.ACCEPTED, reason, result, rows)
    await publish(
        session,
        validation.ItemAccepted(
            item_id=entry.item_id,
            job_id=entry.job_id,
            client_id=entry.client_id,
            result=result,
            decided_at=now,
        ),
        client_id=entry.client_id,
    )
    await _settle(session, entry, now, rejected=False)


async def _reject(session: AsyncSession, entry: Entry, reason: str) -> None:
    now = await _record(session, entry, Outcome.REJECTED, reason, None, [])
    await publish(
        session,
        validation.ItemRejected(
            item_id=entry.item_id,
            job_id=entry.job_id,
            client_id=entry.client_id,
            reason=reason,
            decided_at=now,
        ),
        client_id=entry.client_id,
    )
    await _settle(session, entry, now, rejected=True)


async def _settle(session: AsyncSession, final: Entry, now: datetime, *, rejected: bool) -> None:
    """The item is final: say how each task's work on it came out (billing pays on it).

    A keying stands when every judged field was right, and is overturned otherwise; on a
    rejected item no keying stands. A review or adjudication is the final word: it stands.
    """
    scores = await repository.judged_by_task(session, final.item_id)
    events = []
    for entry in await repository.entries_of_item(session, final.item_id):
        judged, correct = scores.get(entry.task_id, (0, 0))
        outcome = TaskOutcome.ACCEPTED
        if entry.kind == "entry" and rejected:
            outcome = TaskOutcome.REJECTED
        elif entry.kind == "entry" and correct < judged:
            outcome = TaskOutcome.OVERTURNED
        events.append(
            validation.ContractorScored(
                task_id=entry.task_id,
                item_id=entry.item_id,
                job_id=entry.job_id,
                client_id=entry.client_id,
                contractor_id=entry.contractor_id,
                work_type=entry.work_type,
                kind=TaskKind(entry.kind),
                outcome=outcome,
                golden=entry.golden is not None,
                fields_judged=judged,
                fields_correct=correct,
                submitted_at=entry.submitted_at,
                decided_at=now,
            )
        )
    await publish_many(session, events, client_id=final.client_id)


async def _review(
    session: AsyncSession,
    entry: Entry,
    kind: str,
    keyings: Sequence[Entry],
    reason: str,
    rows: list[dict[str, Any]],
) -> None:
    now = await _record(session, entry, Outcome.REVIEW, reason, None, rows)
    await publish(
        session,
        validation.ReviewRequired(
            item_id=entry.item_id,
            job_id=entry.job_id,
            client_id=entry.client_id,
            kind=TaskKind.REVIEW if kind == "review" else TaskKind.ADJUDICATION,
            entries=[
                intake.Entry(task_id=k.task_id, contractor_id=k.contractor_id, data=k.data)
                for k in keyings
            ],
            reason=reason,
            decided_at=now,
        ),
        client_id=entry.client_id,
    )


async def _judge(
    session: AsyncSession,
    spec: JobSpec,
    entries: Sequence[Entry],
    truth: dict[str, Any],
    settings: Settings,
    *,
    golden: bool,
) -> None:
    """Judge each field of the entries against the truth; keep each keyer's running tally and
    hold it to the quality floor."""
    now = utcnow()
    verdicts = [(entry, domain.judge(spec, entry.data, truth)) for entry in entries]
    await repository.add_judgements(
        session,
        [
            {
                "id": new_id(),
                "contractor_id": entry.contractor_id,
                "task_id": entry.task_id,
                "item_id": entry.item_id,
                "work_type": entry.work_type,
                "field": verdict.field,
                "correct": verdict.correct,
                "golden": golden,
                "judged_at": now,
            }
            for entry, fields in verdicts
            for verdict in fields
        ],
    )
    counts: dict[UUID, tuple[int, int]] = {}
    for entry, fields in verdicts:
        total, right = counts.get(entry.contractor_id, (0, 0))
        counts[entry.contractor_id] = (total + len(fields), right + sum(v.correct for v in fields))
    for contractor_id, (judged, correct) in counts.items():
        standing = await repository.add_to_tally(session, contractor_id, judged, correct)
        await _enforce_floor(session, standing, settings)


async def _enforce_floor(session: AsyncSession, standing: Standing, settings: Settings) -> None:
    """Suspend, once, a contractor whose accuracy fell below the floor over enough judgements."""
    rate = domain.accuracy(standing.correct, standing.judged)
    if (
        standing.suspended_at is not None
        or standing.judged < settings.quality_min_judged
        or rate is None
        or rate >= settings.quality_floor
    ):
        return
    standing.suspended_at = utcnow()
    standing.reason = (
        f"accuracy {rate:.1%} over {standing.judged} judged fields, "
        f"below the {settings.quality_floor:.0%} floor"
    )
    await publish(
        session,
        validation.ContractorSuspended(
            contractor_id=standing.contractor_id,
            reason=standing.reason,
            suspended_at=standing.suspended_at,
        ),
    )


def dry_run(request: CheckRequest) -> CheckResponse:
    result = check(request, request.data)
    return CheckResponse(
        valid=result.valid,
        errors=[FieldProblem.of(error) for error in result.errors],
        normalized=result.normalized,
    )


async def job_rules(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobRules:
    rules = await repository.get_job_rules(session, job_id, scope)
    if rules is None:
        raise NotFound(f"no rules known for job {job_id}")
    return rules


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


async def quality(
    session: AsyncSession, contractor_id: UUID, caller: Principal, now: datetime | None = None
) -> Quality:
    if caller.role is not Role.MANAGER and caller.subject != str(contractor_id):
        raise NotFound(f"no quality figures for contractor {contractor_id}")
    now = now or utcnow()
    by_golden = {
        key: (n, ok) for key, n, ok in await repository.scores_by(session, contractor_id, "golden")
    }
    golden_judged, golden_correct = by_golden.get("golden", (0, 0))
    standing = await repository.get_standing(session, contractor_id)
    judged, correct = (standing.judged, standing.correct) if standing else (0, 0)

    def keyed(rows: list[tuple[object, int, int]]) -> list[KeyedScore]:
        return [
            KeyedScore(key=str(key), judged=n, correct=ok, accuracy=domain.accuracy(ok, n))
            for key, n, ok in rows
        ]

    since = (now - timedelta(days=TREND_DAYS - 1)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    return Quality(
        contractor_id=contractor_id,
        overall=Score(judged=judged, correct=correct, accuracy=domain.accuracy(correct, judged)),
        per_field=keyed(await repository.scores_by(session, contractor_id, "field")),
        per_work_type=keyed(await repository.scores_by(session, contractor_id, "work_type")),
        golden=Score(
            judged=golden_judged,
            correct=golden_correct,
            accuracy=domain.accuracy(golden_correct, golden_judged),
        ),
        trend=[
            DayScore(day=day, judged=n, correct=ok, accuracy=domain.accuracy(ok, n))
            for day, n, ok in await repository.scores_by(session, contractor_id, "day", since)
        ],
        suspended_at=standing.suspended_at if standing else None,
        suspension_reason=standing.reason if standing else None,
    )

"""Use cases of job rules: keep the rules intake announced, show them, dry-run the engine."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import intake
from bpo_common.errors import NotFound
from bpo_common.events import Waiting
from bpo_common.rules import CheckResponse, check
from bpo_validation.models import JobRules
from bpo_validation.repository import jobs as repository
from bpo_validation.schemas import CheckRequest, JobRulesOut


class JobNotKnownYet(Waiting):
    """An event (a submission, items received) arrived before its job: the consumer retries it
    until the job has come."""


async def record_job(session: AsyncSession, event: intake.JobCreated) -> None:
    await repository.add_job_rules(
        session,
        JobRules(
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            fields=event.model_dump(mode="json")["fields"],
            rules=event.rules,
            match=None if event.match is None else event.match.model_dump(mode="json"),
            qc=event.qc.model_dump(mode="json"),
            received_at=utcnow(),
        ),
    )


async def job_rules(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobRulesOut:
    rules = await repository.get_job_rules(session, job_id, scope)
    if rules is None:
        raise NotFound(f"no rules known for job {job_id}")
    return JobRulesOut.model_validate(rules, from_attributes=True)


async def count_items(session: AsyncSession, event: intake.ItemsReceived) -> None:
    """Count the job's items received, control items aside: what adaptive QC holds the job's
    delivered accuracy over (domain.accuracy.Ledger.size)."""
    count = sum(not item.golden for item in event.items)
    if not await repository.add_items(session, event.job_id, count):
        raise JobNotKnownYet(f"job {event.job_id} has not arrived yet")


def dry_run(request: CheckRequest) -> CheckResponse:
    result = check(request, request.data)
    return CheckResponse.of(result)

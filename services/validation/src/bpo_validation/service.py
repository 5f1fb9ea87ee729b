"""Use cases of the validation service."""

from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts.intake import JobCreated
from bpo_common.errors import NotFound
from bpo_validation import repository
from bpo_validation.models import JobRules


async def record_job(session: AsyncSession, event: JobCreated) -> None:
    await repository.add_job_rules(
        session,
        JobRules(
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            fields=event.fields,
            qc=event.qc,
            received_at=utcnow(),
        ),
    )


async def job_rules(session: AsyncSession, job_id: UUID, scope: UUID | None) -> JobRules:
    rules = await repository.get_job_rules(session, job_id, scope)
    if rules is None:
        raise NotFound(f"no rules known for job {job_id}")
    return rules

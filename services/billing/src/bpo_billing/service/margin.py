"""The margin report: revenue (priced usage) minus contractor cost (earnings)."""

from dataclasses import asdict
from datetime import date
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain.margin import by_client
from bpo_billing.domain.periods import end_of, start_of
from bpo_billing.repository import margin as repository
from bpo_billing.schemas import ClientMargin, JobMargin, MarginReport


async def margin_report(
    session: AsyncSession, client_id: UUID | None, period_start: date, period_end: date
) -> MarginReport:
    """Revenue (priced usage) minus contractor cost (earnings), per client and per job, in
    each currency apart."""
    jobs = await repository.margin_by_job(
        session, client_id, start_of(period_start), end_of(period_end)
    )
    clients = [
        ClientMargin(
            client_id=client,
            currency=currency,
            jobs=[JobMargin(job_id=job, **asdict(margin)) for job, margin in figures.jobs.items()],
            **asdict(figures.total),
        )
        for (client, currency), figures in by_client(jobs).items()
    ]
    return MarginReport(period_start=period_start, period_end=period_end, clients=clients)

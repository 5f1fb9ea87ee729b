"""Revenue and contractor cost per job, for the margin report."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.models import Earning, UsageLine


async def margin_by_job(
    session: AsyncSession, client_id: UUID | None, since: datetime, until: datetime
) -> Sequence[Any]:
    """(client_id, job_id, currency, revenue, cost) per job and currency with usage or
    earnings: money in one currency is never added to money in another."""
    return (await session.execute(margin_query(client_id, since, until))).all()


def margin_query(
    client_id: UUID | None, since: datetime, until: datetime
) -> Select[UUID, UUID, str, Decimal, Decimal]:
    """`margin_by_job`'s query. The period's usage and earnings are read through the indexes
    of a client's by time (ix_usage_line_client_id_completed_at,
    ix_earning_client_id_earned_at), every client's skipping from client to client: what the
    period holds, not the whole history."""
    revenue_query = select(
        UsageLine.client_id,
        UsageLine.job_id,
        UsageLine.currency,
        func.sum(UsageLine.amount).label("revenue"),
    ).where(
        UsageLine.amount.is_not(None),
        UsageLine.completed_at >= since,
        UsageLine.completed_at < until,
    )
    cost_query = select(
        Earning.client_id,
        Earning.job_id,
        Earning.currency,
        func.sum(Earning.amount).label("cost"),
    ).where(Earning.amount.is_not(None), Earning.earned_at >= since, Earning.earned_at < until)
    if client_id is not None:
        revenue_query = revenue_query.where(UsageLine.client_id == client_id)
        cost_query = cost_query.where(Earning.client_id == client_id)
    revenue = revenue_query.group_by(
        UsageLine.client_id, UsageLine.job_id, UsageLine.currency
    ).subquery()
    cost = cost_query.group_by(Earning.client_id, Earning.job_id, Earning.currency).subquery()
    return (
        select(
            func.coalesce(revenue.c.client_id, cost.c.client_id).label("client_id"),
            func.coalesce(revenue.c.job_id, cost.c.job_id).label("job_id"),
            func.coalesce(revenue.c.currency, cost.c.currency).label("currency"),
            func.coalesce(revenue.c.revenue, 0).label("revenue"),
            func.coalesce(cost.c.cost, 0).label("cost"),
        )
        .select_from(revenue)
        .join(
            cost,
            and_(
                revenue.c.client_id == cost.c.client_id,
                revenue.c.job_id == cost.c.job_id,
                revenue.c.currency == cost.c.currency,
            ),
            full=True,
        )
        .order_by("client_id", "currency", "job_id")
    )

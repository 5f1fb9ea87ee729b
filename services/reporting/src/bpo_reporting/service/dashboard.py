"""The dashboard page's figures: the reports of the last days, and the charts made of them."""

from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_reporting.domain.dashboard import (
    ACCURACY_ROWS,
    active,
    bucket_for,
    charts,
    currency_shown,
    offered,
)
from bpo_reporting.schemas import Dashboard
from bpo_reporting.service import reports


async def dashboard(
    session: AsyncSession, now: datetime, days: int, currency: str | None, window_hours: int
) -> Dashboard:
    """The dashboard's figures for the last `days` days: money in `currency`, else in the
    first of the period's currencies (the page offers the others)."""
    start = now - timedelta(days=days)
    present = await reports.currencies(session, start, now)
    chosen = currency_shown(currency, present)
    bucket = bucket_for(days)
    series = await reports.throughput(session, start, now, bucket)
    clients = await reports.clients(session, start, now, chosen)
    contractors = await reports.contractors(session, start, now, chosen)
    return Dashboard(
        days=days,
        currencies=offered(present, chosen),
        overview=await reports.overview(session, start, now, currency=chosen),
        sla=await reports.sla(session, now, window_hours),
        accuracy=await reports.accuracy(session, start, now, limit=ACCURACY_ROWS),
        contractors=contractors,
        clients=clients,
        charts=charts(series.data, clients.data, contractors.data),
        buckets=active(series.data),
        bucket=bucket,
    )

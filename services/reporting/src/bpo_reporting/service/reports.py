"""Figures out: each report loads the rollups of its period and lets the domain make figures
of them. Money is answered in one currency (see `domain.reports.only_currency`)."""

from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_reporting.domain import sla as outlook
from bpo_reporting.domain.buckets import Bucket, bucket_starts, first_hour_from
from bpo_reporting.domain.reports import (
    ContractorWork,
    Counts,
    Money,
    check_period,
    figures,
    longest_period,
    marked_mixed,
    money_shown,
    only_currency,
    total,
)
from bpo_reporting.domain.turnaround import merged
from bpo_reporting.repository import reports as repository
from bpo_reporting.schemas import (
    ClientRow,
    Clients,
    ContractorRow,
    Contractors,
    DeliveredAccuracy,
    DeliveredAccuracyRow,
    OpenJob,
    Overview,
    Sla,
    Throughput,
    ThroughputBucket,
)


async def _currency(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    requested: str | None,
    client_id: UUID | None = None,
) -> str | None:
    if requested is not None:
        return requested
    return only_currency(await repository.currencies(session, start, end, client_id))


async def _money(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    currency: str,
    client_id: UUID | None = None,
) -> dict[UUID, Money]:
    """Each client's money in `currency`, with no margin where it has money in another too."""
    money = await repository.money_per_client(session, start, end, currency, client_id)
    currencies = await repository.currencies_per_client(session, start, end, client_id)
    return marked_mixed(money, currencies)


async def overview(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    client_id: UUID | None = None,
    currency: str | None = None,
) -> Overview:
    check_period(start, end)
    first_hour = first_hour_from(start)
    totals = await repository.hourly_totals(session, first_hour, end, client_id)
    bins = await repository.turnaround_bins(session, first_hour, end, client_id)
    backlog = await repository.backlog_per_client(session, client_id)
    chosen = await _currency(session, first_hour, end, currency, client_id)
    money = None
    if chosen is not None:
        money = total((await _money(session, first_hour, end, chosen, client_id)).values())
    return Overview(
        period_from=start,
        period_to=end,
        **asdict(figures(totals, sum(backlog.values()), merged(bins.values()), money, chosen)),
        currency=chosen,
    )


async def throughput(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    bucket: Bucket,
    client_id: UUID | None = None,
    work_type: str | None = None,
) -> Throughput:
    check_period(start, end, longest_period(bucket))
    # The first bucket counts only the period's hours, as every report does (a day's bucket
    # cut by `start` is partial, as the last one is by `end`): back-to-back periods never
    # count an hour twice.
    series = await repository.hourly_series(
        session, first_hour_from(start), end, bucket is Bucket.DAY, client_id, work_type
    )
    return Throughput(
        period_from=start,
        period_to=end,
        bucket=bucket,
        client_id=client_id,
        work_type=work_type,
        data=[
            ThroughputBucket(start=moment, **asdict(series.get(moment, Counts())))
            for moment in bucket_starts(start, end, bucket)
        ],
    )


async def sla(
    session: AsyncSession,
    now: datetime,
    window_hours: int,
    client_id: UUID | None = None,
    limit: int = 100,
) -> Sla:
    """Open jobs by due time, each with a completion forecast at the recent throughput."""
    start = outlook.window_start(now, window_hours)
    recent = await repository.hourly_totals(session, start, now)
    per_hour = outlook.throughput_per_hour(recent.items_finished, start, now)
    rows = await repository.open_jobs(session)
    jobs = []
    for row in rows:
        finished = row.items_completed + row.items_rejected + row.items_erased
        remaining, waiting = outlook.outstanding(row.items_received, finished, row.items_held)
        jobs.append(
            outlook.OpenJob(str(row.job_id), row.due_at, remaining, row.last_finished_at, waiting)
        )
    done_at = outlook.forecast(jobs, per_hour, now)
    listed = [
        OpenJob(
            job_id=row.job_id,
            client_id=row.client_id,
            work_type=row.work_type,
            due_at=row.due_at,
            closed=row.closed_at is not None,
            items_total=row.items_received,
            items_remaining=job.remaining,
            items_waiting_on_client=job.waiting,
            documents=row.documents,
            pages=row.pages,
            forecast_completion_at=done_at[job.job_id],
            at_risk=outlook.at_risk(job, done_at[job.job_id], now),
        )
        for row, job in zip(rows, jobs, strict=True)
        if client_id is None or row.client_id == client_id
    ]
    return Sla(
        generated_at=now,
        window_hours=window_hours,
        throughput_per_hour=round(per_hour, 3),
        jobs_open=len(listed),
        jobs_at_risk=sum(job.at_risk for job in listed),
        data=listed[:limit],
    )


async def accuracy(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    client_id: UUID | None = None,
    limit: int = 100,
) -> DeliveredAccuracy:
    """The accuracy adaptive jobs delivered, of those whose figures came in the period, latest
    first; how many there were, and how many missed their target (flagged)."""
    check_period(start, end)
    rows = await repository.delivered_accuracy(session, start, end, client_id, limit)
    jobs, flagged = await repository.delivered_accuracy_counts(session, start, end, client_id)
    return DeliveredAccuracy(
        period_from=start,
        period_to=end,
        jobs=jobs,
        flagged=flagged,
        data=[DeliveredAccuracyRow.model_validate(row, from_attributes=True) for row in rows],
    )


async def contractors(
    session: AsyncSession, start: datetime, end: datetime, currency: str | None = None
) -> Contractors:
    check_period(start, end)
    first_hour = first_hour_from(start)
    work = await repository.contractors_in_period(session, first_hour, end)
    # Of earnings alone: the clients' revenue may be in other currencies.
    chosen = currency or only_currency(
        await repository.earning_currencies(session, first_hour, end)
    )
    earnings = (
        await repository.earnings_in_period(session, first_hour, end, chosen) if chosen else {}
    )
    data = [
        _contractor_row(
            contractor_id,
            work.get(contractor_id, ContractorWork()),
            money_shown(earnings.get(contractor_id, Decimal(0)), chosen),
        )
        for contractor_id in sorted(work.keys() | earnings.keys())
    ]
    data.sort(key=lambda row: (-row.tasks_submitted, str(row.contractor_id)))
    return Contractors(period_from=start, period_to=end, currency=chosen, data=data)


def _contractor_row(
    contractor_id: UUID, done: ContractorWork, earnings: Decimal | None
) -> ContractorRow:
    return ContractorRow(
        contractor_id=contractor_id,
        tasks_submitted=done.tasks_submitted,
        tasks_expired=done.tasks_expired,
        active_hours=done.active_hours,
        tasks_per_active_hour=done.tasks_per_active_hour,
        avg_seconds_to_submit=done.avg_seconds_to_submit,
        active_seconds=round(done.active_seconds, 1),
        seconds_per_field=done.seconds_per_field,
        items_per_hour=done.items_per_hour,
        entries_accepted=done.entries_accepted,
        entries_overturned=done.entries_overturned,
        entries_rejected=done.entries_rejected,
        fields_judged=done.fields_judged,
        fields_correct=done.fields_correct,
        accuracy=done.accuracy,
        earnings=earnings,
    )


async def clients(
    session: AsyncSession, start: datetime, end: datetime, currency: str | None = None
) -> Clients:
    check_period(start, end)
    first_hour = first_hour_from(start)
    totals = await repository.clients_in_period(session, first_hour, end)
    bins = await repository.turnaround_bins(session, first_hour, end)
    backlog = await repository.backlog_per_client(session)
    chosen = await _currency(session, first_hour, end, currency)
    money = await _money(session, first_hour, end, chosen) if chosen else {}
    data = [
        ClientRow(
            client_id=client_id,
            **asdict(
                figures(
                    totals.get(client_id, Counts()),
                    backlog.get(client_id, 0),
                    bins.get(client_id, {}),
                    money.get(client_id, Money()) if chosen else None,
                    chosen,
                )
            ),
        )
        # A client whose backlog did not move in the period is shown too: most of all.
        for client_id in sorted(totals.keys() | money.keys() | backlog.keys())
    ]
    data.sort(key=lambda row: (-row.items_received, str(row.client_id)))
    return Clients(period_from=start, period_to=end, currency=chosen, data=data)


async def currencies(session: AsyncSession, start: datetime, end: datetime) -> list[str]:
    """The currencies with amounts in the period."""
    return await repository.currencies(session, first_hour_from(start), end)

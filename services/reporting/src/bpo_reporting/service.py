"""Use cases of the reporting service: fold events into read models, answer reports.

Events arrive in any order and some more than once. Facts merge (each column comes from one
kind of event), and a rollup moves only when a fact changed state, so the final numbers do
not depend on the order or on repeats. A turnaround needs both the receipt and the
completion: whichever arrives second settles it.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import billing, intake, validation
from bpo_common.errors import FieldError, Invalid
from bpo_reporting import domain, repository
from bpo_reporting.domain import Bucket, hour_of
from bpo_reporting.models import (
    ContractorEarningRollup,
    ContractorRollup,
    HourlyRollup,
    MoneyRollup,
    TurnaroundRollup,
)
from bpo_reporting.schemas import (
    ClientRow,
    Clients,
    ContractorRow,
    Contractors,
    Dashboard,
    OpenJob,
    Overview,
    Sla,
    Throughput,
    ThroughputBucket,
)

MAX_RANGE = timedelta(days=366)
MAX_HOURLY_RANGE = timedelta(days=31)

# Events in


async def _count(
    session: AsyncSession, client_id: UUID, work_type: str, moment: datetime, **deltas: int
) -> None:
    key = {"client_id": client_id, "work_type": work_type, "hour": hour_of(moment)}
    await repository.increment(session, HourlyRollup, [(key, deltas)])


async def _settle_turnarounds(session: AsyncSession, item_ids: Sequence[UUID]) -> None:
    rows = []
    for client_id, work_type, completed_at, seconds in await repository.settle_turnarounds(
        session, item_ids
    ):
        # Settled means both ends are known.
        assert completed_at is not None
        assert seconds is not None
        key = {
            "client_id": client_id,
            "work_type": work_type,
            "hour": hour_of(completed_at),
            "bin": domain.turnaround_bin(seconds),
        }
        rows.append((key, {"items": 1}))
    await repository.increment(session, TurnaroundRollup, rows)


async def record_job(session: AsyncSession, event: intake.JobCreated) -> None:
    await repository.upsert_job(
        session,
        event.job_id,
        event.client_id,
        work_type=event.work_type,
        due_at=event.due_at,
        created_at=event.created_at,
    )


async def record_items(session: AsyncSession, event: intake.ItemsReceived) -> None:
    rows = [
        {
            "item_id": item.item_id,
            "job_id": event.job_id,
            "client_id": event.client_id,
            "work_type": event.work_type,
            "golden": item.golden,
            "received_at": event.received_at,
        }
        for item in event.items
    ]
    received = await repository.receive_items(session, rows)
    if received:
        count = len(received)
        await _count(
            session, event.client_id, event.work_type, event.received_at, items_received=count
        )
        await repository.add_job_items(
            session, event.job_id, event.client_id, event.work_type, received=count
        )
        # Items whose completion arrived first get their turnaround now.
        completed = [item_id for item_id, completed_at in received if completed_at is not None]
        if completed:
            await _settle_turnarounds(session, completed)


async def record_item_completed(session: AsyncSession, event: intake.ItemCompleted) -> None:
    first = await repository.finish_item(
        session,
        "completed_at",
        item_id=event.item_id,
        job_id=event.job_id,
        client_id=event.client_id,
        work_type=event.work_type,
        golden=event.golden,
        completed_at=event.completed_at,
    )
    if first:
        await _count(
            session, event.client_id, event.work_type, event.completed_at, items_completed=1
        )
        await repository.add_job_items(
            session, event.job_id, event.client_id, event.work_type, completed=1
        )
        await _settle_turnarounds(session, [event.item_id])


async def record_item_rejected(session: AsyncSession, event: intake.ItemRejected) -> None:
    first = await repository.finish_item(
        session,
        "rejected_at",
        item_id=event.item_id,
        job_id=event.job_id,
        client_id=event.client_id,
        work_type=event.work_type,
        rejected_at=event.rejected_at,
    )
    if first:
        await _count(session, event.client_id, event.work_type, event.rejected_at, items_rejected=1)
        await repository.add_job_items(
            session, event.job_id, event.client_id, event.work_type, rejected=1
        )


async def record_job_closed(session: AsyncSession, event: intake.JobClosed) -> None:
    await repository.upsert_job(session, event.job_id, event.client_id, closed_at=event.closed_at)


async def record_job_cancelled(session: AsyncSession, event: intake.JobCancelled) -> None:
    await repository.upsert_job(
        session, event.job_id, event.client_id, cancelled_at=event.cancelled_at
    )


async def record_job_completed(session: AsyncSession, event: intake.JobCompleted) -> None:
    first = await repository.upsert_job(
        session,
        event.job_id,
        event.client_id,
        work_type=event.work_type,
        completed_at=event.completed_at,
    )
    if first and event.due_at is not None:
        on_time = event.completed_at <= event.due_at
        await _count(
            session,
            event.client_id,
            event.work_type,
            event.completed_at,
            jobs_sla_met=int(on_time),
            jobs_sla_missed=int(not on_time),
        )


async def record_task_submitted(session: AsyncSession, event: intake.TaskSubmitted) -> None:
    identity = {
        "item_id": event.item_id,
        "job_id": event.job_id,
        "client_id": event.client_id,
        "work_type": event.work_type,
    }
    await repository.claim_item(session, event.claimed_at, **identity)
    first = await repository.upsert_task(
        session,
        "submitted_at",
        task_id=event.task_id,
        contractor_id=event.contractor_id,
        kind=event.kind,
        claimed_at=event.claimed_at,
        submitted_at=event.submitted_at,
        **identity,
    )
    if first:
        seconds = max((event.submitted_at - event.claimed_at).total_seconds(), 0.0)
        key = {"contractor_id": event.contractor_id, "hour": hour_of(event.submitted_at)}
        deltas = {"tasks_submitted": 1, "submit_seconds": seconds}
        await repository.increment(session, ContractorRollup, [(key, deltas)])


async def record_task_expired(session: AsyncSession, event: intake.TaskExpired) -> None:
    key = {"contractor_id": event.contractor_id, "hour": hour_of(event.expired_at)}
    await repository.increment(session, ContractorRollup, [(key, {"tasks_expired": 1})])


async def record_contractor_scored(
    session: AsyncSession, event: validation.ContractorScored
) -> None:
    first = await repository.upsert_task(
        session,
        "outcome",
        task_id=event.task_id,
        item_id=event.item_id,
        job_id=event.job_id,
        client_id=event.client_id,
        contractor_id=event.contractor_id,
        work_type=event.work_type,
        kind=event.kind,
        outcome=event.outcome,
        fields_judged=event.fields_judged,
        fields_correct=event.fields_correct,
        decided_at=event.decided_at,
    )
    if not first:
        return
    deltas = {
        f"entries_{event.outcome}": 1,
        "fields_judged": event.fields_judged,
        "fields_correct": event.fields_correct,
    }
    await _count(session, event.client_id, event.work_type, event.decided_at, **deltas)
    key = {"contractor_id": event.contractor_id, "hour": hour_of(event.decided_at)}
    await repository.increment(session, ContractorRollup, [(key, deltas)])


def _money_key(
    client_id: UUID, work_type: str, moment: datetime, currency: str
) -> dict[str, object]:
    return {
        "client_id": client_id,
        "work_type": work_type,
        "hour": hour_of(moment),
        "currency": currency,
    }


async def record_usage(session: AsyncSession, event: billing.UsageRecorded) -> None:
    if not await repository.add_ledger_entry(
        session, event.usage_id, "usage", event.amount, event.currency
    ):
        return
    key = _money_key(event.client_id, event.work_type, event.completed_at, event.currency)
    deltas = {"revenue": event.amount, "contractor_cost": Decimal(0)}
    await repository.increment(session, MoneyRollup, [(key, deltas)])


async def record_earning(session: AsyncSession, event: billing.EarningRecorded) -> None:
    if not await repository.add_ledger_entry(
        session, event.earning_id, "earning", event.amount, event.currency
    ):
        return
    key = _money_key(event.client_id, event.work_type, event.earned_at, event.currency)
    deltas = {"revenue": Decimal(0), "contractor_cost": event.amount}
    await repository.increment(session, MoneyRollup, [(key, deltas)])
    earner = {
        "contractor_id": event.contractor_id,
        "hour": hour_of(event.earned_at),
        "currency": event.currency,
    }
    await repository.increment(
        session, ContractorEarningRollup, [(earner, {"amount": event.amount})]
    )


# Reports out


def check_period(start: datetime, end: datetime, longest: timedelta = MAX_RANGE) -> None:
    if start >= end:
        raise Invalid("from must be before to", errors=[FieldError("from", "must be before to")])
    if end - start > longest:
        raise Invalid(
            f"the period may span at most {longest.days} days",
            errors=[FieldError("from", f"at most {longest.days} days before to")],
        )


async def choose_currency(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    requested: str | None,
    client_id: UUID | None = None,
) -> str | None:
    """Money is answered in one currency: the one asked for, else the only one with amounts
    in the period (None when there are none); several and none asked for is a 422."""
    if requested is not None:
        return requested
    present = await repository.currencies(session, start, end, client_id)
    if len(present) > 1:
        listed = ", ".join(present)
        raise Invalid(
            f"the period has amounts in {listed}; choose one with currency",
            errors=[FieldError("currency", f"one of {listed}")],
        )
    return present[0] if present else None


def _margin(revenue: Decimal | None, cost: Decimal | None) -> Decimal | None:
    return None if revenue is None or cost is None else revenue - cost


async def overview(
    session: AsyncSession,
    start: datetime,
    end: datetime,
    client_id: UUID | None = None,
    currency: str | None = None,
) -> Overview:
    check_period(start, end)
    first_hour = hour_of(start)
    totals = await repository.hourly_totals(session, first_hour, end, client_id)
    bins = await repository.turnaround_bins(session, first_hour, end, client_id)
    merged: dict[int, int] = defaultdict(int)
    for per_client in bins.values():
        for bin_, items in per_client.items():
            merged[bin_] += items
    backlog = await repository.backlog_per_client(session, client_id)
    chosen = await choose_currency(session, first_hour, end, currency, client_id)
    revenue = cost = None
    if chosen is not None:
        money = await repository.money_per_client(session, first_hour, end, chosen, client_id)
        revenue = sum((r for r, _ in money.values()), Decimal(0))
        cost = sum((c for _, c in money.values()), Decimal(0))
    return Overview(
        period_from=start,
        period_to=end,
        items_received=totals["items_received"],
        items_completed=totals["items_completed"],
        items_rejected=totals["items_rejected"],
        backlog=sum(backlog.values()),
        turnaround_p50_s=domain.percentile(merged, 0.5),
        turnaround_p90_s=domain.percentile(merged, 0.9),
        sla_met_ratio=domain.ratio(
            totals["jobs_sla_met"], totals["jobs_sla_met"] + totals["jobs_sla_missed"]
        ),
        accuracy=domain.ratio(totals["fields_correct"], totals["fields_judged"]),
        revenue=revenue,
        contractor_cost=cost,
        margin=_margin(revenue, cost),
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
    check_period(start, end, MAX_HOURLY_RANGE if bucket is Bucket.HOUR else MAX_RANGE)
    first = domain.bucket_of(start, bucket)
    series = await repository.hourly_series(
        session, first, end, bucket is Bucket.DAY, client_id, work_type
    )
    empty = dict.fromkeys(repository.COUNTERS, 0)
    return Throughput(
        period_from=start,
        period_to=end,
        bucket=bucket,
        client_id=client_id,
        work_type=work_type,
        data=[
            ThroughputBucket(start=moment, **series.get(moment, empty))
            for moment in domain.bucket_starts(start, end, bucket)
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
    recent = await repository.hourly_totals(
        session, hour_of(now) - timedelta(hours=window_hours - 1), now
    )
    per_hour = (recent["items_completed"] + recent["items_rejected"]) / window_hours
    rows = await repository.open_jobs(session)
    jobs = [
        domain.OpenJob(str(job_id), due_at, max(received - completed - rejected, 0))
        for job_id, _, _, due_at, _, received, completed, rejected in rows
    ]
    done_at = domain.forecast(jobs, per_hour, now)
    listed = []
    for job_id, client, work_type, due_at, closed_at, received, completed, rejected in rows:
        if client_id is not None and client != client_id:
            continue
        forecast_at = done_at[str(job_id)]
        remaining = max(received - completed - rejected, 0)
        late = due_at is not None and (forecast_at is None or forecast_at > due_at)
        listed.append(
            OpenJob(
                job_id=job_id,
                client_id=client,
                work_type=work_type,
                due_at=due_at,
                closed=closed_at is not None,
                items_total=received,
                items_remaining=remaining,
                forecast_completion_at=forecast_at,
                at_risk=late,
            )
        )
    return Sla(
        generated_at=now,
        window_hours=window_hours,
        throughput_per_hour=round(per_hour, 3),
        data=listed[:limit],
    )


async def contractors(
    session: AsyncSession, start: datetime, end: datetime, currency: str | None = None
) -> Contractors:
    check_period(start, end)
    first_hour = hour_of(start)
    rows = await repository.contractors_in_period(session, first_hour, end)
    chosen = await choose_currency(session, first_hour, end, currency)
    earnings = (
        await repository.earnings_in_period(session, first_hour, end, chosen) if chosen else {}
    )
    data = []
    for contractor_id in sorted(rows.keys() | earnings.keys()):
        row = rows.get(contractor_id) or dict.fromkeys(
            [*repository.CONTRACTOR_COUNTERS, "submit_seconds", "active_hours"], 0
        )
        tasks, active = int(row["tasks_submitted"]), int(row["active_hours"])
        data.append(
            ContractorRow(
                contractor_id=contractor_id,
                tasks_submitted=tasks,
                tasks_expired=int(row["tasks_expired"]),
                active_hours=active,
                tasks_per_active_hour=round(tasks / active, 3) if active else None,
                avg_seconds_to_submit=round(float(row["submit_seconds"]) / tasks, 1)
                if tasks
                else None,
                entries_accepted=int(row["entries_accepted"]),
                entries_overturned=int(row["entries_overturned"]),
                entries_rejected=int(row["entries_rejected"]),
                fields_judged=int(row["fields_judged"]),
                fields_correct=int(row["fields_correct"]),
                accuracy=domain.ratio(int(row["fields_correct"]), int(row["fields_judged"])),
                earnings=earnings.get(contractor_id, Decimal(0)) if chosen else None,
            )
        )
    data.sort(key=lambda row: (-row.tasks_submitted, str(row.contractor_id)))
    return Contractors(period_from=start, period_to=end, currency=chosen, data=data)


async def clients(
    session: AsyncSession, start: datetime, end: datetime, currency: str | None = None
) -> Clients:
    check_period(start, end)
    first_hour = hour_of(start)
    totals = await repository.clients_in_period(session, first_hour, end)
    bins = await repository.turnaround_bins(session, first_hour, end)
    backlog = await repository.backlog_per_client(session)
    chosen = await choose_currency(session, first_hour, end, currency)
    money = await repository.money_per_client(session, first_hour, end, chosen) if chosen else {}
    data = []
    for client_id in sorted(totals.keys() | money.keys()):
        counts = totals.get(client_id) or dict.fromkeys(repository.COUNTERS, 0)
        revenue, cost = money.get(client_id, (Decimal(0), Decimal(0)))
        data.append(
            ClientRow(
                client_id=client_id,
                items_received=counts["items_received"],
                items_completed=counts["items_completed"],
                items_rejected=counts["items_rejected"],
                backlog=backlog.get(client_id, 0),
                turnaround_p50_s=domain.percentile(bins.get(client_id, {}), 0.5),
                turnaround_p90_s=domain.percentile(bins.get(client_id, {}), 0.9),
                sla_met_ratio=domain.ratio(
                    counts["jobs_sla_met"], counts["jobs_sla_met"] + counts["jobs_sla_missed"]
                ),
                accuracy=domain.ratio(counts["fields_correct"], counts["fields_judged"]),
                revenue=revenue if chosen else None,
                contractor_cost=cost if chosen else None,
                margin=_margin(revenue, cost) if chosen else None,
            )
        )
    data.sort(key=lambda row: (-row.items_received, str(row.client_id)))
    return Clients(period_from=start, period_to=end, currency=chosen, data=data)


async def currencies(session: AsyncSession, start: datetime, end: datetime) -> list[str]:
    """The currencies with amounts in the period."""
    return await repository.currencies(session, hour_of(start), end)


async def dashboard(
    session: AsyncSession, now: datetime, days: int, currency: str | None, window_hours: int
) -> Dashboard:
    """The dashboard's figures for the last `days` days: money in `currency`, else in the
    first of the period's currencies (the page offers the others)."""
    start = now - timedelta(days=days)
    present = await currencies(session, start, now)
    chosen = currency or (present[0] if present else None)
    bucket = Bucket.HOUR if days <= 7 else Bucket.DAY
    series = await throughput(session, start, now, bucket)
    listed_clients = await clients(session, start, now, chosen)
    listed_contractors = await contractors(session, start, now, chosen)
    return Dashboard(
        days=days,
        currencies=present,
        overview=await overview(session, start, now, currency=chosen),
        sla=await sla(session, now, window_hours, limit=50),
        contractors=listed_contractors,
        clients=listed_clients,
        charts={
            "throughput": {
                "t": [int(b.start.timestamp()) for b in series.data],
                "received": [b.items_received for b in series.data],
                "completed": [b.items_completed for b in series.data],
                "sla_met": [b.jobs_sla_met for b in series.data],
                "sla_missed": [b.jobs_sla_missed for b in series.data],
            },
            "backlog": {
                "labels": [str(row.client_id)[-8:] for row in listed_clients.data],
                "values": [row.backlog for row in listed_clients.data],
            },
            "accuracy": {
                "labels": [str(row.contractor_id)[-8:] for row in listed_contractors.data],
                "values": [
                    None if row.accuracy is None else round(row.accuracy * 100, 1)
                    for row in listed_contractors.data
                ],
            },
        },
    )

"""Contractor earnings: piece rates per work type and task kind, what each scored task
earns, and a contractor's statement for a period."""

from datetime import date
from decimal import Decimal
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain.earnings import earning_amount, earning_factor, statement_totals
from bpo_billing.domain.money import currency_errors, exact_price, plain
from bpo_billing.domain.periods import end_of, start_of
from bpo_billing.models import Earning
from bpo_billing.repository import WAITING_CHUNK
from bpo_billing.repository import earnings as repository
from bpo_billing.schemas import EarningGroup, EarningsStatement, PieceRatesIn, PieceRatesOut
from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind, billing
from bpo_common.contracts.validation import ContractorScored
from bpo_common.db import advisory_lock
from bpo_common.errors import Invalid
from bpo_common.ids import new_id
from bpo_common.inbox import first_of_each
from bpo_common.money import minor_units
from bpo_common.outbox import publish_each, publish_many

# Held by a put of piece rates, shared by the recording of earnings (see record_scores).
PIECE_RATES_LOCK = "billing piece rates"


async def put_piece_rates(
    session: AsyncSession, work_type: str, body: PieceRatesIn
) -> PieceRatesOut:
    """Set what each task kind pays on a work type; earnings waiting for a rate get priced."""
    currency = body.currency.upper()
    errors = currency_errors(currency)
    if errors:
        raise Invalid("invalid piece rates: currency", errors=errors)
    amounts = {
        TaskKind.ENTRY: body.entry,
        TaskKind.REVIEW: body.review,
        TaskKind.ADJUDICATION: body.adjudication,
    }
    await advisory_lock(session, PIECE_RATES_LOCK)
    await repository.put_piece_rates(session, work_type, amounts, body.per_hour, currency, utcnow())
    # A chunk of waiting earnings at a time, each written and announced before the next is
    # read: a backlog of any size costs the memory of one chunk. All in this transaction: the
    # rates and every earning they price commit together or not at all.
    after: UUID | None = None
    while waiting := await repository.unpriced_earnings(session, work_type, after, WAITING_CHUNK):
        after = waiting[-1].id
        events = [
            _price_earning(earning, amounts[earning.kind], body.per_hour, currency)
            for earning in waiting
        ]
        await repository.write_priced(session, waiting)
        await publish_many(session, events)
    (rates,) = await piece_rates(session, work_type)
    return rates


async def piece_rates(session: AsyncSession, work_type: str | None = None) -> list[PieceRatesOut]:
    grouped: dict[str, PieceRatesOut] = {}
    for rate in await repository.piece_rates(session, work_type):
        places = minor_units(rate.currency)
        out = grouped.setdefault(
            rate.work_type,
            PieceRatesOut(
                work_type=rate.work_type,
                currency=rate.currency,
                entry=None,
                review=None,
                adjudication=None,
                per_hour=(None if rate.per_hour is None else exact_price(rate.per_hour, places)),
            ),
        )
        setattr(out, rate.kind.value, exact_price(rate.amount, places))
    return list(grouped.values())


def _price_earning(
    earning: Earning, rate: Decimal, per_hour: Decimal | None, currency: str
) -> billing.EarningRecorded:
    """The earning priced at the piece rate `rate` (its share of it, for a partial second
    keying) and the hourly rate."""
    earning.rate = rate * earning.share
    earning.amount = earning_amount(earning.rate, earning.factor, per_hour, earning.active_seconds)
    earning.currency = currency
    return billing.EarningRecorded(
        earning_id=earning.id,
        task_id=earning.task_id,
        contractor_id=earning.contractor_id,
        job_id=earning.job_id,
        client_id=earning.client_id,
        work_type=earning.work_type,
        kind=earning.kind,
        amount=plain(earning.amount),
        currency=currency,
        earned_at=earning.earned_at,
    )


async def record_scores(
    session: AsyncSession, events: list[ContractorScored], overturned_fraction: Decimal
) -> None:
    """A scored task earns its piece rate (its share of it, for a partial second keying): all
    of it when accepted or left unjudged by a cancel, a fraction when overturned, nothing when
    the item was rejected. A task scored twice earns once."""
    firsts = first_of_each(events, lambda event: event.task_id)
    if not firsts:
        return
    # Against a put of rates meanwhile: it prices the earnings it sees waiting, so these must
    # be written first, or read its rates. (One lock for every work type: puts are rare, and a
    # batch's runs take it in no order to get wrong.)
    await advisory_lock(session, PIECE_RATES_LOCK, shared=True)
    rates = await repository.piece_rates_of(session, sorted({e.work_type for e in firsts}))
    now = utcnow()
    earnings, recorded = [], []
    for event in firsts:
        earning = Earning(
            id=new_id(),
            task_id=event.task_id,
            item_id=event.item_id,
            contractor_id=event.contractor_id,
            job_id=event.job_id,
            client_id=event.client_id,
            work_type=event.work_type,
            kind=event.kind,
            outcome=event.outcome,
            golden=event.golden,
            factor=earning_factor(event.outcome, overturned_fraction),
            share=event.share,
            active_seconds=event.active_seconds,
            earned_at=event.decided_at,
            recorded_at=now,
        )
        earnings.append(earning)
        rate = rates.get((event.work_type, event.kind))
        if rate is not None:
            recorded.append(_price_earning(earning, rate.amount, rate.per_hour, rate.currency))
    stored = await repository.add_earnings(session, earnings)
    await publish_each(
        session, [(event, event.client_id) for event in recorded if event.task_id in stored]
    )


async def earnings_statement(
    session: AsyncSession, contractor_id: UUID, period_start: date, period_end: date
) -> EarningsStatement:
    groups = await repository.earnings_by_group(
        session, contractor_id, start_of(period_start), end_of(period_end)
    )
    figures = statement_totals(groups)
    return EarningsStatement(
        contractor_id=contractor_id,
        period_start=period_start,
        period_end=period_end,
        lines=[
            EarningGroup(
                work_type=group.work_type,
                kind=group.kind,
                outcome=group.outcome,
                tasks=group.tasks,
                rate=(
                    exact_price(group.rate, minor_units(group.currency))
                    if group.rate is not None and group.currency is not None
                    else None
                ),
                amount=amount,
                currency=group.currency,
            )
            for group, amount in zip(groups, figures.amounts, strict=True)
        ],
        totals=figures.totals,
        unpriced_tasks=figures.unpriced_tasks,
    )

"""Queries that erase the values validation keeps of a job or of some of its items."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, case, delete, literal, null, select, update
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import ExceptionAction
from bpo_common.erasure import untyped_reason
from bpo_validation.domain.matching import ExceptionStatus
from bpo_validation.models import (
    Decision,
    Entry,
    InvoicedLine,
    JobDataKey,
    MatchException,
    SeenInvoice,
)

# Who resolved an exception its erasure closed.
ERASURE = "erasure"


def _empty(value: object) -> ColumnElement[object]:
    return literal(value, JSONB)


async def erase_values(
    session: AsyncSession, job_id: UUID, item_ids: list[UUID] | None, now: datetime
) -> list[UUID]:
    """Empty the entries, decisions and match exceptions of the job (or of these of its items);
    ids, outcomes, counts and times stay. An exception still open is closed, rejected by the
    erasure (its invoice can no longer be read, and intake rejects the item), and what it
    billed of its order is forgotten. The invoices seen for duplicates go. The items whose
    exceptions it closed."""

    def of(table: type[Entry] | type[Decision] | type[MatchException]) -> ColumnElement[bool]:
        if item_ids is None:
            return table.job_id == job_id
        return (table.job_id == job_id) & table.item_id.in_(item_ids)

    await session.execute(
        update(Entry)
        .where(of(Entry))
        .values(
            data=_empty({}),
            golden=null(),
            client_values=null(),
            suggestions=_empty({}),
            documents=_empty([]),
            # What a keyer typed of why it cannot be read: "" still says they marked it so.
            rejection=case((Entry.rejection.is_(None), null()), else_=literal("")),
        )
    )
    await session.execute(
        update(Decision)
        .where(of(Decision))
        .values(result=null(), comparison=_empty([]), reason=untyped_reason(Decision.reason))
    )
    await session.execute(
        update(MatchException)
        .where(of(MatchException))
        .values(reasons=_empty([]), lines=_empty([]), result=_empty({}), data=null(), note=None)
    )
    closed = await session.scalars(
        update(MatchException)
        .where(of(MatchException), MatchException.status == ExceptionStatus.OPEN)
        .values(
            status=ExceptionStatus.RESOLVED,
            action=ExceptionAction.REJECT,
            resolved_by=ERASURE,
            by_client=False,
            resolved_at=now,
        )
        .returning(MatchException.item_id)
    )
    closed_items = list(closed)
    # What those invoices billed of their orders goes, as a rejection's does (an accepted
    # invoice's stays: the order lines were invoiced).
    await session.execute(delete(InvoicedLine).where(InvoicedLine.item_id.in_(closed_items)))
    items = (
        select(Entry.item_id).where(Entry.job_id == job_id).scalar_subquery()
        if item_ids is None
        else item_ids
    )
    await session.execute(delete(SeenInvoice).where(SeenInvoice.item_id.in_(items)))
    return closed_items


async def delete_job_key(session: AsyncSession, job_id: UUID) -> None:
    await session.execute(delete(JobDataKey).where(JobDataKey.job_id == job_id))

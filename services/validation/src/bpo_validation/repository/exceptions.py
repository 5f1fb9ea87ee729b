"""Queries of match exceptions, and of what matching remembers: the order lines invoiced so far
and the invoices seen (to find duplicates by)."""

import string
from collections.abc import Mapping
from decimal import Decimal
from uuid import UUID

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.pagination import PageRequest, paginate
from bpo_validation.domain.duplicates import Invoice
from bpo_validation.domain.matching import ExceptionStatus
from bpo_validation.domain.reference import reference_key
from bpo_validation.models import (
    InvoicedLine,
    MatchException,
    ReferenceDataset,
    ReferenceRow,
    SeenInvoice,
)


async def invoiced_before(
    session: AsyncSession, client_id: UUID, order_key: str, item_id: UUID
) -> dict[str, Decimal]:
    """Quantity other items invoiced against each line of an order."""
    query = (
        select(InvoicedLine.line_key, func.sum(InvoicedLine.quantity))
        .where(
            InvoicedLine.client_id == client_id,
            InvoicedLine.order_key == order_key,
            InvoicedLine.item_id != item_id,
        )
        .group_by(InvoicedLine.line_key)
    )
    return {line: total for line, total in (await session.execute(query)).all()}


async def invoices_of_vendor(session: AsyncSession, client_id: UUID, vendor: str) -> list[Invoice]:
    query = select(SeenInvoice).where(
        SeenInvoice.client_id == client_id,
        func.md5(SeenInvoice.vendor) == func.md5(vendor),  # as the index has it
        SeenInvoice.vendor == vendor,
    )
    return [
        Invoice(seen.item_id, seen.vendor, seen.number, seen.amount, seen.dated)
        for seen in (await session.execute(query)).scalars()
    ]


async def remember_invoice(
    session: AsyncSession,
    client_id: UUID,
    item_id: UUID,
    order_key: str | None,
    lines: Mapping[str, Decimal],
    invoice: Invoice | None,
) -> None:
    """What an invoice item bills, replacing what was kept of it before."""
    await forget_invoice(session, item_id)
    if order_key is not None:
        session.add_all(
            InvoicedLine(
                item_id=item_id,
                order_key=order_key,
                line_key=line,
                client_id=client_id,
                quantity=quantity,
            )
            for line, quantity in lines.items()
        )
    if invoice is not None:
        session.add(
            SeenInvoice(
                item_id=item_id,
                client_id=client_id,
                vendor=invoice.vendor,
                number=invoice.number,
                amount=invoice.amount,
                dated=invoice.dated,
            )
        )
    await session.flush()


async def forget_invoice(session: AsyncSession, item_id: UUID) -> None:
    """A rejected invoice bills nothing and duplicates nothing."""
    await session.execute(delete(InvoicedLine).where(InvoicedLine.item_id == item_id))
    await session.execute(delete(SeenInvoice).where(SeenInvoice.item_id == item_id))


# Every character but an ASCII digit, as a PostgreSQL character class.
_NOT_DIGITS = "[^0-9]+"


async def receipts_of_order(
    session: AsyncSession, client_id: UUID, dataset: str, column: str, order: str
) -> list[dict[str, object]] | None:
    """The rows of the client's receipts dataset whose `column` names the order (as
    `reference_key` compares them); None when the client has no such dataset."""
    found = await session.execute(
        select(ReferenceDataset.id).where(
            ReferenceDataset.client_id == client_id, ReferenceDataset.name == dataset
        )
    )
    dataset_id = found.scalar_one_or_none()
    if dataset_id is None:
        return None
    # Narrowed in SQL to the rows whose ASCII digits are the order's, in order (no case
    # folding adds or takes one, and PostgreSQL's lower() folds less than casefold: ß and
    # SS), then compared as lookups compare keys.
    digits = func.regexp_replace(ReferenceRow.values[column].astext, _NOT_DIGITS, "", "g")
    query = select(ReferenceRow.values).where(
        ReferenceRow.dataset_id == dataset_id,
        digits == "".join(character for character in order if character in string.digits),
    )
    key = reference_key(order)
    return [
        row
        for row in (await session.execute(query)).scalars()
        if reference_key(row.get(column, "")) == key
    ]


def add_exception(session: AsyncSession, exception: MatchException) -> None:
    session.add(exception)


async def exception_for_update(session: AsyncSession, exception_id: UUID) -> MatchException | None:
    """The exception locked, read afresh: a read of it earlier in the transaction may be stale."""
    query = (
        select(MatchException)
        .where(MatchException.id == exception_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def get_exception(session: AsyncSession, exception_id: UUID) -> MatchException | None:
    return await session.get(MatchException, exception_id)


async def list_exceptions(
    session: AsyncSession,
    scope: UUID | None,
    status: ExceptionStatus | None,
    job_id: UUID | None,
    page: PageRequest,
) -> list[MatchException]:
    query = select(MatchException)
    if scope is not None:
        query = query.where(MatchException.client_id == scope)
    if status is not None:
        query = query.where(MatchException.status == status)
    if job_id is not None:
        query = query.where(MatchException.job_id == job_id)
    return list((await session.execute(paginate(query, MatchException.id, page))).scalars())

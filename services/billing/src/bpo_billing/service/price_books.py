"""Price books: versions of a client's prices, each in force from its effective date."""

from datetime import date
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_billing.domain.money import exact_price, plain, round_money
from bpo_billing.domain.price_books import price_book_errors
from bpo_billing.models import PriceBook
from bpo_billing.repository import lock_client
from bpo_billing.repository import price_books as repository
from bpo_billing.schemas import PriceBookIn, PriceBookOut, PriceBookVersions, RateIn, RushIn
from bpo_billing.service.usage import price_waiting_usage
from bpo_common.clock import utcnow
from bpo_common.errors import FieldError, Invalid, NotFound
from bpo_common.events import STORED
from bpo_common.ids import new_id
from bpo_common.money import minor_units


def _rate_out(rate: dict[str, Any], places: int) -> RateIn:
    """A work type's rate as stored, its prices shown to the currency's minor unit at least
    (`places`), as the version's other prices and its invoices show them. Read as it was
    accepted (STORED): a bound added since applies to new versions only."""
    typed = RateIn.model_validate(rate, context={STORED: True})
    tiers = [
        tier.model_copy(update={"per_item": exact_price(tier.per_item, places)})
        for tier in typed.tiers
    ]
    return typed.model_copy(
        update={
            "per_item": exact_price(typed.per_item, places),
            "per_field": exact_price(typed.per_field, places),
            "tiers": tiers,
        }
    )


def price_book_out(book: PriceBook) -> PriceBookOut:
    places = minor_units(book.currency)
    return PriceBookOut(
        id=book.id,
        client_id=book.client_id,
        version=book.version,
        effective_from=book.effective_from,
        currency=book.currency,
        tax_rate=plain(book.tax_rate),
        rates={work_type: _rate_out(rate, places) for work_type, rate in book.rates.items()},
        rush=RushIn.model_validate(book.rush, context={STORED: True}) if book.rush else None,
        per_exception=(
            exact_price(book.per_exception, places) if book.per_exception is not None else None
        ),
        minimum_monthly_fee=round_money(book.minimum_monthly_fee, book.currency),
        sla_credit_pct=plain(book.sla_credit_pct),
        accuracy_credit_pct=plain(book.accuracy_credit_pct),
        created_at=book.created_at,
    )


async def put_price_book(
    session: AsyncSession, client_id: UUID, body: PriceBookIn, today: date
) -> PriceBookOut:
    """Add a version of the client's prices. Usage that waits unpriced (no price book yet, or
    its work type was not listed) is priced by this version where it covers it."""
    await lock_client(session, client_id, "price-book")
    versions = await repository.price_books(session, client_id)
    currency = body.currency.upper()
    errors = price_book_errors(
        currency,
        {work_type: rate.rate() for work_type, rate in body.rates.items()},
        body.minimum_monthly_fee,
        versions[-1].currency if versions else None,
    )
    effective_from = body.effective_from or today
    if any(v.effective_from == effective_from for v in versions):
        errors.append(
            FieldError("effective_from", f"a version already takes effect on {effective_from}")
        )
    if errors:
        raise Invalid(f"invalid price book: {', '.join(e.field for e in errors)}", errors=errors)
    book = PriceBook(
        id=new_id(),
        client_id=client_id,
        version=len(versions) + 1,
        effective_from=effective_from,
        currency=currency,
        tax_rate=body.tax_rate,
        rates={k: v.model_dump(mode="json") for k, v in body.rates.items()},
        rush=body.rush.model_dump(mode="json") if body.rush else None,
        per_exception=body.per_exception,
        minimum_monthly_fee=body.minimum_monthly_fee,
        sla_credit_pct=body.sla_credit_pct,
        accuracy_credit_pct=body.accuracy_credit_pct,
        created_at=utcnow(),
    )
    await repository.add_price_book(session, book)
    await price_waiting_usage(session, book, [*versions, book])
    return price_book_out(book)


async def price_book_versions(session: AsyncSession, client_id: UUID) -> PriceBookVersions:
    books = await repository.price_books(session, client_id)
    return PriceBookVersions(client_id=client_id, data=[price_book_out(b) for b in books])


async def price_book_in_force(session: AsyncSession, client_id: UUID, day: date) -> PriceBookOut:
    book = await repository.price_book_at(session, client_id, day)
    if book is None:
        raise NotFound(f"client {client_id} has no price book")
    return price_book_out(book)

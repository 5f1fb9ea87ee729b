"""Price books: versions with an effective date, and every way a bad one is refused."""

from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bpo_billing.models import PriceBook
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields

from .conftest import price_book, put_price_book


async def test_a_new_version_takes_effect_on_its_date_and_the_old_one_stays_before_it(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    body = await put_price_book(
        billing,
        tokens,
        client_id,
        rates={
            "invoice": {
                "per_item": "0.50",
                "tiers": [
                    {"min_quantity": 1, "max_quantity": 1000, "per_item": "0.50"},
                    {"min_quantity": 1001, "per_item": "0.40"},
                ],
            }
        },
        rush={"max_sla_hours": "24", "surcharge_pct": "25"},
        minimum_monthly_fee="100.00",
    )
    assert body["version"] == 1
    assert body["currency"] == "EUR"
    assert body["tax_rate"] == "0.21"
    assert body["rates"]["invoice"]["tiers"][1] == {
        "min_quantity": 1001,
        "max_quantity": None,
        "per_item": "0.40",
    }
    assert body["rush"] == {"max_sla_hours": "24", "surcharge_pct": "25"}

    second = await put_price_book(
        billing, tokens, client_id, tax_rate="0.19", effective_from="2026-06-01"
    )
    assert second["version"] == 2

    headers = tokens.client(client_id)
    in_may = await billing.get(f"/v1/price-books/{client_id}?at=2026-05-31", headers=headers)
    in_june = await billing.get(f"/v1/price-books/{client_id}?at=2026-06-01", headers=headers)
    before_any = await billing.get(f"/v1/price-books/{client_id}?at=2025-01-01", headers=headers)
    assert (in_may.json()["version"], in_june.json()["version"]) == (1, 2)
    assert in_june.json()["tax_rate"] == "0.19"
    # Usage from before the first version is priced by the first version.
    assert before_any.json()["version"] == 1
    versions = await billing.get(f"/v1/price-books/{client_id}/versions", headers=headers)
    assert [v["effective_from"] for v in versions.json()["data"]] == ["2026-01-01", "2026-06-01"]


async def test_a_price_written_with_endless_trailing_zeros_is_kept_as_its_value(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    # 20,000 zeros, or an exponent of 300,000: more than a numeric value can be sent with (a 500).
    zeros = "0" * 20_000
    client_id = new_id()
    await put_price_book(
        billing,
        tokens,
        client_id,
        rates={"invoice": {"per_item": f"1.5{zeros}", "per_field": "0E+300000"}},
        tax_rate=f"0.19{zeros}",
        minimum_monthly_fee=f"100.{zeros}",
    )
    stored = await billing.get(f"/v1/price-books/{client_id}", headers=tokens.manager())
    body = stored.json()
    assert Decimal(body["rates"]["invoice"]["per_item"]) == Decimal("1.5")
    assert Decimal(body["rates"]["invoice"]["per_field"]) == 0
    assert (Decimal(body["tax_rate"]), Decimal(body["minimum_monthly_fee"])) == (
        Decimal("0.19"),
        Decimal(100),
    )


async def test_a_price_written_with_an_exponent_is_answered_written_plainly(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    tiers = [
        {"min_quantity": 1, "max_quantity": 1000, "per_item": "1.0E+3"},
        {"min_quantity": 1001, "per_item": "0E+2"},
    ]
    put = await put_price_book(
        billing,
        tokens,
        client_id,
        rates={"invoice": {"per_item": "1E+3", "per_field": "0.00000000", "tiers": tiers}},
        rush={"max_sla_hours": "1E+1", "surcharge_pct": "2.5E+1"},
        minimum_monthly_fee="1E+2",
        sla_credit_pct="1E+1",
    )
    stored = await billing.get(f"/v1/price-books/{client_id}", headers=tokens.manager())
    for body in (put, stored.json()):
        assert body["rates"]["invoice"] == {
            "per_item": "1000.00",
            "per_field": "0.00",
            "tiers": [
                {"min_quantity": 1, "max_quantity": 1000, "per_item": "1000.00"},
                {"min_quantity": 1001, "max_quantity": None, "per_item": "0.00"},
            ],
        }
        assert body["rush"] == {"max_sla_hours": "10", "surcharge_pct": "25"}
        assert (body["minimum_monthly_fee"], body["sla_credit_pct"]) == ("100.00", "10")


async def test_a_price_per_exception_is_optional_and_kept_per_version(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens
) -> None:
    client_id = new_id()
    first = await put_price_book(billing, tokens, client_id)
    second = await put_price_book(
        billing, tokens, client_id, per_exception="2.5", effective_from="2026-06-01"
    )
    assert (first["per_exception"], second["per_exception"]) == (None, "2.50")

    headers = tokens.client(client_id)
    in_may = await billing.get(f"/v1/price-books/{client_id}?at=2026-05-31", headers=headers)
    in_june = await billing.get(f"/v1/price-books/{client_id}?at=2026-06-01", headers=headers)
    assert (in_may.json()["per_exception"], in_june.json()["per_exception"]) == (None, "2.50")
    async with billing_db() as session:
        stored = await session.scalars(
            select(PriceBook.per_exception)
            .where(PriceBook.client_id == client_id)
            .order_by(PriceBook.version)
        )
        assert stored.all() == [None, Decimal("2.5")]
    # In yen, whole yen: as its invoices show it.
    in_yen = await put_price_book(billing, tokens, new_id(), currency="JPY", per_exception="300")
    assert in_yen["per_exception"] == "300"


async def test_a_version_s_rates_are_shown_to_its_currency_s_minor_unit_as_its_other_prices(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    tiers = [
        {"min_quantity": 1, "max_quantity": 10, "per_item": "0.5"},
        {"min_quantity": 11, "per_item": "0.3"},
    ]
    rates = {"invoice": {"per_item": "0.4", "per_field": "0.015", "tiers": tiers}}
    client_id = new_id()
    put = await put_price_book(billing, tokens, client_id, rates=rates, per_exception="0.4")
    stored = await billing.get(f"/v1/price-books/{client_id}", headers=tokens.client(client_id))
    for body in (put, stored.json()):
        assert body["rates"]["invoice"] == {
            "per_item": "0.40",
            "per_field": "0.015",
            "tiers": [
                {"min_quantity": 1, "max_quantity": 10, "per_item": "0.50"},
                {"min_quantity": 11, "max_quantity": None, "per_item": "0.30"},
            ],
        }
        assert body["per_exception"] == "0.40"
    in_yen = await put_price_book(
        billing, tokens, new_id(), currency="JPY", rates={"invoice": {"per_item": "100"}}
    )
    assert in_yen["rates"]["invoice"] == {"per_item": "100", "per_field": "0", "tiers": []}


BAD_BOOKS: list[tuple[str, dict[str, Any], str]] = [
    (
        "negative rate",
        {"rates": {"invoice": {"per_item": "-0.10"}}},
        "rates.invoice.per_item",
    ),
    (
        "negative per-field rate",
        {"rates": {"invoice": {"per_item": "0.10", "per_field": "-1"}}},
        "rates.invoice.per_field",
    ),
    ("unknown currency", {"currency": "EUX"}, "currency"),
    (
        "a per-field price the ledger could not hold",
        {"rates": {"invoice": {"per_item": "0.10", "per_field": "1E+15"}}},
        "rates.invoice.per_field",
    ),
    (
        "overlapping tiers",
        {
            "rates": {
                "invoice": {
                    "per_item": "0.5",
                    "tiers": [
                        {"min_quantity": 1, "max_quantity": 500, "per_item": "0.5"},
                        {"min_quantity": 400, "per_item": "0.4"},
                    ],
                }
            }
        },
        "rates.invoice.tiers[1].min_quantity",
    ),
    ("negative price per exception", {"per_exception": "-0.50"}, "per_exception"),
    (
        "price per exception beyond six decimals",
        {"per_exception": "0.1234567"},
        "per_exception",
    ),
    ("price per exception not a number", {"per_exception": "two"}, "per_exception"),
    ("tax above 100%", {"tax_rate": "1.5"}, "tax_rate"),
    ("negative minimum fee", {"minimum_monthly_fee": "-5"}, "minimum_monthly_fee"),
    ("minimum fee in fractions of a cent", {"minimum_monthly_fee": "5.001"}, "minimum_monthly_fee"),
    ("SLA credit above 100%", {"sla_credit_pct": "120"}, "sla_credit_pct"),
    ("accuracy credit above 100%", {"accuracy_credit_pct": "100.5"}, "accuracy_credit_pct"),
    ("negative accuracy credit", {"accuracy_credit_pct": "-1"}, "accuracy_credit_pct"),
    (
        "rush surcharge of 1000% or more",
        {"rush": {"max_sla_hours": "24", "surcharge_pct": "1000"}},
        "rush.surcharge_pct",
    ),
    ("rush without a threshold", {"rush": {"surcharge_pct": "10"}}, "rush.max_sla_hours"),
    ("no rates", {"rates": {}}, "rates"),
    ("a work type no job can have", {"rates": {"Invoice": {"per_item": "1"}}}, "rates.Invoice"),
    ("unknown field", {"discount": "5"}, "discount"),
]


@pytest.mark.parametrize(("case", "change", "field"), BAD_BOOKS, ids=[b[0] for b in BAD_BOOKS])
async def test_a_bad_price_book_is_a_422_naming_the_field_and_nothing_is_stored(
    billing: httpx.AsyncClient,
    billing_db: SessionFactory,
    tokens: Tokens,
    case: str,
    change: dict[str, Any],
    field: str,
) -> None:
    client_id = new_id()
    response = await billing.put(
        f"/v1/price-books/{client_id}", json=price_book(**change), headers=tokens.manager()
    )
    problem = assert_problem(response, 422)
    assert field in error_fields(problem), problem
    async with billing_db() as session:
        stored = await session.scalar(
            select(func.count()).select_from(PriceBook).where(PriceBook.client_id == client_id)
        )
    assert stored == 0


async def test_a_version_keeps_the_currency_and_a_date_takes_one_version(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id = new_id()
    url = f"/v1/price-books/{client_id}"
    assert (await billing.put(url, json=price_book(), headers=tokens.manager())).status_code == 201
    other_currency = await billing.put(
        url, json=price_book(currency="USD", effective_from="2026-05-01"), headers=tokens.manager()
    )
    assert error_fields(assert_problem(other_currency, 422)) == ["currency"]
    same_day = await billing.put(url, json=price_book(), headers=tokens.manager())
    assert error_fields(assert_problem(same_day, 422)) == ["effective_from"]


async def test_only_managers_set_prices_and_a_client_sees_only_its_own(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id, other = new_id(), new_id()
    url = f"/v1/price-books/{client_id}"
    assert_problem(await billing.put(url, json=price_book(), headers=tokens.client(client_id)), 403)
    assert (await billing.put(url, json=price_book(), headers=tokens.manager())).status_code == 201
    assert_problem(await billing.get(url, headers=tokens.client(other)), 404)
    assert_problem(await billing.get(f"{url}/versions", headers=tokens.client(other)), 404)
    assert (await billing.get(url, headers=tokens.client(client_id))).json()["version"] == 1
    assert_problem(await billing.get(url, headers=tokens.contractor(new_id())), 403)

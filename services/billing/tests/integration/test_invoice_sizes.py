"""How large an invoice may be: whatever a price book's highest prices bill, up to what its
columns hold (under 10^18), and past that a draft refused by name, never a 500."""

import httpx

from bpo_common.rules import MAX_FIELDS
from bpo_devtools.testing import Tokens, assert_problem

from .conftest import Feed, completions, draft, draft_body, finalize, new_client

# The highest price a price book takes, per item and per field.
HIGHEST = "1000000000"


async def test_an_invoice_of_the_highest_prices_is_drafted_and_paid_in_one_payment(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(
        billing,
        tokens,
        rates={"invoice": {"per_item": HIGHEST, "per_field": HIGHEST}},
        rush={"max_sla_hours": "24", "surcharge_pct": "100"},
    )
    job = await feed.job(client_id, sla_hours="1", external_ref="rushed")
    # (10^9 + 200 fields x 10^9) x 2 for the rush: 402,000,000,000 an item.
    await feed.run(*completions(job, 25_000, fields=MAX_FIELDS))

    invoice = await draft(billing, tokens, client_id)
    (line,) = invoice["lines"]
    assert (line["quantity"], line["unit_price"], line["amount"]) == (
        25_000,
        "402000000000.00",
        "10050000000000000.00",
    )
    assert (invoice["subtotal"], invoice["tax"], invoice["total"]) == (
        "10050000000000000.00",
        "2110500000000000.00",
        "12160500000000000.00",
    )
    issued = await finalize(billing, tokens, invoice["id"])
    paid = await billing.post(
        f"/v1/invoices/{issued['id']}/payments",
        json={"amount": issued["total"]},
        headers=tokens.manager(),
    )
    assert paid.status_code == 201, paid.text
    assert (paid.json()["status"], paid.json()["amount_due"]) == ("paid", "0.00")


async def test_a_draft_that_would_come_to_more_than_an_invoice_holds_is_refused_by_name(
    billing: httpx.AsyncClient, tokens: Tokens
) -> None:
    # The highest minimum fee an amount takes, taxed at 100 %: twice what an invoice holds.
    client_id = await new_client(
        billing, tokens, minimum_monthly_fee="999999999999999999", tax_rate="1"
    )
    response = await billing.post(
        "/v1/invoices", json=draft_body(client_id), headers=tokens.manager()
    )
    problem = assert_problem(response, 409)
    assert problem["detail"] == (
        "the invoice's total would come to 1999999999999999998.00 EUR, more than an invoice "
        "holds "
        "(under 1000000000000000000 EUR)"
    )

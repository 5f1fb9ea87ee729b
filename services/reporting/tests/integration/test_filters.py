"""Who may read the reports, and their filters: a 422 names the parameter that is wrong."""

from datetime import UTC, datetime
from decimal import Decimal
from uuid import UUID

import httpx
import pytest
from nats.js import JetStreamContext

from bpo_common.contracts import TaskKind
from bpo_common.contracts.billing import EarningRecorded, UsageRecorded
from bpo_common.events import Event, wrap
from bpo_common.ids import new_id
from bpo_common.money import minor_units
from bpo_devtools.testing import Tokens, assert_problem, error_fields

from .api import Reports
from .scenario import publish

NEW_YEAR_2003 = {"from": "2003-01-01T00:00:00Z", "to": "2003-01-02T00:00:00Z"}


BACKWARDS = {"from": "2003-01-02T00:00:00Z", "to": "2003-01-01T00:00:00Z"}
SPAN = "the period may span at most"
# id: report, its parameters, the parameter the 422 names, its detail
BAD_FILTERS: dict[str, tuple[str, dict[str, str], str, str]] = {
    "unknown-bucket": ("throughput", {"bucket": "week"}, "bucket", "invalid request: bucket"),
    "hourly-over-31-days": (
        "throughput",
        {"from": "2003-01-01T00:00:00Z", "to": "2003-02-01T00:00:01Z"},
        "from",
        f"{SPAN} 31 days",
    ),
    "daily-over-366-days": (
        "throughput",
        {"from": "2003-01-01T00:00:00Z", "to": "2004-01-03T00:00:00Z", "bucket": "day"},
        "from",
        f"{SPAN} 366 days",
    ),
    "throughput-backwards": ("throughput", BACKWARDS, "from", "from must be before to"),
    "contractors-backwards": ("contractors", BACKWARDS, "from", "from must be before to"),
    "clients-over-366-days": (
        "clients",
        {"from": "2001-01-01T00:00:00Z", "to": "2003-01-01T00:00:00Z"},
        "from",
        f"{SPAN} 366 days",
    ),
    "currency": ("overview", {"currency": "euro"}, "currency", "invalid request: currency"),
    "sla-limit": ("sla", {"limit": "0"}, "limit", "invalid request: limit"),
    "to-without-time": ("throughput", {"to": "2003-01-01"}, "to", "invalid request: to"),
}


def usage_recorded(
    client_id: UUID, amount: str, currency: str, at: datetime, job_id: UUID | None = None
) -> UsageRecorded:
    return UsageRecorded(
        usage_id=new_id(),
        item_id=new_id(),
        job_id=job_id or new_id(),
        client_id=client_id,
        work_type="invoice",
        amount=Decimal(amount),
        currency=currency,
        completed_at=at,
        recorded_at=at,
    )


def earning_recorded(
    client_id: UUID, job_id: UUID, amount: str, currency: str, at: datetime
) -> EarningRecorded:
    return EarningRecorded(
        earning_id=new_id(),
        task_id=new_id(),
        contractor_id=new_id(),
        job_id=job_id,
        client_id=client_id,
        work_type="invoice",
        kind=TaskKind.ENTRY,
        amount=Decimal(amount),
        currency=currency,
        earned_at=at,
    )


async def publish_billing(js: JetStreamContext, client_id: UUID, *events: Event) -> None:
    await publish(js, [wrap(event, source="billing", client_id=client_id) for event in events])


@pytest.mark.parametrize(
    ("report", "params", "field", "detail"),
    [pytest.param(*case, id=name) for name, case in BAD_FILTERS.items()],
)
async def test_a_bad_filter_is_a_422_naming_it(
    reports: Reports, report: str, params: dict[str, str], field: str, detail: str
) -> None:
    response = await reports.get(report, params)

    problem = assert_problem(response, 422)
    assert problem["detail"] == detail
    assert error_fields(problem) == [field]


async def test_money_in_several_currencies_must_be_read_one_currency_at_a_time(
    reports: Reports, js: JetStreamContext
) -> None:
    client_id = new_id()
    at = datetime(2003, 1, 1, 10, tzinfo=UTC)
    amounts = [("7.25", "EUR"), ("5", "USD"), ("0.75", "EUR")]
    await publish_billing(js, client_id, *(usage_recorded(client_id, *a, at) for a in amounts))

    undecided = await reports.get("overview", NEW_YEAR_2003)
    problem = assert_problem(undecided, 422)
    assert problem["detail"] == "the period has amounts in EUR, USD; choose one with currency"
    assert problem["errors"] == [{"field": "currency", "message": "one of EUR, USD"}]

    for currency, revenue in [("EUR", "8.00"), ("USD", "5.00"), ("GBP", "0.00")]:
        body = await reports.body("overview", **NEW_YEAR_2003, currency=currency)
        assert (body["currency"], body["revenue"], body["contractor_cost"], body["margin"]) == (
            currency,
            revenue,
            "0.00",
            revenue,
        )
    clients = await reports.body("clients", **NEW_YEAR_2003, currency="USD")
    # (Other tests' clients are listed too, for their backlog: they earned nothing then.)
    earned = [
        (row["client_id"], row["revenue"]) for row in clients["data"] if row["revenue"] != "0.00"
    ]
    assert earned == [(str(client_id), "5.00")]


async def test_no_margin_is_told_where_a_clients_money_is_in_two_currencies(
    reports: Reports, js: JetStreamContext
) -> None:
    # Billed in EUR, keyed by contractors paid in USD: in EUR its margin is not its revenue,
    # nor in USD minus its cost.
    client_id = new_id()
    at = datetime(2003, 3, 1, 10, tzinfo=UTC)
    period = {"from": "2003-03-01T00:00:00Z", "to": "2003-03-02T00:00:00Z"}
    usage = usage_recorded(client_id, "10", "EUR", at)
    earning = earning_recorded(client_id, usage.job_id, "6", "USD", at)
    await publish_billing(js, client_id, usage, earning)

    for currency, revenue, cost in [("EUR", "10.00", "0.00"), ("USD", "0.00", "6.00")]:
        body = await reports.body("overview", **period, client_id=str(client_id), currency=currency)
        assert (body["revenue"], body["contractor_cost"], body["margin"]) == (revenue, cost, None)
    clients = await reports.body("clients", **period, currency="EUR")
    (row,) = [row for row in clients["data"] if row["client_id"] == str(client_id)]
    assert (row["revenue"], row["margin"]) == ("10.00", None)
    everyone = await reports.body("overview", **period, currency="EUR")
    assert everyone["margin"] is None
    # The contractors report is of earnings alone: in their one currency, without asking.
    paid = await reports.body("contractors", **period)
    assert paid["currency"] == "USD"
    assert [(row["contractor_id"], row["earnings"]) for row in paid["data"]] == [
        (str(earning.contractor_id), "6.00")
    ]


async def test_money_is_written_to_the_currencys_minor_unit_at_least_as_billing_writes_it(
    reports: Reports, js: JetStreamContext
) -> None:
    """Billing sends each amount without trailing zeros ("0.5"); the reports write the sums
    to the minor unit (0.50 EUR, 0.500 BHD, 3000 JPY), and further only where they are
    exact to more places."""
    at = datetime(2003, 7, 1, 10, tzinfo=UTC)
    period = {"from": "2003-07-01T00:00:00Z", "to": "2003-07-02T00:00:00Z"}
    written: dict[str, tuple[str, str, str]] = {}
    for currency, price, rate in [
        ("EUR", "0.5", "0.1"),
        ("JPY", "1000", "100"),
        ("BHD", "0.5", "0.1"),
        ("USD", "0.125", "0.1"),
    ]:
        client_id = new_id()
        usage = [usage_recorded(client_id, price, currency, at) for _ in range(3)]
        job_id = usage[0].job_id
        earnings = [earning_recorded(client_id, job_id, rate, currency, at) for _ in range(2)]
        await publish_billing(js, client_id, *usage, *earnings)
        body = await reports.body("overview", **period, client_id=str(client_id))
        written[currency] = (body["revenue"], body["contractor_cost"], body["margin"])
        clients = await reports.body("clients", **period, currency=currency)
        (row,) = [row for row in clients["data"] if row["client_id"] == str(client_id)]
        assert (row["revenue"], row["margin"]) == (body["revenue"], body["margin"])
        paid = await reports.body("contractors", **period, currency=currency)
        contractor = str(earnings[0].contractor_id)
        (earned,) = [row["earnings"] for row in paid["data"] if row["contractor_id"] == contractor]
        assert earned == f"{Decimal(rate):.{minor_units(currency)}f}"

    assert written == {
        "EUR": ("1.50", "0.20", "1.30"),
        "JPY": ("3000", "200", "2800"),
        "BHD": ("1.500", "0.200", "1.300"),
        "USD": ("0.375", "0.20", "0.175"),
    }


async def test_accept_allowing_neither_json_nor_csv_is_a_406(reports: Reports) -> None:
    response = await reports.get("clients", accept="application/pdf")

    problem = assert_problem(response, 406)
    assert problem["detail"] == "reports come as application/json or text/csv; Accept allows none"


async def test_the_reports_api_is_for_managers_and_a_clients_own_throughput(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    for report in ("overview", "sla", "contractors", "clients"):
        contractor = await reporting.get(
            f"/v1/reports/{report}", headers=tokens.contractor(new_id())
        )
        problem = assert_problem(contractor, 403)
        assert problem["detail"] == "this needs the role manager; the token has contractor"
        client = await reporting.get(f"/v1/reports/{report}", headers=tokens.client(new_id()))
        assert assert_problem(client, 403)["detail"].endswith("the token has client")
        assert_problem(await reporting.get(f"/v1/reports/{report}"), 401)
    contractor = await reporting.get("/v1/reports/throughput", headers=tokens.contractor(new_id()))
    assert assert_problem(contractor, 403)["detail"] == (
        "this needs the role client, manager; the token has contractor"
    )
    client_id = new_id()
    own = await reporting.get("/v1/reports/throughput", headers=tokens.client(client_id))
    assert own.json()["client_id"] == str(client_id)


async def test_a_currency_of_zero_amounts_alone_is_none_of_the_periods_and_a_nil_margin_reads_0(
    reports: Reports, js: JetStreamContext
) -> None:
    """A task rejected is an earning of 0, here in the piece rates' USD: the period's money is
    all in EUR all the same. Revenue and cost to the cent of a cent: their margin is 0.00."""
    client_id = new_id()
    at = datetime(2003, 5, 1, 10, tzinfo=UTC)
    period = {"from": "2003-05-01T00:00:00Z", "to": "2003-05-02T00:00:00Z"}
    usage = usage_recorded(client_id, "1.00342778", "EUR", at)
    await publish_billing(
        js,
        client_id,
        usage,
        earning_recorded(client_id, usage.job_id, "1.00342778", "EUR", at),
        earning_recorded(client_id, usage.job_id, "0", "USD", at),
    )

    overview = await reports.body("overview", **period)
    assert (overview["currency"], overview["revenue"], overview["margin"]) == (
        "EUR",
        "1.00342778",
        "0.00",
    )
    clients = await reports.body("clients", **period)
    (row,) = [row for row in clients["data"] if row["client_id"] == str(client_id)]
    assert (clients["currency"], row["margin"]) == ("EUR", "0.00")
    assert (await reports.body("contractors", **period))["currency"] == "EUR"
    as_csv = await reports.get("clients", {**period, "currency": "EUR"}, accept="text/csv")
    (line,) = [line for line in as_csv.text.splitlines() if line.startswith(str(client_id))]
    assert line.endswith(",1.00342778,1.00342778,0.00,EUR"), "its money says its currency"
    as_csv = await reports.get("contractors", {**period, "currency": "EUR"}, accept="text/csv")
    (header, *_) = as_csv.text.splitlines()
    assert header.endswith(",earnings,currency")

"""Contractor earnings from scored tasks, statements, and the margin per client and job."""

import asyncio
import csv
import io
from datetime import timedelta
from decimal import Decimal

import httpx
import pytest
from sqlalchemy import select, text

from bpo_billing.models import Earning, PieceRate
from bpo_billing.service import earnings
from bpo_common.contracts import TaskKind, TaskOutcome
from bpo_common.contracts.billing import EarningRecorded
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields, eventually, outbox_events

from .conftest import MONTH_START, Feed, new_client, scored

PERIOD = "period_start=2026-03-01&period_end=2026-03-31"


async def set_rates(
    billing: httpx.AsyncClient, tokens: Tokens, work_type: str, entry: str = "0.20"
) -> None:
    response = await billing.put(
        f"/v1/piece-rates/{work_type}",
        json={"currency": "EUR", "entry": entry, "review": "0.10", "adjudication": "0.30"},
        headers=tokens.manager(),
    )
    assert response.status_code == 200, response.text
    assert response.json() == {
        "work_type": work_type,
        "currency": "EUR",
        "entry": entry,
        "review": "0.10",
        "adjudication": "0.30",
        "per_hour": None,
    }


async def test_accepted_and_unjudged_work_pays_the_rate_overturned_a_fraction_rejected_nothing(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    work_type = f"claims-{new_id()}"
    await set_rates(billing, tokens, work_type)
    keyer = new_id()
    accepted = await feed.scored(keyer, work_type=work_type)
    await feed.scored(keyer, work_type=work_type)
    await feed.scored(keyer, work_type=work_type, outcome=TaskOutcome.OVERTURNED)
    await feed.scored(keyer, work_type=work_type, outcome=TaskOutcome.REJECTED)
    await feed.scored(keyer, work_type=work_type, kind=TaskKind.ADJUDICATION)
    await feed.scored(keyer, work_type=work_type, outcome=TaskOutcome.UNJUDGED)
    await feed(accepted)  # the same task scored twice is paid once
    await feed.scored(keyer, work_type=work_type, at=MONTH_START - timedelta(days=1))

    response = await billing.get(
        f"/v1/contractors/{keyer}/earnings?{PERIOD}", headers=tokens.contractor(keyer)
    )
    assert response.status_code == 200, response.text
    statement = response.json()
    lines = {(line["kind"], line["outcome"]): line for line in statement["lines"]}
    assert (lines["entry", "accepted"]["tasks"], lines["entry", "accepted"]["amount"]) == (
        2,
        "0.40",
    )
    # The test settings pay overturned entries 40% of the rate.
    assert lines["entry", "overturned"]["amount"] == "0.08"
    assert lines["entry", "rejected"]["amount"] == "0.00"
    assert lines["adjudication", "accepted"]["amount"] == "0.30"
    # A keying on an item its job's cancel left undecided earns the rate.
    assert (lines["entry", "unjudged"]["tasks"], lines["entry", "unjudged"]["amount"]) == (
        1,
        "0.20",
    )
    assert statement["totals"] == {"EUR": "0.98"}
    assert statement["unpriced_tasks"] == 0

    events = await outbox_events(billing_db, EarningRecorded.event_type, contractor_id=str(keyer))
    assert sorted(Decimal(e.data["amount"]) for e in events) == sorted(
        Decimal(a) for a in ["0.2", "0.2", "0.08", "0", "0.3", "0.2", "0.2"]
    )

    as_csv = await billing.get(
        f"/v1/contractors/{keyer}/earnings?{PERIOD}",
        headers={**tokens.manager(), "Accept": "text/csv"},
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["amount"] for row in rows if row["work_type"] == "total"] == ["0.98"]
    assert {row["contractor_id"] for row in rows} == {str(keyer)}


async def test_a_partial_second_keying_earns_its_share_of_the_rate_even_when_priced_later(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    work_type = f"claims-{new_id()}"
    keyer = new_id()
    await feed.scored(keyer, work_type=work_type, share=Decimal("0.4"))
    await set_rates(billing, tokens, work_type)
    await feed.scored(keyer, work_type=work_type, share=Decimal("0.2"))
    await feed.scored(
        keyer, work_type=work_type, outcome=TaskOutcome.OVERTURNED, share=Decimal("0.5")
    )
    await feed.scored(keyer, work_type=work_type)

    response = await billing.get(
        f"/v1/contractors/{keyer}/earnings?{PERIOD}", headers=tokens.contractor(keyer)
    )

    statement = response.json()
    paid = sorted((line["outcome"], line["rate"], line["amount"]) for line in statement["lines"])
    # Rate 0.20: two fifths, one fifth, all of it; overturned: 40 % of half of it.
    assert paid == [
        ("accepted", "0.04", "0.04"),
        ("accepted", "0.08", "0.08"),
        ("accepted", "0.20", "0.20"),
        ("overturned", "0.10", "0.04"),
    ]
    assert statement["totals"] == {"EUR": "0.36"}


async def test_a_book_with_an_hourly_rate_pays_the_active_time_too_even_when_priced_later(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    work_type = f"forms-{new_id()}"
    keyer = new_id()
    # Scored before the work type has rates: priced when they are set, time included.
    early = await feed.scored(keyer, work_type=work_type, active_seconds=90.0)
    rates = {"currency": "EUR", "entry": "0.20", "review": "0.10", "adjudication": "0.30",
             "per_hour": "12.00"}  # fmt: skip
    response = await billing.put(
        f"/v1/piece-rates/{work_type}", json=rates, headers=tokens.manager()
    )
    assert response.json()["per_hour"] == "12.00"
    await feed.scored(keyer, work_type=work_type, active_seconds=36.5)
    await feed.scored(keyer, work_type=work_type, outcome=TaskOutcome.OVERTURNED, active_seconds=60)
    await feed.scored(keyer, work_type=work_type)  # no time reported: the piece rate alone

    async with billing_db() as session:
        query = select(Earning.amount).where(Earning.contractor_id == keyer)
        amounts = sorted(amount for amount in await session.scalars(query) if amount is not None)
    # 0.20 + 12/h x 90 s = 0.50; 0.20 + 36.5 s = 0.32166667; overturned (40 %) of
    # 0.20 + 60 s = 0.16; and 0.20.
    assert amounts == [
        Decimal("0.16"),
        Decimal("0.20"),
        Decimal("0.32166667"),
        Decimal("0.50"),
    ]
    events = await outbox_events(billing_db, EarningRecorded.event_type, task_id=str(early.task_id))
    assert [Decimal(event.data["amount"]) for event in events] == [Decimal("0.5")]


async def test_a_statement_is_for_managers_and_that_contractor_only_over_a_period_in_order(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    keyer = new_id()
    await feed.scored(keyer)
    url = f"/v1/contractors/{keyer}/earnings?{PERIOD}"
    assert_problem(await billing.get(url, headers=tokens.contractor(new_id())), 404)
    assert_problem(await billing.get(url, headers=tokens.client(new_id())), 403)
    assert_problem(await billing.get(url), 401)
    assert (await billing.get(url, headers=tokens.manager())).json()["contractor_id"] == str(keyer)
    backwards = await billing.get(
        f"/v1/contractors/{keyer}/earnings?period_start=2026-03-31&period_end=2026-03-01",
        headers=tokens.manager(),
    )
    assert error_fields(assert_problem(backwards, 422)) == ["period_end"]
    # An end alone: the period starts on the first day of its month.
    ended = await billing.get(
        f"/v1/contractors/{keyer}/earnings?period_end=2026-03-20", headers=tokens.manager()
    )
    assert (ended.json()["period_start"], ended.json()["period_end"]) == (
        "2026-03-01",
        "2026-03-20",
    )
    # A start alone after today: the end is today's, which the caller did not give.
    started = await billing.get(
        f"/v1/contractors/{keyer}/earnings?period_start=2999-01-01", headers=tokens.manager()
    )
    (error,) = assert_problem(started, 422)["errors"]
    assert error == {
        "field": "period_start",
        "message": "must not be after the period's end, today by default",
    }
    usage = await billing.get(
        "/v1/usage?period_start=2026-02-01&period_end=2026-01-01", headers=tokens.manager()
    )
    assert error_fields(assert_problem(usage, 422)) == ["period_end"]
    # A Unix time was taken as its UTC day.
    unix = await billing.get("/v1/usage?period_end=1769817600", headers=tokens.manager())
    assert assert_problem(unix, 422)["errors"] == [
        {"field": "period_end", "message": "must be a day as YYYY-MM-DD (UTC)"}
    ]


async def test_a_run_prices_each_task_as_alone_whatever_comes_before_it(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    """A task of a work type without piece rates, then one with them, in one run."""
    work_type = f"claims-{new_id()}"
    await set_rates(billing, tokens, work_type)
    keyer = new_id()
    unpriced, priced = (
        scored(keyer, work_type=f"forms-{new_id()}"),
        scored(keyer, work_type=work_type),
    )
    await feed.run(unpriced, priced)

    async with billing_db() as session:
        earnings = {
            earning.task_id: (earning.amount, earning.currency)
            for earning in await session.scalars(
                select(Earning).where(Earning.contractor_id == keyer)
            )
        }
    assert earnings == {unpriced.task_id: (None, None), priced.task_id: (Decimal("0.20"), "EUR")}


async def test_work_before_its_piece_rate_is_priced_when_the_rate_is_set(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, feed: Feed
) -> None:
    work_type = f"forms-{new_id()}"
    keyer = new_id()
    scored = await feed.scored(keyer, work_type=work_type)
    statement = (
        await billing.get(f"/v1/contractors/{keyer}/earnings?{PERIOD}", headers=tokens.manager())
    ).json()
    assert (statement["unpriced_tasks"], statement["totals"]) == (1, {})
    await set_rates(billing, tokens, work_type, entry="0.25")
    async with billing_db() as session:
        earning = await session.scalar(select(Earning).where(Earning.task_id == scored.task_id))
    assert earning is not None
    assert (earning.amount, earning.currency) == (Decimal("0.25"), "EUR")
    events = await outbox_events(
        billing_db, EarningRecorded.event_type, task_id=str(scored.task_id)
    )
    assert [e.data["amount"] for e in events] == ["0.25"]

    bad = await billing.put(
        f"/v1/piece-rates/{work_type}",
        json={"currency": "EUR", "entry": "-1", "review": "0", "adjudication": "0"},
        headers=tokens.manager(),
    )
    assert error_fields(assert_problem(bad, 422)) == ["entry"]
    unknown = await billing.put(
        f"/v1/piece-rates/{work_type}",
        json={"currency": "ZZZ", "entry": "1", "review": "0", "adjudication": "0"},
        headers=tokens.manager(),
    )
    assert error_fields(assert_problem(unknown, 422)) == ["currency"]


@pytest.mark.parametrize("work_type", ["w" * 101, "Claims", "-claims"])
async def test_piece_rates_for_a_work_type_no_job_can_have_are_refused(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens, work_type: str
) -> None:
    response = await billing.put(
        f"/v1/piece-rates/{work_type}",
        json={"currency": "EUR", "entry": "0.10", "review": "0.05", "adjudication": "0.20"},
        headers=tokens.manager(),
    )
    assert error_fields(assert_problem(response, 422)) == ["work_type"]
    async with billing_db() as session:
        assert (
            await session.scalar(select(PieceRate).where(PieceRate.work_type == work_type)) is None
        )


async def test_margin_is_revenue_minus_contractor_cost_per_client_and_job(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, rates={"margin": {"per_item": "1.00"}})
    await set_rates(billing, tokens, "margin", entry="0.30")
    job = await feed.job(client_id, work_type="margin")
    other = await feed.job(client_id, work_type="margin")
    await feed.items(job, 3)
    await feed.items(other, 1)
    for _ in range(2):
        await feed.scored(new_id(), work_type="margin", client_id=client_id, job_id=job.job_id)

    response = await billing.get(
        f"/v1/margin?client_id={client_id}&{PERIOD}", headers=tokens.manager()
    )
    assert response.status_code == 200, response.text
    (client,) = response.json()["clients"]
    assert (client["currency"], client["revenue"], client["cost"], client["margin"]) == (
        "EUR", "4.00", "0.60", "3.40"
    )  # fmt: skip
    jobs = {j["job_id"]: (j["revenue"], j["cost"], j["margin"]) for j in client["jobs"]}
    assert jobs == {
        str(job.job_id): ("3.00", "0.60", "2.40"),
        str(other.job_id): ("1.00", "0.00", "1.00"),
    }
    assert_problem(await billing.get("/v1/margin", headers=tokens.client(client_id)), 403)


async def test_an_earning_written_while_its_rates_are_put_is_priced(
    billing: httpx.AsyncClient, billing_db: SessionFactory, tokens: Tokens
) -> None:
    # The consumer records an earning (no rate yet) while a manager puts the rates: the put
    # prices the earnings it sees waiting, and did not see one not yet committed.
    work_type = f"race-{new_id()}"
    event = scored(new_id(), work_type=work_type)
    async with billing_db() as session, session.begin():
        await earnings.record_scores(session, [event], Decimal("0.5"))
        putting = asyncio.create_task(set_rates(billing, tokens, work_type))
        await eventually(lambda: _waiting_on_a_lock(billing_db), what="the put to wait for it")
        assert not putting.done()
    await putting
    async with billing_db() as session:
        earning = (
            await session.scalars(select(Earning).where(Earning.task_id == event.task_id))
        ).one()
    assert earning.amount == Decimal("0.20")


async def _waiting_on_a_lock(db: SessionFactory) -> bool:
    async with db() as session:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'"
        )
        return bool((await session.execute(query)).scalar_one())


async def test_rates_in_yen_are_shown_in_whole_yen(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    work_type = f"claims-{new_id()}"
    response = await billing.put(
        f"/v1/piece-rates/{work_type}",
        json={"currency": "JPY", "entry": "100", "review": "50", "adjudication": "150"},
        headers=tokens.manager(),
    )
    assert response.status_code == 200, response.text
    shown = response.json()
    assert (shown["entry"], shown["review"], shown["adjudication"]) == ("100", "50", "150")
    keyer = new_id()
    await feed.scored(keyer, work_type=work_type)

    statement = await billing.get(
        f"/v1/contractors/{keyer}/earnings?{PERIOD}", headers=tokens.contractor(keyer)
    )
    assert statement.status_code == 200, statement.text
    (line,) = statement.json()["lines"]
    assert (line["rate"], line["currency"]) == ("100", "JPY")

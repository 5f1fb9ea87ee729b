"""GET /v1/reports/overview: for managers only, over a checked period, counting what arrived."""

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import httpx
import pytest
from nats.js import JetStreamContext

from bpo_common.contracts.intake import ItemsReceived, ReceivedItem
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem

from .api import Reports
from .scenario import publish

OVERVIEW = "/v1/reports/overview"
OVERVIEW_FIELDS = {
    "period_from",
    "period_to",
    "items_received",
    "items_completed",
    "items_rejected",
    "backlog",
    "turnaround_p50_s",
    "turnaround_p90_s",
    "sla_met_ratio",
    "accuracy",
    "revenue",
    "contractor_cost",
    "margin",
    "currency",
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


# Items two clients sent on 2001-03-10, long before anything other tests record.
ARRIVALS: list[tuple[str, str, int]] = [
    ("alice", "2001-03-10T09:05:00+00:00", 3),
    ("alice", "2001-03-10T09:55:00+00:00", 2),
    ("bob", "2001-03-10T09:20:00+00:00", 1),
    ("bob", "2001-03-10T10:00:00+00:00", 6),  # on the hour: counts for 10:00, not 09:00
    ("alice", "2001-03-10T11:30:00+00:00", 4),
    ("bob", "2001-03-10T23:59:59.999999+00:00", 2),
    ("bob", "2001-03-11T01:30:00+02:00", 7),  # 23:30 UTC on the 10th
]


@pytest.fixture(scope="module")
async def arrivals_2001(reporting: httpx.AsyncClient, js: JetStreamContext) -> dict[str, UUID]:
    """ARRIVALS as intake's ItemsReceived events on the stream; returns each client's id."""
    clients = {"alice": new_id(), "bob": new_id()}
    work_types = {"alice": "invoice", "bob": "claim"}
    events = []
    for who, received_at, count in ARRIVALS:
        event = ItemsReceived(
            job_id=new_id(),
            client_id=clients[who],
            work_type=work_types[who],
            items=[
                ReceivedItem(item_id=new_id(), external_id=f"{who}-{n}", golden=n == 0)
                for n in range(count)
            ]
            # A control copied in at a claim: none of the client's items, counted nowhere.
            + [ReceivedItem(item_id=new_id(), external_id=None, golden=True, control_copy=True)],
            received_at=_at(received_at),
        )
        events.append(wrap(event, source="intake", client_id=clients[who]))
    await publish(js, events)
    return clients


WINDOWS: list[Any] = [
    pytest.param("2001-03-10T00:00:00Z", "2001-03-11T00:00:00Z", 25, id="whole-day"),
    pytest.param("2001-03-10T09:00:00Z", "2001-03-10T10:00:00Z", 3 + 2 + 1, id="nine-oclock"),
    pytest.param("2001-03-10T10:00:00Z", "2001-03-10T11:00:00Z", 6, id="ten-oclock"),
    pytest.param("2001-03-10T09:00:00Z", "2001-03-10T12:00:00Z", 6 + 6 + 4, id="morning"),
    pytest.param("2001-03-10T12:00:00Z", "2001-03-10T23:00:00Z", 0, id="quiet-afternoon"),
    pytest.param("2001-03-10T23:00:00Z", "2001-03-11T00:00:00Z", 2 + 7, id="last-hour"),
    pytest.param(
        "2001-03-10T11:00:00+02:00", "2001-03-10T12:00:00+02:00", 6, id="nine-oclock-at-plus-two"
    ),
    pytest.param("2001-01-01T00:00:00Z", "2001-03-10T00:00:00Z", 0, id="before-anything"),
    pytest.param("2000-03-10T00:00:00Z", "2001-03-11T00:00:00Z", 25, id="exactly-366-days"),
]


@pytest.mark.parametrize(("start", "end", "received"), WINDOWS)
async def test_overview_counts_the_items_received_in_the_period(
    reports: Reports,
    arrivals_2001: dict[str, UUID],
    start: str,
    end: str,
    received: int,
) -> None:
    response = await reports.get("overview", {"from": start, "to": end})

    assert response.status_code == 200, response.text
    overview = response.json()
    assert set(overview) == OVERVIEW_FIELDS
    assert overview["items_received"] == received
    assert overview["items_completed"] == 0
    assert overview["items_rejected"] == 0
    assert _at(overview["period_from"]) == _at(start)
    assert _at(overview["period_to"]) == _at(end)


async def test_overview_can_be_narrowed_to_one_client(
    reports: Reports, arrivals_2001: dict[str, UUID]
) -> None:
    day = {"from": "2001-03-10T00:00:00Z", "to": "2001-03-11T00:00:00Z"}

    per_client = {
        who: await reports.body("overview", **day, client_id=str(client_id))
        for who, client_id in arrivals_2001.items()
    }

    assert {who: o["items_received"] for who, o in per_client.items()} == {
        "alice": 3 + 2 + 4,
        "bob": 1 + 6 + 2 + 7,
    }
    # Nothing of theirs completed: every item is still open, whatever the period.
    assert {who: o["backlog"] for who, o in per_client.items()} == {
        "alice": 3 + 2 + 4,
        "bob": 1 + 6 + 2 + 7,
    }


async def test_overview_without_a_period_covers_the_last_30_days(reports: Reports) -> None:
    before = datetime.now(UTC)

    response = await reports.get("overview")

    assert response.status_code == 200, response.text
    period_from, period_to = (_at(response.json()[key]) for key in ("period_from", "period_to"))
    assert before <= period_to <= datetime.now(UTC)
    assert period_to - period_from == timedelta(days=30)


@pytest.mark.parametrize(
    "role", [pytest.param("client", id="client"), pytest.param("contractor", id="contractor")]
)
async def test_only_managers_see_the_overview(
    reporting: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    headers = tokens.client(new_id()) if role == "client" else tokens.contractor(new_id())

    response = await reporting.get(OVERVIEW, headers=headers)

    problem = assert_problem(response, 403)
    assert problem["detail"] == f"this needs the role manager; the token has {role}"
    assert "items_received" not in problem


async def test_overview_without_a_token_is_unauthorized(reporting: httpx.AsyncClient) -> None:
    response = await reporting.get(OVERVIEW)

    problem = assert_problem(response, 401)
    assert problem["detail"] == "send an Authorization: Bearer <token> header"
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param("2001-03-11T00:00:00Z", "2001-03-10T00:00:00Z", id="from-after-to"),
        pytest.param("2001-03-10T00:00:00Z", "2001-03-10T00:00:00Z", id="empty-period"),
    ],
)
async def test_period_that_does_not_move_forward_is_rejected_naming_from(
    reports: Reports, start: str, end: str
) -> None:
    response = await reports.get("overview", {"from": start, "to": end})

    problem = assert_problem(response, 422)
    assert problem["detail"] == "from must be before to"
    assert [error["field"] for error in problem["errors"]] == ["from"]


async def test_period_longer_than_366_days_is_rejected(reports: Reports) -> None:
    end = datetime(2001, 3, 11, tzinfo=UTC)
    start = end - timedelta(days=366, seconds=1)

    response = await reports.get("overview", {"from": start.isoformat(), "to": end.isoformat()})

    problem = assert_problem(response, 422)
    assert problem["detail"] == "the period may span at most 366 days"
    assert [error["field"] for error in problem["errors"]] == ["from"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        pytest.param({"from": "last tuesday"}, "from", id="garbage-from"),
        pytest.param({"from": "2001-03-10T00:00:00"}, "from", id="from-without-offset"),
        pytest.param({"to": "2001-13-01T00:00:00Z"}, "to", id="month-13-to"),
    ],
)
async def test_unreadable_time_is_rejected_naming_the_parameter(
    reports: Reports, params: dict[str, str], field: str
) -> None:
    response = await reports.get("overview", params)

    problem = assert_problem(response, 422)
    assert [error["field"] for error in problem["errors"]] == [field]
    assert problem["detail"] == f"invalid request: {field}"


async def test_a_client_whose_backlog_did_not_move_in_the_period_is_in_the_clients_report(
    reports: Reports, arrivals_2001: dict[str, UUID]
) -> None:
    # A year later nothing of theirs moved: they are listed with what they wait for.
    later = {"from": "2002-03-10T00:00:00Z", "to": "2002-03-11T00:00:00Z"}

    rows = {row["client_id"]: row for row in (await reports.body("clients", **later))["data"]}

    shown = {who: rows.get(str(client_id)) for who, client_id in arrivals_2001.items()}
    assert {who: row and (row["items_received"], row["backlog"]) for who, row in shown.items()} == {
        "alice": (0, 3 + 2 + 4),
        "bob": (0, 1 + 6 + 2 + 7),
    }

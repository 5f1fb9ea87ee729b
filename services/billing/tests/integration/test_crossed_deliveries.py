"""Two replicas' consumers applying completed items of the same two clients, in opposite
orders, at the same time: both deliveries commit, the second after the first, and each
client's month counts every item once."""

import httpx
from sqlalchemy import select

from bpo_billing.consumers import subscriptions
from bpo_billing.models import UsageLine, VolumeCounter
from bpo_billing.settings import Settings
from bpo_common.contracts.intake import ItemCompleted, JobCreated
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, apply_crossed

from .conftest import Feed, completions, new_client


async def test_deliveries_of_two_clients_items_in_opposite_orders_both_commit(
    billing: httpx.AsyncClient,
    billing_db: SessionFactory,
    billing_settings: Settings,
    tokens: Tokens,
    feed: Feed,
) -> None:
    jobs = [await feed.job(await new_client(billing, tokens)) for _ in range(2)]
    one, two = (completions(job, 2) for job in jobs)
    # Each delivery's first run holds its client's counter of the month while the other
    # delivery's last run wants it; a new job between them makes them runs apart.
    first = _wrapped(one[0], _another(jobs[0]), two[0])
    second = _wrapped(two[1], _another(jobs[1]), one[1])

    await apply_crossed(billing_db, subscriptions(billing_settings)[0], first, second)

    clients = [job.client_id for job in jobs]
    async with billing_db() as session:
        counters = await session.scalars(
            select(VolumeCounter).where(VolumeCounter.client_id.in_(clients))
        )
        counted = {counter.client_id: counter.items for counter in counters}
        lines = await session.scalars(select(UsageLine).where(UsageLine.client_id.in_(clients)))
        priced = sorted((line.client_id, line.amount is not None) for line in lines)
    assert counted == dict.fromkeys(clients, 2)
    assert priced == sorted((client_id, True) for client_id in clients for _ in range(2))


def _another(job: JobCreated) -> JobCreated:
    """Another job of the same client."""
    return job.model_copy(update={"job_id": new_id()})


def _wrapped(*events: ItemCompleted | JobCreated) -> list[Envelope]:
    """The events as intake publishes them."""
    return [wrap(event, source="intake", client_id=event.client_id) for event in events]

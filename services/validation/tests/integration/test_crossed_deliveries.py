"""Two replicas' consumers applying keyings and items of the same two jobs, or invoices of the
same two clients, in opposite orders, at the same time, or a keying of a job a third replica
is announcing: both deliveries commit, the second after the first, and every item is decided
once."""

import asyncio
from datetime import UTC, datetime
from uuid import UUID

import httpx
from sqlalchemy import func, select, text

from bpo_common.contracts.intake import ItemsReceived, JobCreated, ReceivedItem, TaskSubmitted
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_common.ids import new_id
from bpo_common.inbox import apply
from bpo_devtools.testing import Tokens, apply_crossed, eventually
from bpo_validation.consumers import subscriptions
from bpo_validation.models import InvoicedLine, JobRules
from bpo_validation.settings import Settings

from .submissions import job_keys, keying, new_job, published
from .test_matching import FIELDS, MATCH, po_job


async def test_mixed_deliveries_of_two_jobs_in_opposite_orders_both_commit(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    (subscription,) = subscriptions(validation_settings, job_keys(validation_settings))
    one, two = [await new_job(validation_db) for _ in range(2)]
    items = {job.job_id: [new_id(), new_id()] for job in (one, two)}

    def keyed(job: JobCreated, n: int) -> TaskSubmitted:
        return keying(job, items[job.job_id][n], {"number": "A-1", "total": "10"})

    # Each delivery's first run holds its job while the other delivery's last run wants it;
    # the items received between them make them runs apart.
    await apply_crossed(
        validation_db,
        subscription,
        _wrapped(keyed(one, 0), _received(one, items), keyed(two, 0)),
        _wrapped(keyed(two, 1), _received(two, items), keyed(one, 1)),
    )

    for item_id in items[one.job_id] + items[two.job_id]:
        (decision,) = await published(validation_db, item_id)
        assert decision.type == "bpo.validation.item.accepted"
    async with validation_db() as session:
        rules = await session.scalars(select(JobRules).where(JobRules.job_id.in_(items)))
        assert {job.job_id: job.items for job in rules} == dict.fromkeys(items, 2)


async def test_invoices_of_two_clients_in_opposite_orders_both_commit(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    (subscription,) = subscriptions(validation_settings, job_keys(validation_settings))
    a, b = [await po_job(validation_db, validation, tokens) for _ in range(2)]
    # A job of each client for each delivery: the deliveries share no job, only the clients
    # whose invoices they match.
    a2, b2 = [await new_job(validation_db, FIELDS, MATCH, client_id=c.client_id) for c in (a, b)]
    items = {job.job_id: [new_id()] for job in (a, a2, b, b2)}

    def invoiced(job: JobCreated) -> TaskSubmitted:
        """An invoice of its own vendor (none a duplicate) billing 1 of the 10 ordered."""
        (item_id,) = items[job.job_id]
        lines = [{"sku": "A", "qty": 1, "unit_price": "5.00"}]
        return keying(job, item_id, {
            "vendor": f"acme {item_id}", "number": "INV-1", "po": "po-1", "dated": "2026-11-30",
            "total": "5.00", "lines": lines,
        })  # fmt: skip

    # The first delivery matches an invoice of client A, then one of B; the second one of B,
    # then one of A, a run later, while the first waits after its first run.
    await apply_crossed(
        validation_db,
        subscription,
        _wrapped(invoiced(a), _received(a, items), invoiced(b)),
        _wrapped(invoiced(b2), _received(b2, items), invoiced(a2)),
    )

    for (item_id,) in items.values():
        (decision,) = await published(validation_db, item_id)
        assert decision.type == "bpo.validation.item.accepted", decision.data
    async with validation_db() as session:
        billed = select(InvoicedLine.client_id, func.sum(InvoicedLine.quantity)).group_by(
            InvoicedLine.client_id
        )
        billed = billed.where(InvoicedLine.client_id.in_([a.client_id, b.client_id]))
        assert dict((await session.execute(billed)).all()) == {a.client_id: 2, b.client_id: 2}


async def test_a_keying_of_a_job_announced_meanwhile_takes_its_clients_matching_lock_first(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    (subscription,) = subscriptions(validation_settings, job_keys(validation_settings))
    known = await po_job(validation_db, validation, tokens)
    # A second job of the client, announced by another replica's delivery as this one starts.
    announced = known.model_copy(update={"job_id": new_id()})
    keyer, items = new_id(), [new_id(), new_id()]

    def invoiced(job: JobCreated, item_id: UUID) -> TaskSubmitted:
        lines = [{"sku": "A", "qty": 1, "unit_price": "5.00"}]
        return keying(job, item_id, {
            "vendor": f"acme {item_id}", "number": "INV-1", "po": "po-1", "dated": "2026-11-30",
            "total": "5.00", "lines": lines,
        }, contractor_id=keyer)  # fmt: skip

    async def applying(envelopes: list[Envelope]) -> None:
        async with validation_db() as session, session.begin():
            await apply(session, subscription, envelopes)

    async def waiting(n: int) -> None:
        query = text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )

        async def so_many() -> bool:
            async with validation_db() as session:
                return bool((await session.execute(query)).scalar_one() == n)

        await eventually(so_many, what=f"{n} transactions waiting for a lock")

    async with validation_db() as announcing, announcing.begin():
        await apply(announcing, subscription, [wrap(announced, source="intake")])
        # A keying of the job being announced waits for it, holding its keyer's name...
        first = asyncio.create_task(applying(_wrapped(invoiced(announced, items[0]))))
        await waiting(1)
        # ...and one of the same keyer, of the client's known job, waits for that.
        second = asyncio.create_task(applying(_wrapped(invoiced(known, items[1]))))
        await waiting(2)
    # The first matches its invoice, then the second: neither holds the client's matching lock
    # while waiting for the other (the second held it, and the first took it in its run).
    await asyncio.wait_for(asyncio.gather(first, second), timeout=30)

    for item_id in items:
        (decision,) = await published(validation_db, item_id)
        assert decision.type == "bpo.validation.item.accepted", decision.data
    async with validation_db() as session:
        billed = select(func.sum(InvoicedLine.quantity)).where(
            InvoicedLine.client_id == known.client_id
        )
        assert (await session.execute(billed)).scalar_one() == 2


def _received(job: JobCreated, items: dict[UUID, list[UUID]]) -> ItemsReceived:
    return ItemsReceived(
        job_id=job.job_id, client_id=job.client_id, work_type=job.work_type,
        items=[ReceivedItem(item_id=item_id, external_id=str(item_id), golden=False)
               for item_id in items[job.job_id]],
        received_at=datetime.now(UTC),
    )  # fmt: skip


def _wrapped(*events: TaskSubmitted | ItemsReceived) -> list[Envelope]:
    """The events as intake publishes them."""
    return [wrap(event, source="intake", client_id=event.client_id) for event in events]

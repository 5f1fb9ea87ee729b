"""Two replicas' consumers applying validation's decisions on items of the same two jobs, in
opposite orders, at the same time: both deliveries commit, the second after the first, and
every item is decided once."""

from datetime import UTC, datetime

import httpx

from bpo_common.contracts import validation
from bpo_common.db import SessionFactory
from bpo_common.events import Envelope, wrap
from bpo_devtools.testing import TestStack, Tokens, apply_crossed
from bpo_intake.consumers import subscriptions
from bpo_intake.domain.jobs import ItemStatus
from bpo_intake.settings import Settings

from .conftest import create_job, register_client, scan_items, stored_items


async def test_mixed_decisions_on_two_jobs_in_opposite_orders_both_commit(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, stack: TestStack
) -> None:
    (subscription,) = subscriptions(stack.settings(Settings, "intake"))
    client_id = await register_client(intake, tokens)
    jobs = [await create_job(intake, tokens, client_id, items=scan_items(2)) for _ in range(2)]
    one, two = [await stored_items(intake_db, job["id"]) for job in jobs]
    now = datetime.now(UTC)

    def accepted(n: int) -> validation.ItemAccepted:
        item = one[n]
        return validation.ItemAccepted(
            item_id=item.id, job_id=item.job_id, client_id=client_id,
            result={"invoice_number": f"INV-{n}", "total": "1"}, decided_at=now,
        )  # fmt: skip

    def rejected(n: int) -> validation.ItemRejected:
        item = two[n]
        return validation.ItemRejected(
            item_id=item.id, job_id=item.job_id, client_id=client_id, reason="unreadable",
            decided_at=now,
        )  # fmt: skip

    # Each delivery's first run holds its job while the other delivery's last run wants it.
    await apply_crossed(
        intake_db,
        subscription,
        _wrapped(accepted(0), rejected(0)),
        _wrapped(rejected(1), accepted(1)),
    )

    decided = [await stored_items(intake_db, job["id"]) for job in jobs]
    assert [[item.status for item in items] for items in decided] == [
        [ItemStatus.COMPLETED] * 2,
        [ItemStatus.REJECTED] * 2,
    ]
    assert [item.result for item in decided[0]] == [
        {"invoice_number": "INV-0", "total": "1"},
        {"invoice_number": "INV-1", "total": "1"},
    ]


def _wrapped(*decisions: validation.ItemAccepted | validation.ItemRejected) -> list[Envelope]:
    """The decisions as validation publishes them."""
    return [wrap(d, source="validation", client_id=d.client_id) for d in decisions]

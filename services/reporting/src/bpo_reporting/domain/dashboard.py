"""What the dashboard page shows: its bucket, its currency, and its charts' series."""

from collections.abc import Sequence
from typing import Any

from bpo_reporting.domain.buckets import Bucket
from bpo_reporting.schemas import ClientRow, ContractorRow, ThroughputBucket

# The charts label a client or contractor by the end of its id.
LABEL_LENGTH = 8
# The latest adaptive jobs whose delivered accuracy the page lists (the heading counts all).
ACCURACY_ROWS = 20


def bucket_for(days: int) -> Bucket:
    """Hours for up to a week, days beyond."""
    return Bucket.HOUR if days <= 7 else Bucket.DAY


def currency_shown(requested: str | None, present: Sequence[str]) -> str | None:
    """The currency asked for, else the first of the period's (the page offers the others)."""
    return requested or (present[0] if present else None)


def offered(present: Sequence[str], shown: str | None) -> list[str]:
    """The currencies the page offers to switch to: the period's, when one of them is not the
    one shown (a period link keeps the currency, which the new period may have nothing in)."""
    return list(present) if any(code != shown for code in present) else []


def active(throughput: Sequence[ThroughputBucket]) -> list[ThroughputBucket]:
    """The buckets the throughput and SLA charts show anything in: their text equivalent
    lists these (the others are all zeros)."""
    return [
        bucket
        for bucket in throughput
        if bucket.items_received
        or bucket.items_completed
        or bucket.jobs_sla_met
        or bucket.jobs_sla_missed
    ]


def charts(
    throughput: Sequence[ThroughputBucket],
    clients: Sequence[ClientRow],
    contractors: Sequence[ContractorRow],
) -> dict[str, dict[str, list[Any]]]:
    """The charts' series: throughput and SLA per bucket, backlog per client, accuracy (in
    per cent) per contractor."""
    return {
        "throughput": {
            "t": [int(bucket.start.timestamp()) for bucket in throughput],
            "received": [bucket.items_received for bucket in throughput],
            "completed": [bucket.items_completed for bucket in throughput],
            "sla_met": [bucket.jobs_sla_met for bucket in throughput],
            "sla_missed": [bucket.jobs_sla_missed for bucket in throughput],
        },
        "backlog": {
            "labels": [str(row.client_id)[-LABEL_LENGTH:] for row in clients],
            "values": [row.backlog for row in clients],
        },
        "accuracy": {
            "labels": [str(row.contractor_id)[-LABEL_LENGTH:] for row in contractors],
            "values": [
                None if row.accuracy is None else round(row.accuracy * 100, 1)
                for row in contractors
            ],
        },
    }

"""Answering intake's DataErased: a service records what it erased in its `erasure_record`
(bpo_common.tables) and tells intake with its ErasureDone, in the transaction of the erasure
itself (the consumer's), so that intake shows it erased only once it is. A service that keeps
values reads its records back to keep none of what arrives after its erasure."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from sqlalchemy import (
    ColumnElement,
    SQLColumnExpression,
    String,
    any_,
    bindparam,
    case,
    func,
    literal,
    or_,
    select,
    update,
)
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by, insert
from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import reasons
from bpo_common.contracts.erasure import ErasureDone
from bpo_common.contracts.intake import DataErased
from bpo_common.contracts.sealed import emptied, holds_sealed
from bpo_common.db import among
from bpo_common.events import Envelope
from bpo_common.outbox import publish
from bpo_common.tables import dead_letter, erasure_record


async def record_erased(
    session: AsyncSession,
    event: DataErased,
    done: type[ErasureDone],
    now: datetime | None = None,
) -> None:
    """Record that the service erased what `event` asked for, and announce it as `done`; an
    erasure recorded before (a replay of the stream) is not announced again."""
    now = now or utcnow()
    await forget_dead_letters(session, Erased.by(event.job_id, event.item_ids))
    item_ids = None if event.item_ids is None else [str(i) for i in event.item_ids]
    recorded = await session.execute(
        insert(erasure_record)
        .values(erasure_id=event.erasure_id, job_id=event.job_id, item_ids=item_ids, erased_at=now)
        .on_conflict_do_nothing()
        .returning(erasure_record.c.erasure_id)
    )
    if recorded.first() is None:
        return
    service = done.event_type.split(".")[1]
    answer = done.model_validate(
        {
            "erasure_id": event.erasure_id,
            "service": service,
            "job_id": event.job_id,
            "item_ids": event.item_ids,
            "erased_at": now,
        }
    )
    await publish(session, answer, client_id=event.client_id)


@dataclass(frozen=True)
class Erased:
    """What is erased: jobs erased whole, items erased alone."""

    jobs: frozenset[UUID]
    items: frozenset[UUID]

    @classmethod
    def by(cls, job_id: UUID, item_ids: Iterable[UUID] | None) -> "Erased":
        """What an erasure of the job (`item_ids` None) or of these of its items takes."""
        if item_ids is None:
            return cls(frozenset([job_id]), frozenset())
        return cls(frozenset(), frozenset(item_ids))

    @classmethod
    def of(cls, erasures: Iterable[tuple[UUID, Iterable[str] | None]]) -> "Erased":
        """What erasures took, each as (job id, its item ids as text; None: the whole job)."""
        jobs: set[UUID] = set()
        items: set[UUID] = set()
        for job_id, item_ids in erasures:
            if item_ids is None:
                jobs.add(job_id)
            else:
                items.update(UUID(i) for i in item_ids)
        return cls(frozenset(jobs), frozenset(items))

    def holds(self, job_id: UUID, item_id: UUID) -> bool:
        return job_id in self.jobs or item_id in self.items

    def in_event(self, envelope: Envelope) -> bool:
        """Whether the event carries sealed values of what is erased, its documents' names
        in clear (a TaskSubmitted from before they were sealed), or what a person typed about
        it or a reason quotes of its values."""
        job, item = _uuid(envelope.data.get("job_id")), _uuid(envelope.data.get("item_id"))
        named = envelope.data.get("documents")
        holds = (
            holds_sealed(envelope.data)
            or (isinstance(named, list) and bool(named))
            or _untyped(envelope.data) != envelope.data
        )
        return (job in self.jobs or item in self.items) and holds


def redacted(data: dict[str, Any]) -> dict[str, Any]:
    """An erased event's data as it is kept (on the stream, in a dead letter): its sealed
    values null, its documents' names too (a TaskSubmitted from before they were sealed has
    them in clear), and what a person typed about the item emptied (`_untyped`)."""
    kept: dict[str, Any] = emptied(data)
    return _untyped(kept | ({"documents": None} if "documents" in data else {}))


def untyped_reason(reason: SQLColumnExpression[Any]) -> ColumnElement[Any]:
    """A column's reason without what a person typed or a check quoted in it, cut part by
    part as reasons.untyped cuts it (`n` their order): a part that starts with fixed words
    keeps them alone; another stays while no part before it had words after its fixed words
    (`quoted`: null for the first part, none before it). None stays none, and "" stays ""
    (string_to_array makes no part of it, and string_agg none of no part)."""
    parts = (
        func.unnest(func.string_to_array(reason, reasons.AND))
        .table_valued("part", with_ordinality="n")
        .render_derived()
    )
    head = func.split_part(parts.c.part, reasons.SEPARATOR, 1)
    fixed = case(
        (func.starts_with(parts.c.part, reasons.MATCHED), literal(reasons.MATCHED)),
        (head.in_(sorted(reasons.FIXED)), head),
    )
    cut = select(
        parts.c.part,
        parts.c.n,
        fixed.label("fixed"),
        func.bool_or(fixed != parts.c.part)
        .over(order_by=parts.c.n, rows=(None, -1))
        .label("quoted"),
    ).subquery()
    kept = select(
        func.string_agg(
            func.coalesce(cut.c.fixed, cut.c.part),
            aggregate_order_by(literal(reasons.AND), cut.c.n),
        )
    ).where(or_(cut.c.fixed.is_not(None), cut.c.quoted.is_not(True)))
    return func.coalesce(kept.scalar_subquery(), reason)


def _untyped(data: dict[str, Any]) -> dict[str, Any]:
    """The event's data without what a person typed about the item (contracts.erasure's
    TYPED_EVENTS): a keyer's or reviewer's `rejection` and an entry's `unreadable` become ""
    (the item was still marked unreadable, or rejected: a consumer reads it so), a `reason`
    keeps its fixed words (ERASED_REASON, which tells an erasure's rejection, is all fixed)."""
    kept = dict(data)
    if isinstance(data.get("rejection"), str):
        kept["rejection"] = ""
    if isinstance(data.get("reason"), str):
        kept["reason"] = reasons.untyped(data["reason"])
    entries = data.get("entries")
    if isinstance(entries, list):
        kept["entries"] = [
            entry | {"unreadable": ""}
            if isinstance(entry, dict) and isinstance(entry.get("unreadable"), str)
            else entry
            for entry in entries
        ]
    return kept


def _uuid(value: object) -> UUID | None:
    """An id as an event gives it; None for anything else (a dead letter may hold anything)."""
    try:
        return UUID(value) if isinstance(value, str) else None
    except ValueError:
        return None


async def erased_of(session: AsyncSession, job_ids: Iterable[UUID]) -> Erased:
    """What the service erased of these jobs."""
    query = select(erasure_record.c.job_id, erasure_record.c.item_ids).where(
        among(erasure_record.c.job_id, set(job_ids))
    )
    return Erased.of((job_id, item_ids) for job_id, item_ids in await session.execute(query))


async def forget_dead_letters(session: AsyncSession, erased: Erased) -> None:
    """Empty the sealed values of the service's dead letters of what is erased, as the stream's
    copies are emptied; their error keeps the exception's name only, as its text may quote a
    value."""
    needles = [f"%{i}%" for i in sorted(erased.jobs | erased.items)]
    text = func.encode(dead_letter.c.payload, "escape")
    query = select(dead_letter.c.id, dead_letter.c.payload, dead_letter.c.error).where(
        text.like(any_(bindparam(None, needles, type_=ARRAY(String()))))
    )
    for letter_id, payload, error in (await session.execute(query)).all():
        try:
            envelope = Envelope.model_validate_json(payload)
        except ValidationError:
            continue  # not an event: nothing of a job's in it
        if not erased.in_event(envelope):
            continue
        copy = envelope.model_copy(update={"data": redacted(envelope.data)})
        await session.execute(
            update(dead_letter)
            .where(dead_letter.c.id == letter_id)
            .values(payload=copy.model_dump_json().encode(), error=error.split("(", 1)[0])
        )

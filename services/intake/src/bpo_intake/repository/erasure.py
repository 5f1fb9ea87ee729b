"""Queries of erasure: emptying what intake keeps of a job's or its items' values, the
erasures asked for and what each service answered, and the jobs retention has run out for."""

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    DateTime,
    Integer,
    String,
    case,
    cast,
    func,
    literal,
    null,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute, aliased

from bpo_common.erasure import untyped_reason
from bpo_intake.domain.jobs import FINAL, ItemStatus, JobStatus
from bpo_intake.models import (
    Client,
    Document,
    Erasure,
    Item,
    Job,
    Task,
    WebhookDelivery,
)
from bpo_intake.repository import is_a_set, is_erased, job_ended

SERVICES = ("intake", "validation", "billing", "reporting")


def _json(value: object) -> ColumnElement[Any]:
    return literal(value, JSONB)


def _emptied(column: QueryableAttribute[Any], empty: object) -> ColumnElement[Any]:
    """`empty` in place of a value, none (SQL or JSON null) staying none: whether there was one
    is no value, and says what the row is (a control item, a submitted task)."""
    none = func.coalesce(func.jsonb_typeof(column), "null") == "null"
    return case((none, column), else_=_json(empty))


def _of(
    job: QueryableAttribute[UUID],
    item: QueryableAttribute[UUID],
    job_id: UUID,
    ids: Sequence[UUID] | None,
) -> ColumnElement[bool]:
    """The job's rows, or those of these of its items."""
    return job == job_id if ids is None else (job == job_id) & item.in_(ids)


async def erase_values(
    session: AsyncSession, job_id: UUID, item_ids: Sequence[UUID] | None
) -> list[UUID]:
    """Empty the items' source, golden answer, result, suggestions and exception reasons,
    their tasks' data, entries and what their reasons quote of what people typed, and the
    payloads of their webhooks; ids, statuses, counts and times stay. Returns the documents
    the items were keyed from."""
    documents = await session.execute(
        update(Item)
        .where(_of(Item.job_id, Item.id, job_id, item_ids))
        .values(
            source=_json({}),
            golden=_emptied(Item.golden, {}),
            result=_emptied(Item.result, {}),
            suggestions=null(),
            exception_reasons=_emptied(Item.exception_reasons, []),
            # Never extracted again nor learned from: its documents go, its values are gone.
            layout_id=null(),
            extracted_at=func.coalesce(Item.extracted_at, func.now()),
            learn_pending=False,
        )
        .returning(Item.documents)
    )
    await session.execute(
        update(Task)
        .where(_of(Task.job_id, Task.item_id, job_id, item_ids))
        .values(
            data=_emptied(Task.data, {}),
            entries=_emptied(Task.entries, []),
            reason=untyped_reason(Task.reason),
        )
    )
    data = WebhookDelivery.payload["data"]
    ids_only = func.jsonb_strip_nulls(
        func.jsonb_build_object(
            "job_id", data["job_id"], "item_id", data["item_id"], "erased", True
        )
    )
    # A job's own webhooks (job.completed) carry counts, no value.
    of_webhook = (
        (data["job_id"].astext == str(job_id)) & data.has_key("item_id")
        if item_ids is None
        else data["item_id"].astext.in_([str(i) for i in item_ids])
    )
    await session.execute(
        update(WebhookDelivery)
        .where(of_webhook)
        .values(payload=WebhookDelivery.payload.op("||")(func.jsonb_build_object("data", ids_only)))
    )
    erased = {d for (ids,) in documents for d in ids}
    if item_ids is not None and erased:
        # A document the job's other items are keyed from stays theirs (but for controls
        # copied from these items, erased with them, and items erased before, which keep
        # their documents' ids); one of another job (which a control copied from there is
        # keyed from) is that job's.
        others = select(func.unnest(Item.documents)).where(
            Item.job_id == job_id,
            Item.id.not_in(item_ids),
            or_(Item.control_of.is_(None), Item.control_of.not_in(item_ids)),
            ~is_erased(),
        )
        erased -= set((await session.execute(others)).scalars())
        own = select(Document.id).where(Document.id.in_(erased), Document.job_id == job_id)
        erased = set((await session.execute(own)).scalars())
    return sorted(erased)


async def copies_of(
    session: AsyncSession, job_id: UUID, item_ids: Sequence[UUID] | None
) -> dict[UUID, list[UUID]]:
    """The controls copied from the job's items (or these of them) that this erasure does not
    cover already, by the job they were injected into."""
    original = aliased(Item)
    copied = select(original.id).where(_of(original.job_id, original.id, job_id, item_ids))
    query = (
        select(Item.job_id, Item.id)
        .where(Item.control_of.in_(copied), ~_of(Item.job_id, Item.id, job_id, item_ids))
        .order_by(Item.job_id, Item.id)
    )
    found: dict[UUID, list[UUID]] = {}
    for copy_job_id, copy_id in await session.execute(query):
        found.setdefault(copy_job_id, []).append(copy_id)
    return found


async def job_documents(session: AsyncSession, job_id: UUID) -> list[UUID]:
    query = select(Document.id).where(Document.job_id == job_id)
    return list((await session.execute(query)).scalars())


async def forget_document_names(session: AsyncSession, document_ids: Sequence[UUID]) -> None:
    """The documents' file names (a name may be personal) replaced by their ids: unique in
    their job as the names were, and what an item's `documents` accepts for them. A document
    another of its job is named after (uploads refuse such names now) keeps its name rather
    than fail the erasure on the unique name."""
    named_after = aliased(Document)
    taken = (
        select(named_after.id)
        .where(
            named_after.job_id == Document.job_id,
            named_after.filename == cast(Document.id, String),
        )
        .exists()
    )
    await session.execute(
        update(Document)
        .where(Document.id.in_(document_ids), ~taken)
        .values(filename=cast(Document.id, String))
    )


async def documents_for_update(
    session: AsyncSession, document_ids: Sequence[UUID]
) -> list[Document]:
    """The documents not deleted yet, locked."""
    query = (
        select(Document)
        .where(Document.id.in_(document_ids), Document.deleted_at.is_(None))
        .order_by(Document.id)
        .with_for_update()
    )
    return list((await session.execute(query)).scalars())


async def delete_data_key(session: AsyncSession, job_id: UUID) -> None:
    await session.execute(update(Job).where(Job.id == job_id).values(data_key=None))


async def add_erasure(session: AsyncSession, erasure: Erasure) -> None:
    session.add(erasure)
    await session.flush()


async def erased_before(
    session: AsyncSession, job_id: UUID, item_ids: Sequence[UUID] | None
) -> bool:
    """Whether an earlier erasure took the whole job, or (items) every one of these."""
    query = select(Erasure.item_ids).where(Erasure.job_id == job_id)
    done = list((await session.execute(query)).scalars())
    if any(ids is None for ids in done):
        return True
    if item_ids is None:
        return False
    erased = {i for ids in done if ids for i in ids}
    return {str(i) for i in item_ids} <= erased


async def unfinished_items(
    session: AsyncSession,
    job_id: UUID,
    item_ids: Sequence[UUID] | None,
    only: ItemStatus | None = None,
) -> list[UUID]:
    """The job's items (or these of them) without an outcome yet (those in status `only`, if
    given), control copies aside (none of the client's work, no job waits for them)."""
    query = select(Item.id).where(
        _of(Item.job_id, Item.id, job_id, item_ids),
        Item.status.not_in(FINAL) if only is None else Item.status == only,
        Item.control_of.is_(None),
    )
    return list((await session.execute(query.order_by(Item.id))).scalars())


async def latest_erasure(session: AsyncSession, job_id: UUID) -> Erasure | None:
    query = (
        select(Erasure)
        .where(Erasure.job_id == job_id)
        .order_by(Erasure.item_ids.is_(None).desc(), Erasure.requested_at.desc())
        .limit(1)
    )
    return (await session.execute(query)).scalar_one_or_none()


async def set_erased_at(
    session: AsyncSession, erasure_id: UUID, service: str, erased_at: datetime
) -> None:
    if service not in SERVICES:
        raise ValueError(f"no service {service}")
    column = getattr(Erasure, f"{service}_erased_at")
    await session.execute(
        update(Erasure)
        .where(Erasure.id == erasure_id, column.is_(None))
        .values({column: erased_at})
    )


async def claim_for_the_stream(session: AsyncSession, limit: int, held_s: float) -> list[Erasure]:
    """Claim for this pass, for `held_s` seconds, erasures every service has done but whose
    events on the stream still hold values, oldest first, passing over those another pass
    holds (its claim not run out, or their rows locked). The claim is in the rows, to be
    committed before the stream is read: no transaction stays open, and no row held, for the
    read. All share one `stream_claimed_until`, which names the claim."""
    done = [getattr(Erasure, f"{service}_erased_at").is_not(None) for service in SERVICES]
    due = (
        select(Erasure.id)
        .where(*done, Erasure.stream_erased_at.is_(None), _unclaimed())
        .order_by(Erasure.requested_at)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    claimed = (
        update(Erasure)
        .where(Erasure.id.in_(due.scalar_subquery()))
        .values(stream_claimed_until=func.now() + timedelta(seconds=held_s))
        .returning(Erasure)
        .execution_options(synchronize_session=False)
    )
    return list((await session.execute(claimed)).scalars())


def _unclaimed() -> ColumnElement[bool]:
    """No pass holds the erasure: none claimed it, or its claim ran out."""
    return or_(Erasure.stream_claimed_until.is_(None), Erasure.stream_claimed_until < func.now())


# How long a claim's renewal or release waits for a row another transaction holds.
STREAM_LOCK_WAIT = "5s"


async def renew_stream_claim(
    session: AsyncSession, erasure_ids: Collection[UUID], until: datetime, held_s: float
) -> datetime | None:
    """Hold the erasures of the claim `until` names for `held_s` seconds more: when the claim
    now runs out, or None, nothing renewed, when this pass no longer holds every one of them
    (its claim ran out and another pass took one). Their rows are held while it looks."""
    await _wait_briefly_for_locks(session)
    named = Erasure.id.in_(erasure_ids), Erasure.stream_claimed_until == until
    held = await session.execute(select(Erasure.id).where(*named).with_for_update())
    if len(held.all()) != len(erasure_ids):
        return None
    renewed = await session.execute(
        update(Erasure)
        .where(*named)
        .values(stream_claimed_until=func.now() + timedelta(seconds=held_s))
        .returning(Erasure.stream_claimed_until)
    )
    return renewed.scalars().first()


async def release_stream_claim(
    session: AsyncSession,
    erasure_ids: Collection[UUID],
    until: datetime,
    done: Collection[UUID],
    erased_at: datetime,
) -> None:
    """Let go of the claim `until` names, the erasures in `done` set as emptied from the
    stream at `erased_at`; the others may be taken again at once. An erasure this pass no
    longer holds (its claim ran out, another pass took it) is left to that pass."""
    await _wait_briefly_for_locks(session)
    await session.execute(
        update(Erasure)
        .where(Erasure.id.in_(erasure_ids), Erasure.stream_claimed_until == until)
        .values(
            stream_claimed_until=None,
            stream_erased_at=case(
                (Erasure.id.in_(done), erased_at), else_=Erasure.stream_erased_at
            ),
        )
    )


async def _wait_briefly_for_locks(session: AsyncSession) -> None:
    """Fail, rather than wait, on rows another transaction holds past STREAM_LOCK_WAIT: a
    pass of the last release (which knows no claims) locks the erasures it reads for its
    whole read, and a renewal or release waiting on it would stall this pass as long; failed,
    the renewal is tried again, and a release's claim runs out."""
    await session.execute(text(f"SET LOCAL lock_timeout = '{STREAM_LOCK_WAIT}'"))


async def jobs_past_retention(
    session: AsyncSession,
    now: datetime,
    default_days: int,
    limit: int,
    passed_over: Collection[UUID] = (),
) -> list[tuple[UUID, UUID]]:
    """(job, client) of jobs that completed or were cancelled longer ago than their client's
    retention (else `default_days`; 0: kept) and were not erased whole yet, but those
    `passed_over` and a qualification's set (kept while it is one, as its documents are);
    locked, others' skipped."""
    ended = job_ended()
    days = func.coalesce(Client.retention_days, literal(default_days, Integer))
    erased = select(Erasure.id).where(Erasure.job_id == Job.id, Erasure.item_ids.is_(None))
    query = (
        select(Job.id, Job.client_id)
        .join(Client, Client.id == Job.client_id)
        .where(
            Job.status.in_([JobStatus.COMPLETED, JobStatus.CANCELLED]),
            days > 0,
            ended < literal(now, DateTime(timezone=True)) - func.make_interval(0, 0, 0, days),
            ~erased.exists(),
            ~is_a_set(Job.id),
            Job.id.not_in(list(passed_over)),
        )
        .order_by(Job.id)
        .limit(limit)
        .with_for_update(of=Job, skip_locked=True)
    )
    return [(job_id, client_id) for job_id, client_id in await session.execute(query)]


async def set_retention(session: AsyncSession, client_id: UUID, days: int | None) -> bool:
    result = await session.execute(
        update(Client).where(Client.id == client_id).values(retention_days=days)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def job_of_item(
    session: AsyncSession, item_id: UUID, scope: UUID | None
) -> tuple[UUID, UUID] | None:
    """(job, client) of the item, if the caller's scope holds it."""
    query = select(Item.job_id, Item.client_id).where(Item.id == item_id)
    if scope is not None:
        query = query.where(Item.client_id == scope)
    row = (await session.execute(query)).one_or_none()
    return None if row is None else (row[0], row[1])


async def lock_job(session: AsyncSession, job_id: UUID, scope: UUID | None) -> Job | None:
    """The job, locked (two erasures of it, or its erasure and retention, one after the other),
    if the caller's scope holds it."""
    query = select(Job).where(Job.id == job_id)
    if scope is not None:
        query = query.where(Job.client_id == scope)
    return (await session.execute(query.with_for_update())).scalar_one_or_none()


async def job_of(session: AsyncSession, job_id: UUID, scope: UUID | None) -> UUID | None:
    query = select(Job.id).where(Job.id == job_id)
    if scope is not None:
        query = query.where(Job.client_id == scope)
    return (await session.execute(query)).scalar_one_or_none()

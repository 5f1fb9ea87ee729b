"""Items in and results out, and items flagged for a manager.

Appending feeds the body to its parser as it arrives, checks each row, and stores rows in
batches of BATCH_SIZE inside the request's one transaction, so memory stays bounded whatever
the size of the body. A bad row makes the whole request a 422 naming the row
(`line 17: golden.total`, `items[16].golden.total`), and the rollback takes back the batches
already stored.

Results are read from a server-side cursor, in a session of their own, as they are sent.

Personal values (`pii` fields) are stored sealed with the job's data key; items and results
show them opened to a reader who may see them (`personal`: the client, a manager with the pii
scope), masked to anyone else.
"""

from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import QcMode, QcPolicy, TaskKind
from bpo_common.crypto import DataKey, DataKeys
from bpo_common.db import SessionFactory, advisory_lock
from bpo_common.errors import Conflict, FieldError, Invalid, NotFound
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.rules import FieldType, JobSpec, Reader
from bpo_intake.domain.item_bodies import ItemsParser, Row
from bpo_intake.domain.items import ItemIn, Place, checked_row
from bpo_intake.domain.jobs import ITEMS_PER_EVENT, ItemStatus, JobStatus
from bpo_intake.domain.results import ResultRow
from bpo_intake.domain.tasks import new_task, skills_for
from bpo_intake.models import Item, Job
from bpo_intake.repository import documents as documents_repository
from bpo_intake.repository import items as repository
from bpo_intake.repository import jobs as jobs_repository
from bpo_intake.repository import qualifications as qualifications_repository
from bpo_intake.repository import tasks as tasks_repository
from bpo_intake.schemas import DocumentName, ItemOut, OpenException
from bpo_intake.service import documents, jobs
from bpo_intake.service.keys import key_of_job, keys_to_read

# One ItemsReceived event per stored batch.
BATCH_SIZE = ITEMS_PER_EVENT
# Past this many bad rows the rest of the body is read but no longer checked.
MAX_ERRORS = 100
RESULTS_PER_FETCH = 1000

# How a body is read: a parser of the job's items (domain.item_bodies).
ParserFor = Callable[[JobSpec], ItemsParser]
# Told how many items were read; may refuse more by raising.
Count = Callable[[int], None]


def _uncounted(items: int) -> None:
    return None


async def append_items(
    session: AsyncSession,
    job_id: UUID,
    client_id: UUID,
    parser: ParserFor,
    chunks: AsyncIterator[bytes],
    keys: DataKeys,
    count: Count = _uncounted,
) -> int:
    """Add every item of a streamed body to the client's open job, or none (a body with none
    is Invalid); returns how many. `count` is told how many rows each chunk held as it is
    parsed, and may refuse by raising (the caller's rate limit). What it leaves of `chunks`
    unread is for the caller to drain."""
    job = await repository.lock_job_for_items(session, job_id, client_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    # Shared with other uploads, against a qualification being put for the work type, whose
    # update of its jobs' tasks would not see these: the job read again once it is held.
    await advisory_lock(session, qualifications_repository.lock_name(job.work_type), shared=True)
    await repository.read_again(session, job)
    if job.status is not JobStatus.OPEN:
        raise Conflict(
            f"job {job_id} is {job.status.value}; items can be added only while a job is open"
        )
    spec = jobs.job_spec(job)
    key = await key_of_job(session, keys, job.id, job.data_key)
    stored = await _store(session, job, spec, key, _rows(parser(spec), chunks, count))
    if not stored:
        # Sending nothing is a client's mistake (a file cut short, a filter that left nothing).
        raise Invalid(
            "nothing was stored: the body holds no item; send at least one",
            errors=[FieldError("body", "holds no item")],
        )
    await jobs.after_append(session, stored)
    return stored


async def _rows(
    parser: ItemsParser, chunks: AsyncIterator[bytes], count: Count
) -> AsyncGenerator[Row, None]:
    async for chunk in chunks:
        rows = parser.feed(chunk)
        count(len(rows))
        for row in rows:
            yield row
        if parser.done:
            return
    rows = parser.end()
    count(len(rows))
    for row in rows:
        yield row


async def _store(
    session: AsyncSession, job: Job, spec: JobSpec, key: DataKey, rows: AsyncGenerator[Row, None]
) -> int:
    verify = QcPolicy.model_validate(job.qc).mode is QcMode.VERIFY
    # Each row by its number in the body: a batch's unknown documents are found only when it
    # is flushed, after later rows' own problems, and the problems are named in body order.
    batch: list[tuple[int, Place, ItemIn]] = []
    errors: list[tuple[int, Place, FieldError]] = []
    stored = 0

    async def flush() -> None:
        """Store the batch, its documents resolved; or only name the bad references."""
        nonlocal stored
        refs = [item.documents for _, _, item in batch]
        resolved, unknown = await documents.resolve(session, job.id, refs)
        for position, error in unknown[:MAX_ERRORS]:
            number, place, _ = batch[position]
            errors.append((number, place, FieldError(place.name(error.field), error.message)))
        if not errors:
            items = [item for _, _, item in batch]
            stored += await jobs.add_items(session, job, items, key, resolved)
        batch.clear()

    async with aclosing(rows):
        number = 0
        async for place, parsed in rows:
            number += 1
            row = checked_row(spec, parsed, verify=verify)
            if isinstance(row, list):
                errors += [(number, place, FieldError(place.name(p.field), p.message)) for p in row]
                if len(errors) >= MAX_ERRORS:
                    break
            else:
                batch.append((number, place, row))
                if len(batch) == BATCH_SIZE:
                    await flush()
                    if len(errors) >= MAX_ERRORS:
                        break
    if batch:
        await flush()
    if errors:
        errors.sort(key=lambda found: found[0])  # stable: a row's problems keep their order
        first_bad = errors[0][1]
        raise Invalid(
            f"nothing was stored: the first problem is at {first_bad.label}",
            errors=[error for _, _, error in errors[:MAX_ERRORS]],
        )
    return stored


async def _readers(
    session: AsyncSession, jobs_of: Sequence[Job], keys: DataKeys, *, personal: bool
) -> dict[UUID, Reader]:
    """How a reader sees each job's values: personal ones opened if they may see them
    (`personal`), masked if not (a pii table opened all the same, to keep its rows masked
    cell by cell)."""
    specs = {job.id: jobs.job_spec(job).personal for job in jobs_of}
    wanted = {
        job.id: job.data_key
        for job in jobs_of
        if specs[job.id].tables or (personal and specs[job.id])
    }
    found = await keys_to_read(session, keys, wanted)
    return {job.id: specs[job.id].reader(found.get(job.id), clear=personal) for job in jobs_of}


async def _view(
    session: AsyncSession, items: Sequence[Item], keys: DataKeys, *, personal: bool
) -> Callable[[Item], ItemOut]:
    """How the items are shown, their documents named and their personal values opened or
    masked (one read for all of them)."""
    wanted = {document_id for item in items for document_id in item.documents}
    names = await documents_repository.filenames(session, wanted) if wanted else {}
    jobs_of = await jobs_repository.jobs_by_id(session, {item.job_id for item in items})
    shown = await _readers(session, list(jobs_of.values()), keys, personal=personal)

    def view(item: Item) -> ItemOut:
        reader = shown[item.job_id]
        return ItemOut(
            id=item.id,
            job_id=item.job_id,
            external_id=item.external_id,
            status=item.status,
            source=reader.record(item.source),
            documents=[
                DocumentName(id=document_id, filename=names[document_id])
                for document_id in item.documents
            ],
            result=item.result and reader.record(item.result),
            flagged_reason=item.flagged_reason,
            exception=_open_exception(item),
            completed_at=item.completed_at,
            layout_id=item.layout_id,
            suggestions={
                name: {**suggestion, "value": reader.value(name, suggestion.get("value"))}
                for name, suggestion in (item.suggestions or {}).items()
            },
        )

    return view


def _open_exception(item: Item) -> OpenException | None:
    if item.status is not ItemStatus.EXCEPTION or item.exception_id is None:
        return None
    return OpenException(id=item.exception_id, reasons=item.exception_reasons or [])


async def list_items(
    session: AsyncSession,
    job_id: UUID,
    scope: UUID | None,
    status: ItemStatus | None,
    page: PageRequest,
    keys: DataKeys,
    *,
    personal: bool,
) -> Page[ItemOut]:
    job = await jobs.get_job(session, job_id, scope)
    items = await repository.list_items(session, job.id, status, page)
    return make_page(items, page, await _view(session, items, keys, personal=personal))


@dataclass(frozen=True)
class Results:
    """A job's results: its field names, and its completed items in batches, read as they
    are iterated."""

    job_id: UUID
    fields: Sequence[str]
    documents: bool  # whether the job has any
    # Their personal values opened or masked, as the reader may see them.
    rows: AsyncIterator[Sequence[ResultRow]]
    # The table fields and their columns, which CSV spreads over a row per table row.
    tables: Mapping[str, Sequence[str]]


async def results(
    session: AsyncSession,
    sessions: SessionFactory,
    job_id: UUID,
    scope: UUID | None,
    keys: DataKeys,
    *,
    personal: bool,
) -> Results:
    """The final data of every completed item of a job, to be streamed; personal values
    opened for a reader who may see them (`personal`), masked for anyone else.

    The rows are read when they are iterated, in a session of their own: the request's
    session is closed by then.
    """
    job = await jobs.get_job(session, job_id, scope)
    reader = (await _readers(session, [job], keys, personal=personal))[job.id]
    specs = jobs.job_spec(job).fields
    tables = {
        spec.name: [column.name for column in spec.columns or ()]
        for spec in specs
        if spec.type is FieldType.TABLE
    }
    documents = await repository.has_documents(session, job.id)
    fields = [spec.name for spec in specs]
    return Results(job.id, fields, documents, _completed(sessions, job.id, reader), tables)


async def _completed(
    sessions: SessionFactory, job_id: UUID, reader: Reader
) -> AsyncIterator[Sequence[ResultRow]]:
    async with sessions() as session, session.begin():
        async for rows in repository.completed_results(session, job_id, RESULTS_PER_FETCH):
            if not reader.personal:
                yield rows
                continue
            yield [
                (item_id, external_id, result and reader.record(result), completed_at, names)
                for item_id, external_id, result, completed_at, names in rows
            ]


async def flagged_items(
    session: AsyncSession, page: PageRequest, keys: DataKeys, *, personal: bool
) -> Page[ItemOut]:
    items = await repository.flagged_items(session, page)
    return make_page(items, page, await _view(session, items, keys, personal=personal))


async def requeue_item(
    session: AsyncSession, item_id: UUID, keys: DataKeys, *, personal: bool
) -> ItemOut:
    """A manager clears an item's flag. Each task of it given up on (its lease kept expiring)
    is made afresh (a second keying of the same fields, a review of the same entries),
    whatever other task of the item is open (the other keying of a double keying), with the
    skills the job asks for now; an item with neither gets an entry task, unless it has been
    keyed (it waits on validation, a review or its exception: its flag only goes). One whose
    task nobody could take keeps it (the manager has found someone)."""
    # The job locked first, then the item, then its tasks, as an erasure locks them (the
    # other order deadlocked with one); the job against a cancel too, whose withdrawal of
    # tasks would not see a task added meanwhile.
    job_id = (await repository.jobs_of_items(session, [item_id])).get(item_id)
    job = None if job_id is None else await repository.lock_job_for_items(session, job_id, None)
    item = None if job is None else await repository.get_item_for_update(session, item_id)
    if item is None or job is None:
        raise NotFound(f"no item {item_id}")
    if item.flagged_reason is None:
        raise Conflict("this item is not flagged; it is still in the normal flow")
    if job.status is JobStatus.CANCELLED:
        raise Conflict("the item's job is cancelled")
    item.flagged_reason = None
    now = utcnow()
    given_up = await tasks_repository.given_up_tasks(session, item.id)
    afresh = [
        new_task(
            job,
            item.id,
            task.kind,
            now,
            required_skills=skills_for(task.kind, job.required_skills),
            entries=task.entries,
            differing=task.differing,
            reason=task.reason,
            rekey=task.rekey,
            keyed_fields=task.keyed_fields,
        )
        for task in given_up
    ]
    for task in given_up:
        task.requeued_at = now
    if (
        not afresh
        and not await tasks_repository.has_open_task(session, item.id)
        and await tasks_repository.count_entry_tasks(session, item.id) == 0
    ):
        # Nobody keyed it, nor is anyone about to (another entry task of an item keyed since
        # its flag had it keyed, paid and decided again).
        afresh = [new_task(job, item.id, TaskKind.ENTRY, now)]
    if afresh:
        await tasks_repository.add_tasks(session, afresh)
    return (await _view(session, [item], keys, personal=personal))(item)

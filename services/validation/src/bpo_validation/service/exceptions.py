"""Use cases of match exceptions: matching an invoice its keyings would accept against the
client's purchase order and receipts, opening an exception when it does not match, and the
client's accounts payable resolving it (accept, reject, or correct with data).

An exception keeps the invoice with its personal values sealed (a match reads none of them),
and shows them opened to a reader who may see them, masked to anyone else."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.auth import Principal, Role, shows_personal_data
from bpo_common.clock import utcnow
from bpo_common.contracts import ExceptionAction, reasons, validation
from bpo_common.contracts.intake import JobCreated, TaskSubmitted
from bpo_common.contracts.sealed import too_large
from bpo_common.crypto import DataKey
from bpo_common.errors import Conflict, FieldError, Invalid, NotFound
from bpo_common.events import Envelope, Event
from bpo_common.ids import new_id
from bpo_common.outbox import publish_each
from bpo_common.pagination import Page, PageRequest, make_page
from bpo_common.rules import JobSpec, Personal, Reader, check
from bpo_validation.domain import matching
from bpo_validation.domain.duplicates import duplicates, invoice_of
from bpo_validation.domain.matching import ExceptionStatus, Found, InvoiceMatch
from bpo_validation.domain.reference import LookupResult, Wanted, reference_key
from bpo_validation.domain.verdicts import Outcome
from bpo_validation.models import Decision, Entry, MatchException
from bpo_validation.repository import decisions as decision_rows
from bpo_validation.repository import exceptions as repository
from bpo_validation.repository import jobs as job_rules
from bpo_validation.repository import quality as scores
from bpo_validation.repository import reference
from bpo_validation.repository.erasure import ERASURE
from bpo_validation.schemas import ExceptionOut, ExceptionResolve
from bpo_validation.service.entries import Rules
from bpo_validation.service.keys import JobKeys
from bpo_validation.service.quality import scored

LookUp = Callable[[UUID, Wanted], Awaitable[LookupResult]]


async def match(
    session: AsyncSession,
    spec: JobSpec,
    client_id: UUID,
    item_id: UUID,
    result: dict[str, object],
    look_up: LookUp,
) -> InvoiceMatch:
    """The invoice matched against its order, receipts and the client's other invoices; what
    it bills is remembered for the invoices after it. The caller holds the client's matching
    lock (repository.decisions.lock_items' `matching`), taken with its others."""
    rule = spec.match
    assert rule is not None, "only a job with a match rule matches invoices"
    number = matching.order_number(rule, result)
    order_key = None if number is None else reference_key(number)
    order = (
        LookupResult(True)
        if order_key is None
        else await look_up(client_id, Wanted(rule.orders, order_key))
    )
    receipts: Sequence[dict[str, object]] | None = None
    receipts_exist = True
    if rule.receipts is not None and order_key is not None:
        assert number is not None
        receipts = await repository.receipts_of_order(
            session, client_id, rule.receipts.dataset, rule.receipts.order_column, number
        )
        receipts_exist = receipts is not None
    billed = None if order_key is None else f"{rule.orders}:{order_key}"
    before = (
        {}
        if billed is None
        else await repository.invoiced_before(session, client_id, billed, item_id)
    )
    invoice = None if rule.duplicates is None else invoice_of(rule.duplicates, item_id, result)
    copies: list[str] = []
    if invoice is not None and rule.duplicates is not None:
        others = await repository.invoices_of_vendor(session, client_id, invoice.vendor)
        copies = duplicates(rule.duplicates, invoice, others)
    found = Found(
        order, (receipts or []) if rule.receipts else None, before, copies, receipts_exist
    )
    outcome = matching.match_invoice(
        rule, spec.field(rule.table), result, found, written=spec.source.field(rule.table)
    )
    await repository.remember_invoice(
        session, client_id, item_id, billed, outcome.invoiced_lines(), invoice
    )
    return outcome


async def matching_locks(session: AsyncSession, envelopes: Sequence[Envelope]) -> set[str]:
    """The matching locks a delivery's keyings may take, those of the clients of their jobs
    that match invoices: the consumer takes them before its first run, once it holds its
    jobs' names (bpo_common.inbox.apply), so a job another replica is announcing is read
    here as the runs will read it. Taken by each run as it came to it, two deliveries
    matching invoices of clients A and B, a run apart and in opposite orders, deadlocked."""
    keyed = {UUID(e.data["job_id"]) for e in envelopes if e.type == TaskSubmitted.event_type}
    if not keyed:
        return set()
    clients = await job_rules.clients_matching(session, keyed)
    # A job announced in the same delivery is not stored yet.
    clients.update(
        UUID(e.data["client_id"])
        for e in envelopes
        if e.type == JobCreated.event_type
        and e.data.get("match")
        and UUID(e.data["job_id"]) in keyed
    )
    return {decision_rows.matching_lock(client_id) for client_id in clients}


def opened(
    entry: Entry, result: dict[str, object], invoice: InvoiceMatch, now: datetime
) -> MatchException:
    return MatchException(
        id=new_id(),
        item_id=entry.item_id,
        job_id=entry.job_id,
        client_id=entry.client_id,
        status=ExceptionStatus.OPEN,
        outcome=invoice.outcome,
        reasons=invoice.reasons,
        lines=[line.as_json() for line in invoice.lines],
        result=result,
        opened_at=now,
    )


def opened_event(exception: MatchException, key: DataKey) -> validation.ExceptionOpened:
    """The event of an opened exception: what it quotes of the invoice sealed."""
    return validation.ExceptionOpened(
        exception_id=exception.id,
        item_id=exception.item_id,
        job_id=exception.job_id,
        client_id=exception.client_id,
        outcome=exception.outcome.value,
        reasons=key.seal(exception.reasons),
        lines=key.seal(exception.lines),
        opened_at=exception.opened_at,
    )


def add(session: AsyncSession, exceptions: Sequence[MatchException]) -> None:
    for exception in exceptions:
        repository.add_exception(session, exception)


async def list_exceptions(
    session: AsyncSession,
    scope: UUID | None,
    status: ExceptionStatus | None,
    job_id: UUID | None,
    page: PageRequest,
    keys: JobKeys,
    *,
    personal: bool,
) -> Page[ExceptionOut]:
    rows = await repository.list_exceptions(session, scope, status, job_id, page)
    shown = await _readers(session, {row.job_id for row in rows}, keys, personal=personal)
    return make_page(rows, page, lambda exception: _out(exception, shown[exception.job_id]))


async def get_exception(
    session: AsyncSession, exception_id: UUID, scope: UUID | None, keys: JobKeys, *, personal: bool
) -> ExceptionOut:
    exception = _visible(await repository.get_exception(session, exception_id), exception_id, scope)
    shown = await _readers(session, {exception.job_id}, keys, personal=personal)
    return _out(exception, shown[exception.job_id])


async def _readers(
    session: AsyncSession, job_ids: set[UUID], keys: JobKeys, *, personal: bool
) -> dict[UUID, Reader]:
    """How the reader sees each job's values: personal ones opened if they may see them
    (`personal`), masked if not."""
    rules = {
        job_id: Rules.of(job).spec.personal
        for job_id, job in (await job_rules.rules_of_jobs(session, job_ids)).items()
    }
    wanted = [job_id for job_id, of_job in rules.items() if personal and of_job]
    found = await keys.to_read(session, wanted) if wanted else {}
    return {job_id: rules.get(job_id, Personal()).reader(found.get(job_id)) for job_id in job_ids}


async def resolve(
    session: AsyncSession,
    exception_id: UUID,
    caller: Principal,
    body: ExceptionResolve,
    keys: JobKeys,
) -> ExceptionOut:
    """Resolve an open exception: the item is accepted (as keyed, or as corrected) or rejected,
    its tasks are scored, and the resolution is kept in the item's decision history. The same
    resolution again by the same caller (a retry whose answer was lost) is answered as the
    first was; any other on a resolved exception is a conflict."""
    seen = _visible(
        await repository.get_exception(session, exception_id), exception_id, caller.scope()
    )
    # The locks an erasure of its item or job takes: a resolution waits for one running and
    # then finds the exception it closed; an erasure after it waits for it and erases its
    # decision too. With them, that of matching the client's invoices: a correction is
    # matched again, a rejection bills nothing any more.
    await decision_rows.lock_items(
        session, [seen.item_id], [seen.job_id], matching=[seen.client_id]
    )
    exception = _visible(
        await repository.exception_for_update(session, exception_id), exception_id, caller.scope()
    )
    if exception.status is ExceptionStatus.RESOLVED:
        return await _resolved_again(session, exception, caller, body, keys)
    job = (await job_rules.rules_of_jobs(session, [exception.job_id]))[exception.job_id]
    rules = Rules.of(job)
    spec, key = rules.spec, await keys.of_job(session, exception.job_id)
    reader = spec.personal.reader(key)
    result = resolved_result(spec, reader.record(exception.result), body)
    now = utcnow()
    by_client = caller.role is Role.CLIENT
    exception.status, exception.action, exception.data = (
        ExceptionStatus.RESOLVED,
        body.action,
        body.data and rules.kept(body.data, key),
    )
    exception.note, exception.resolved_by, exception.by_client = (
        body.note,
        caller.subject,
        by_client,
    )
    exception.resolved_at = now
    rejected = result is None
    reason = reasons.resolved(body.action, by_client, body.note)
    if result is None:
        await repository.forget_invoice(session, exception.item_id)
    elif body.action is ExceptionAction.CORRECT:
        # What the corrected invoice bills replaces what the keyed one did.
        await match(session, spec, exception.client_id, exception.item_id, result, _reader(session))
    await decision_rows.add_decisions(
        session,
        [
            Decision(
                id=new_id(),
                item_id=exception.item_id,
                job_id=exception.job_id,
                client_id=exception.client_id,
                outcome=Outcome.REJECTED if rejected else Outcome.ACCEPTED,
                reason=reason,
                result=result and rules.kept(result, key),
                comparison=[],
                decided_at=now,
            )
        ],
    )
    announced = await _announced(
        session, exception, result, reason, now, key, fields=len(spec.fields)
    )
    await publish_each(session, announced)
    return _out(exception, spec.personal.reader(key if shows_personal_data(caller) else None))


async def _resolved_again(
    session: AsyncSession,
    exception: MatchException,
    caller: Principal,
    body: ExceptionResolve,
    keys: JobKeys,
) -> ExceptionOut:
    """A resolution of a resolved exception: the same as the caller resolved it with is
    answered as the first was; any other is a conflict (one its erasure closed, too)."""
    if exception.resolved_by == ERASURE:
        raise Conflict(
            f"exception {exception.id} can no longer be resolved: its item's data was erased "
            f"at {exception.resolved_at}"
        )
    same = (exception.resolved_by, exception.action, exception.note) == (
        caller.subject,
        body.action,
        body.note,
    ) and (exception.data is None) == (body.data is None)
    if same and exception.data is not None:
        # A correction's data, kept sealed: its job's data is not erased, so its key is at hand.
        job = (await job_rules.rules_of_jobs(session, [exception.job_id]))[exception.job_id]
        reader = Rules.of(job).spec.personal.reader(await keys.of_job(session, exception.job_id))
        same = reader.record(exception.data) == body.data
    if not same:
        raise Conflict(
            f"exception {exception.id} was resolved already: {exception.action} at "
            f"{exception.resolved_at}"
        )
    personal = shows_personal_data(caller)
    shown = await _readers(session, {exception.job_id}, keys, personal=personal)
    return _out(exception, shown[exception.job_id])


def resolved_result(
    spec: JobSpec, keyed: dict[str, object], body: ExceptionResolve
) -> dict[str, object] | None:
    """The invoice the resolution accepts (None: rejected); a correction is checked whole."""
    if body.action is not ExceptionAction.CORRECT:
        if body.data is not None:
            raise Invalid(
                "only a correction takes data",
                errors=[FieldError("data", f"leave it out to {body.action}, or use correct")],
            )
        return None if body.action is ExceptionAction.REJECT else keyed
    if not body.data:
        raise Invalid(
            "a correction needs data",
            errors=[FieldError("data", 'give the fields to change, e.g. {"lines": [...]}')],
        )
    # The correction as the client wrote it, then the invoice it makes.
    corrected = check(spec.source, body.data, partial=True)
    checked = corrected if corrected.errors else check(spec, {**keyed, **corrected.normalized})
    errors = list(checked.errors)
    # The item's acceptance carries it sealed: past what NATS takes, it would never be sent.
    if not errors and (oversized := too_large(checked.normalized)) is not None:
        errors.append(oversized)
    if errors:
        raise Invalid(
            "the corrected invoice does not pass the job's rules",
            errors=[FieldError(f"data.{error.field}", error.message) for error in errors],
        )
    return checked.normalized


async def _announced(
    session: AsyncSession,
    exception: MatchException,
    result: dict[str, object] | None,
    reason: str,
    now: datetime,
    key: DataKey,
    *,
    fields: int,
) -> list[tuple[Event, UUID | None]]:
    """The item's decision, how each of its tasks came out (of a job of `fields` fields), and
    the resolution."""
    about = {
        "item_id": exception.item_id,
        "job_id": exception.job_id,
        "client_id": exception.client_id,
        "decided_at": now,
    }
    decided: Event = (
        validation.ItemRejected(**about, reason=reason)
        if result is None
        else validation.ItemAccepted(**about, result=key.seal(result))
    )
    entries = await decision_rows.entries_of_item(session, exception.item_id)
    judged = await scores.judged_by_task(session, [exception.item_id])
    # The invoice is rejected for what it says, not for how it was keyed: each keying is
    # scored by its judged fields, as on an accepted item.
    tasks = [scored(entry, judged, now, rejected=False, fields=fields) for entry in entries]
    resolved = validation.ExceptionResolved(
        exception_id=exception.id,
        item_id=exception.item_id,
        job_id=exception.job_id,
        client_id=exception.client_id,
        action=exception.action,
        by_client=bool(exception.by_client),
        resolved_at=now,
    )
    return [(event, exception.client_id) for event in [decided, *tasks, resolved]]


def _reader(session: AsyncSession) -> LookUp:
    async def look_up(client_id: UUID, wanted: Wanted) -> LookupResult:
        return await reference.look_up(session, client_id, *wanted)

    return look_up


def _visible(
    exception: MatchException | None, exception_id: UUID, scope: UUID | None
) -> MatchException:
    if exception is None or (scope is not None and exception.client_id != scope):
        raise NotFound(f"no exception {exception_id}")
    return exception


def _out(exception: MatchException, reader: Reader) -> ExceptionOut:
    shown = ExceptionOut.model_validate(exception, from_attributes=True)
    return shown.model_copy(
        update={
            "result": reader.record(exception.result),
            "data": exception.data and reader.record(exception.data),
        }
    )

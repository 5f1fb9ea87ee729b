"""Use cases of decisions: keep each submitted entry, decide about its item, and say so.

`record_submissions` takes a run of submissions and does what applying them one at a time,
in order, would: for each, `decision.decide` rules once on the item's entries so far, with
what `decision.needs` names loaded (the job's rules, reference rows, the keyer's record).
It reads and writes a table once for the whole run: the jobs, the items' earlier entries and
judged fields, then the new entries, judgements (provisional ones too: keyings that differ,
until adjudicated, unless their job is cancelled), tallies, decisions and events, in the
order one at a time would have published them: per submission, any suspension its judgings
bring, the decision, then, once the item is final, how each task on it came out (or, its
job cancelled, that the keying is left unjudged).

Values arrive sealed with the job's data key and are opened in memory to decide (see
service.keys); entries, decisions and exceptions keep their personal values sealed, and the
events that carry values carry them sealed (service.announcements).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.clock import utcnow
from bpo_common.contracts import TaskKind, intake
from bpo_common.crypto import DataKey
from bpo_common.erasure import erased_of
from bpo_common.errors import NotFound
from bpo_common.events import Event
from bpo_common.ids import new_id
from bpo_common.inbox import first_of_each
from bpo_common.outbox import publish_each
from bpo_common.rules import Reader
from bpo_validation.domain import decision, fields
from bpo_validation.domain.entries import Item, Judging, machine_keying
from bpo_validation.domain.reference import LookupResult, Wanted
from bpo_validation.domain.verdicts import Ruling, Verdict
from bpo_validation.models import Decision, Entry, MatchException
from bpo_validation.repository import decisions as repository
from bpo_validation.repository import jobs as job_rules
from bpo_validation.repository import quality as scores
from bpo_validation.repository import reference
from bpo_validation.schemas import DecisionOut, EntryOut, ItemDecision
from bpo_validation.service import erasure, exceptions, quality
from bpo_validation.service.accuracy import Ledgers
from bpo_validation.service.announcements import announcement
from bpo_validation.service.entries import Rules, kept_entry, submission
from bpo_validation.service.jobs import JobNotKnownYet
from bpo_validation.service.keys import JobKeys
from bpo_validation.service.quality import Tallies, add_to_tallies, scored, unjudged
from bpo_validation.settings import Settings


async def record_submissions(
    session: AsyncSession,
    events: Sequence[intake.TaskSubmitted],
    settings: Settings,
    *,
    keys: JobKeys,
) -> None:
    """Keep the entries; decide about each item once it has the entries it needs; judge and
    score; as applying the submissions one at a time, in order, would."""
    job_ids = {event.job_id for event in events}
    # A job's rules never change once announced: read before the locks, they tell which
    # clients' invoices the run may match, locked with its items (the delivery holds them
    # already: `exceptions.matching_locks`).
    known = await job_rules.rules_of_jobs(session, job_ids)
    matching = {job.client_id for job in known.values() if job.match}
    await repository.lock_items(session, {event.item_id for event in events}, job_ids, matching)
    # What arrives of erased data is not kept (a submission made before an erasure can be
    # read after it; one read while it runs waits for it, on the locks).
    erased = await erased_of(session, job_ids)
    gone = [event for event in events if erased.holds(event.job_id, event.item_id)]
    await publish_each(session, erasure.erased_keyings(gone, known, utcnow()))
    events = [event for event in events if not erased.holds(event.job_id, event.item_id)]
    if not events:
        return
    # Read after the locks too: a cancel applied while the run waited on them is seen.
    cancelled = await job_rules.cancelled_of(session, job_ids)
    jobs = {job_id: Rules.of(job) for job_id, job in known.items()}
    for event in events:
        if event.job_id not in jobs:
            raise JobNotKnownYet(f"job {event.job_id} has not arrived yet")
    job_keys = await keys.of_jobs(session, jobs)
    item_ids = list({event.item_id for event in events})
    so_far = await repository.entries_of_items(session, item_ids)
    # A later copy of a submission (the same task) changes nothing.
    stored = {entry.task_id for entries in so_far.values() for entry in entries}
    fresh = [e for e in first_of_each(events, lambda e: e.task_id) if e.task_id not in stored]
    run = _Run(
        session,
        settings,
        job_keys,
        entries=so_far,
        judged=await scores.judged_by_task(session, item_ids),
        ledgers=Ledgers(settings),
        qualifying={event.task_id for event in fresh if event.qualification},
        copies={event.task_id for event in fresh if event.control_copy},
        cancelled=cancelled,
    )
    entries = [kept_entry(event, jobs[event.job_id], job_keys[event.job_id]) for event in fresh]
    await repository.add_entries(session, entries)
    for event, entry in zip(fresh, entries, strict=True):
        await run.apply(jobs[event.job_id], entry)
    await run.write()


@dataclass
class _Outcome:
    """What one submission brought: its judgings (each keeps a tally) and its events."""

    judgings: list[Tallies] = field(default_factory=list)
    events: list[tuple[Event, UUID | None]] = field(default_factory=list)


@dataclass
class _Run:
    """A run of submissions as it is applied: each item's entries and each task's judged
    fields so far, and what is still to be written."""

    session: AsyncSession
    settings: Settings
    # The data key of each job of the run.
    keys: dict[UUID, DataKey]
    entries: dict[UUID, list[Entry]]
    # (judged, correct) fields of each task of the run's items.
    judged: dict[UUID, tuple[int, int]]
    # Adaptive jobs' ledgers of the accuracy they deliver.
    ledgers: Ledgers
    # Keyings of copies given in qualification attempts: judged for the attempt (the control
    # figures of the decision and the task's score) but not kept as judged fields, so neither
    # the quality floor nor the keyer's record counts them.
    qualifying: set[UUID]
    # Keyings of controls copied into their job (of a qualification's too): scored as the
    # keyer's work, none of the client's.
    copies: set[UUID]
    # Cancelled jobs: their items' adjudications never come, so keyings that differ keep no
    # provisional judgement (the cancel dropped those written before it).
    cancelled: set[UUID]
    judgements: list[dict[str, Any]] = field(default_factory=list)
    # Keyings that differ, judged against each other; the items a final judging settled.
    provisional: list[dict[str, Any]] = field(default_factory=list)
    settled: set[UUID] = field(default_factory=set)
    decisions: list[Decision] = field(default_factory=list)
    exceptions: list[MatchException] = field(default_factory=list)
    outcomes: list[_Outcome] = field(default_factory=list)
    lookups: dict[tuple[UUID, Wanted], LookupResult] = field(default_factory=dict)

    async def apply(self, rules: Rules, entry: Entry) -> None:
        now = utcnow()
        so_far = self.entries.setdefault(entry.item_id, [])
        so_far.append(entry)
        so_far.sort(key=lambda e: (e.submitted_at, e.task_id))
        key = self.keys[entry.job_id]
        reader = rules.spec.personal.reader(key)
        item = Item(
            entry.item_id,
            entry.work_type,
            [submission(e, reader) for e in so_far],
            submission(entry, reader),
            rules.sample_key,
        )
        verdict = await self._decide(rules, item, entry)
        invoice = verdict.ruling is Ruling.ACCEPT and rules.spec.match is not None
        if invoice and all(e.golden is None for e in so_far):
            assert verdict.result is not None
            found = await exceptions.match(
                self.session,
                rules.spec,
                entry.client_id,
                entry.item_id,
                verdict.result,
                self._look_up,
            )
            verdict = decision.matched(verdict, found)
        outcome = _Outcome()
        self.outcomes.append(outcome)
        submitted = {e.task_id: e.submitted_at for e in so_far}
        for judging in verdict.judgings:
            self._judge(judging, entry, now)
            if entry.task_id not in self.qualifying:
                keyed_at = {
                    judged.entry.contractor_id: submitted[judged.entry.task_id]
                    for judged in judging.entries
                    if judged.entry.task_id in submitted  # the machine's keying is no entry
                }
                outcome.judgings.append(Tallies(entry.work_type, judging.tallies(), keyed_at))
        if verdict.final:
            self.settled.add(entry.item_id)
        if entry.job_id not in self.cancelled:
            for judging in verdict.provisional:
                self.provisional += quality.provisional_rows(
                    judging, entry.item_id, entry.work_type, now
                )
        if verdict.trust is not None:
            rerouted = await self.ledgers.route(
                self.session, entry.contractor_id, entry.work_type, verdict.trust, now
            )
            if rerouted is not None:
                outcome.events.append((rerouted, None))
        if verdict.ruling is None:
            self._score_if_cancelled(rules, entry, now, outcome)
            return
        # Kept for GET /v1/items/{id}/decision.
        self.decisions.append(
            Decision(
                id=new_id(),
                item_id=entry.item_id,
                job_id=entry.job_id,
                client_id=entry.client_id,
                outcome=verdict.ruling.outcome,
                reason=verdict.reason,
                result=verdict.result and rules.kept(verdict.result, key),
                comparison=fields.sealed_comparison(rules.spec, verdict.comparison, key),
                decided_at=now,
            )
        )
        if verdict.ruling is Ruling.EXCEPTION:
            assert verdict.match is not None
            assert verdict.result is not None
            opened = exceptions.opened(entry, rules.kept(verdict.result, key), verdict.match, now)
            self.exceptions.append(opened)
            outcome.events.append((exceptions.opened_event(opened, key), entry.client_id))
        else:
            announced = announcement(entry, verdict, now, key, so_far)
            outcome.events.append((announced, entry.client_id))
        if verdict.ruling.settles:
            rejected = verdict.ruling is Ruling.REJECT
            count = len(rules.spec.fields)
            outcome.events += [
                (
                    scored(
                        e, self.judged, now, rejected=rejected, fields=count,
                        control_copy=e.task_id in self.copies,
                    ),
                    e.client_id,
                )
                for e in so_far
            ]  # fmt: skip
        elif verdict.ruling is not Ruling.EXCEPTION:
            self._score_if_cancelled(rules, entry, now, outcome)

    def _score_if_cancelled(
        self, rules: Rules, entry: Entry, now: datetime, outcome: _Outcome
    ) -> None:
        """A keying of a cancelled job that leaves its item waiting for a task nobody is given
        (intake withdrew it) is scored `unjudged`, so that its keyer is paid; the cancel
        scored the item's tasks applied before it."""
        if entry.job_id in self.cancelled:
            fields = len(rules.spec.fields)
            copy = entry.task_id in self.copies
            event = unjudged(entry, now, fields=fields, control_copy=copy)
            outcome.events.append((event, entry.client_id))

    async def _decide(self, rules: Rules, item: Item, entry: Entry) -> Verdict:
        """Load what the decision reads beyond the item (`decision.needs`), then let it rule."""
        needs = decision.needs(rules.spec, rules.policy, item)
        keyer = None
        if needs.keyer_accuracy:
            # The keyer's latest judged fields, this run's earlier ones among them.
            await self._write_judgements()
            keyer = await self.ledgers.keyer_accuracy(
                self.session, entry.job_id, entry.contractor_id, entry.work_type, rules.items
            )
        lookups = {wanted: await self._look_up(entry.client_id, wanted) for wanted in needs.lookups}
        verdict = decision.decide(
            rules.spec,
            rules.policy,
            item,
            lookups=lookups,
            keyer=keyer,
            confirm_adjudications=self.settings.confirm_adjudications,
        )
        if verdict.ledger is not None:
            self.ledgers.ruled(entry.job_id, verdict.ledger)
        return verdict

    async def _look_up(self, client_id: UUID, wanted: Wanted) -> LookupResult:
        """What a lookup finds, read once a run (reference data does not change in one)."""
        key = (client_id, wanted)
        if key not in self.lookups:
            self.lookups[key] = await reference.look_up(self.session, client_id, *wanted)
        return self.lookups[key]

    def _judge(self, judging: Judging, entry: Entry, now: datetime) -> None:
        if entry.task_id not in self.qualifying:
            self.judgements += quality.judgement_rows(judging, entry.item_id, entry.work_type, now)
        for judged in judging.entries:
            total, right = self.judged.get(judged.entry.task_id, (0, 0))
            self.judged[judged.entry.task_id] = (
                total + len(judged.fields),
                right + sum(verdict.correct for verdict in judged.fields),
            )

    async def _write_judgements(self) -> None:
        if not (self.judgements or self.provisional or self.settled):
            return
        # A settled item is keyed no more: none of the run's provisional rows are newer.
        await scores.add_judgements(self.session, self.judgements)
        provisional = [row for row in self.provisional if row["item_id"] not in self.settled]
        await scores.replace_provisional(self.session, self.settled, provisional)
        self.judgements, self.provisional, self.settled = [], [], set()
        self.ledgers.judged()

    async def write(self) -> None:
        """Write what the run decided: judgements, tallies held to the quality floor,
        decisions, and the events in the order one submission at a time would have
        published them."""
        await self._write_judgements()
        suspensions = iter(
            await add_to_tallies(
                self.session,
                [tally for outcome in self.outcomes for tally in outcome.judgings],
                self.settings,
            )
        )
        await self.ledgers.write(self.session)
        await repository.add_decisions(self.session, self.decisions)
        exceptions.add(self.session, self.exceptions)
        events: list[tuple[Event, UUID | None]] = []
        for outcome in self.outcomes:
            for _ in outcome.judgings:
                events += [(suspended, None) for suspended in next(suspensions)]
            events += outcome.events
        await publish_each(self.session, events)


async def item_decision(
    session: AsyncSession, item_id: UUID, scope: UUID | None, keys: JobKeys, *, personal: bool
) -> ItemDecision:
    """The item's entries, comparison and decisions; personal values opened for a reader who
    may see them (`personal`), masked for anyone else."""
    decisions = await repository.decisions_of_item(session, item_id)
    if not decisions or (scope is not None and decisions[0].client_id != scope):
        raise NotFound(f"no decision about item {item_id}")
    latest = decisions[-1]
    job = (await job_rules.rules_of_jobs(session, [latest.job_id]))[latest.job_id]
    rules = Rules.of(job)
    shows = personal and bool(rules.spec.personal)
    found = await keys.to_read(session, [job.job_id]) if shows else {}
    reader = rules.spec.personal.reader(found.get(job.job_id))
    entries = await repository.entries_of_item(session, item_id)
    shown = [
        EntryOut.model_validate(entry, from_attributes=True).model_copy(
            update={"data": reader.record(entry.data)}
        )
        for entry in entries
    ]
    history = [_decision_out(d, reader) for d in decisions]
    return ItemDecision(
        item_id=item_id,
        job_id=latest.job_id,
        documents=entries[-1].documents if entries else [],
        decision=latest.outcome,
        reason=latest.reason,
        result=history[-1].result,
        comparison=history[-1].comparison,
        entries=_with_machine(rules, reader, item_id, entries) + shown,
        history=history,
    )


def _decision_out(decision: Decision, reader: Reader) -> DecisionOut:
    return DecisionOut(
        outcome=decision.outcome,
        reason=decision.reason,
        result=decision.result and reader.record(decision.result),
        comparison=fields.personal_comparison(reader.personal, decision.comparison, reader.shown),
        decided_at=decision.decided_at,
    )


def _with_machine(
    rules: Rules, reader: Reader, item_id: UUID, entries: Sequence[Entry]
) -> list[EntryOut]:
    """The machine's keying of the item (the values it was sure of on the first keying's
    task), shown first, as the entry it is judged as; none without pre-fill."""
    first = next((entry for entry in entries if entry.kind is TaskKind.ENTRY), None)
    if first is None or not first.suggestions:
        return []
    machine = machine_keying(rules.policy, submission(first, reader), item_id)
    if machine is None:
        return []
    return [
        EntryOut(
            task_id=machine.task_id,
            kind=TaskKind.ENTRY,
            contractor_id=machine.contractor_id,
            data=machine.data,
            rejection=None,
            submitted_at=first.submitted_at,
        )
    ]

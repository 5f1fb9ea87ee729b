"""The events that say what became of an item a decision run ruled on, their values sealed
with the job's data key."""

from collections.abc import Sequence
from datetime import datetime
from typing import TypedDict
from uuid import UUID

from bpo_common.contracts import TaskKind, intake, validation
from bpo_common.crypto import DataKey
from bpo_common.events import Event
from bpo_validation.domain import fields
from bpo_validation.domain.verdicts import Ruling, Verdict
from bpo_validation.models import Entry


class _About(TypedDict):
    item_id: UUID
    job_id: UUID
    client_id: UUID
    decided_at: datetime


def announcement(
    entry: Entry, verdict: Verdict, now: datetime, key: DataKey, so_far: Sequence[Entry]
) -> Event:
    """The event saying what became of the item (its submissions `so_far`), its values
    sealed; a control keyed once says how that keying came out."""
    about = _About(
        item_id=entry.item_id, job_id=entry.job_id, client_id=entry.client_id, decided_at=now
    )
    ruling = verdict.ruling
    if ruling is Ruling.ACCEPT:
        assert verdict.result is not None, "an accepted item has its result"
        # Keyings of the whole item (one marked unreadable keyed nothing).
        whole = [
            e
            for e in so_far
            if e.kind is TaskKind.ENTRY and not e.keyed_fields and e.rejection is None
        ]
        return validation.ItemAccepted(
            **about,
            result=key.seal(verdict.result),
            control=_control_keying(entry, verdict) if len(so_far) == 1 else None,
            # Two keyings' answer, an adjudicator's choice between theirs too; where a
            # reviewer or an adjudicator gave one of their own, one person's.
            agreed=len(whole) >= 2 and entry.golden is None and not verdict.own,
        )
    if ruling is Ruling.REJECT:
        return validation.ItemRejected(**about, reason=verdict.reason)
    if ruling is Ruling.SECOND_KEYING:
        return validation.SecondKeyingRequired(
            **about, reason=verdict.reason, fields=list(verdict.rekey)
        )
    # A review's comparison may hold values it does not show (the client's, in verify mode),
    # so its places would not name the entries shown.
    adjudication = ruling is Ruling.ADJUDICATION
    return validation.ReviewRequired(
        **about,
        kind=TaskKind.ADJUDICATION if adjudication else TaskKind.REVIEW,
        entries=[
            intake.Entry(
                task_id=shown.task_id,
                contractor_id=shown.contractor_id,
                data=key.seal(shown.data),
                unreadable=shown.rejection if shown.kind is TaskKind.ENTRY else None,
            )
            for shown in verdict.shown
        ],
        reason=verdict.reason,
        differing=fields.differing(verdict.comparison) if adjudication else [],
    )


def _control_keying(entry: Entry, verdict: Verdict) -> validation.ControlKeying | None:
    """The entry against its item's known answer, when the item is a control."""
    judged = [
        verdicts.fields
        for judging in verdict.judgings
        if judging.golden
        for verdicts in judging.entries
        if verdicts.entry.task_id == entry.task_id
    ]
    if not judged:
        return None
    return validation.ControlKeying(
        task_id=entry.task_id,
        contractor_id=entry.contractor_id,
        fields_judged=len(judged[0]),
        fields_correct=sum(verdict.correct for verdict in judged[0]),
    )

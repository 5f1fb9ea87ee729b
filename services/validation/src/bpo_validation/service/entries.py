"""Entries as validation keeps them and as its decisions read them: a job's rules, a
submission kept with its personal values sealed, and a kept entry opened to be decided on."""

from dataclasses import dataclass
from typing import Any

from bpo_common.contracts import QcPolicy, intake
from bpo_common.crypto import DataKey
from bpo_common.rules import JobSpec, Reader, spec_for
from bpo_validation.domain.entries import Submission
from bpo_validation.models import Entry, JobRules


@dataclass(frozen=True)
class Rules:
    """A job's field rules and QC policy, as intake announced them, and its items received."""

    # Reading values in canonical form, as intake sends them (JobSpec.reading_canonical).
    spec: JobSpec
    policy: QcPolicy
    # The job's items received so far, control items aside.
    items: int = 0
    # The secret its review sample is drawn with (JobRules.sample_key).
    sample_key: bytes = b""

    @classmethod
    def of(cls, job: JobRules) -> "Rules":
        spec = spec_for(job.job_id, job.fields, job.rules, job.match).reading_canonical()
        return cls(spec, QcPolicy.model_validate(job.qc), job.items, job.sample_key)

    def kept(self, record: dict[str, Any], key: DataKey) -> dict[str, Any]:
        """A record as it is kept: its personal values sealed."""
        return self.spec.personal.seal(record, key)


def kept_entry(event: intake.TaskSubmitted, rules: Rules, key: DataKey) -> Entry:
    """A submission as it is kept: its values opened, its personal ones sealed again."""
    personal = rules.spec.personal
    golden, client_values = key.open(event.golden), key.open(event.client_values)
    return Entry(
        **_about(event),
        data=rules.kept(key.open(event.data), key),
        golden=golden and rules.kept(golden, key),
        client_values=client_values and rules.kept(client_values, key),
        rejection=event.rejection,
        documents=key.open(event.documents) or [],
        suggestions={
            name: shown.model_dump()
            | {"value": personal.map({name: key.open(shown.value)}, key.seal)[name]}
            for name, shown in event.suggestions.items()
        },
        layout_id=event.layout_id,
    )


def unkept_entry(event: intake.TaskSubmitted) -> Entry:
    """A submission whose values are not to be kept (its item erased), as a score reads it:
    who did what and when, none of what they keyed."""
    return Entry(**_about(event), rejection=None)


def _about(event: intake.TaskSubmitted) -> dict[str, Any]:
    """What an entry keeps of a submission besides its values."""
    return {
        "task_id": event.task_id,
        "item_id": event.item_id,
        "job_id": event.job_id,
        "client_id": event.client_id,
        "work_type": event.work_type,
        "kind": event.kind,
        "contractor_id": event.contractor_id,
        "active_seconds": event.active_seconds,
        "entries_expected": event.entries_expected,
        "keyed_fields": event.keyed_fields,
        "submitted_at": event.submitted_at,
    }


def submission(entry: Entry, reader: Reader) -> Submission:
    """A kept entry as a decision reads it: its personal values opened."""
    return Submission(
        task_id=entry.task_id,
        kind=entry.kind,
        contractor_id=entry.contractor_id,
        data=reader.record(entry.data),
        golden=entry.golden and reader.record(entry.golden),
        client_values=entry.client_values and reader.record(entry.client_values),
        rejection=entry.rejection,
        entries_expected=entry.entries_expected,
        suggestions={
            name: intake.Suggested.model_validate(
                shown | {"value": reader.value(name, shown.get("value"))}
            )
            for name, shown in entry.suggestions.items()
        },
        layout_id=entry.layout_id,
        keyed_fields=tuple(entry.keyed_fields),
    )

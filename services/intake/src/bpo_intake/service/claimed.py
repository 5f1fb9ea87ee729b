"""A claimed task as its holder sees it: its personal values opened, its documents' pages as
links, and, on the workbench page, integers as text. A claim's answer, and a claim's sent again
with its Idempotency-Key (service.claim_keys), are made alike here."""

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from bpo_common.contracts import TaskKind
from bpo_common.crypto import DataKey, DataKeys
from bpo_common.rules import JobSpec, spec_for
from bpo_intake.domain import tasks as domain
from bpo_intake.domain.links import PageLinks
from bpo_intake.repository import tasks as repository
from bpo_intake.schemas import TaskOut
from bpo_intake.service import pages
from bpo_intake.service.keys import keys_of_jobs


async def shown(
    session: AsyncSession,
    contractor_id: UUID,
    rows: list[dict[str, Any]],
    *,
    links: PageLinks,
    keys: DataKeys,
    integers_as_text: bool,
) -> list[TaskOut]:
    """The tasks (rows as the claim's statement gives them) as their holder sees them.
    `integers_as_text`: for the workbench page, the values of integer fields and columns
    written as digits (domain.integers_as_text)."""
    documents = await pages.for_items(
        session, [row.pop("documents") for row in rows], links, contractor_id
    )
    specs = {row["job_id"]: _spec(row) for row in rows}
    wrapped = {row["job_id"]: row.pop("data_key") for row in rows}
    found = await keys_of_jobs(
        session,
        keys,
        {job_id: key for job_id, key in wrapped.items() if specs[job_id].personal},
    )
    # A second adjudication's entries end with the first adjudicator's answer: its task is an
    # adjudication.
    entry_tasks = [UUID(entry["task_id"]) for row in rows for entry in row["entries"] or ()]
    adjudications = (
        await repository.adjudications_among(session, entry_tasks) if entry_tasks else set()
    )
    # A planted suggestion shows as any other; a partial second keying only its fields.
    return [
        TaskOut.model_validate(
            row
            | _opened(
                row, specs[row["job_id"]], found.get(row["job_id"]), integers_as_text, adjudications
            )
            | {"documents": docs, "fields": domain.shown_fields(row["fields"], row["keyed_fields"])}
        )
        for row, docs in zip(rows, documents, strict=True)
    ]


def _spec(row: Mapping[str, Any]) -> JobSpec:
    return spec_for(row["job_id"], row["fields"], row["rules"], row["match"])


def _opened(
    row: Mapping[str, Any],
    spec: JobSpec,
    key: DataKey | None,
    integers_as_text: bool,
    adjudications: set[UUID],
) -> dict[str, Any]:
    """A claimed task's source, suggestions and entries under review, for its holder: with
    their personal values opened (when the job has any), and, if `integers_as_text`, integer
    values as digits and the source's values as text (domain.source_as_text). Each entry says
    the kind of task it was keyed in: an adjudication among `adjudications`, else an entry."""
    reader = spec.personal.reader(key)

    def opened(record: Mapping[str, Any]) -> dict[str, Any]:
        return dict(record) if key is None else reader.record(record)

    def shown(record: Mapping[str, Any]) -> dict[str, Any]:
        return domain.integers_as_text(spec, opened(record)) if integers_as_text else opened(record)

    suggestions = row["suggestions"] or {}
    values = shown({name: suggested.get("value") for name, suggested in suggestions.items()})
    entries = row["entries"]
    if entries is not None:
        entries = [
            {**entry, "data": shown(entry["data"]), "kind": _keyed_in(entry, adjudications)}
            for entry in entries
        ]
    source = opened(row["source"])
    return {
        "source": domain.source_as_text(source) if integers_as_text else source,
        "suggestions": {
            name: {**suggested, "value": values[name]} for name, suggested in suggestions.items()
        },
        "entries": entries,
    }


def _keyed_in(entry: Mapping[str, Any], adjudications: set[UUID]) -> TaskKind:
    adjudicated = UUID(entry["task_id"]) in adjudications
    return TaskKind.ADJUDICATION if adjudicated else TaskKind.ENTRY

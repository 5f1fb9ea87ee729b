"""validation_0028: the documents' names kept with entries of items erased before erasures
forgot them are forgotten; those of items no erasure reached stay."""

from pathlib import Path

from sqlalchemy import insert, select

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.tables import erasure_record
from bpo_devtools.testing import run_upgrade
from bpo_validation.models import Entry
from bpo_validation.settings import Settings

from .submissions import new_job, submit

MIGRATION = (
    Path(__file__).parents[2]
    / "src/bpo_validation/migrations/versions/20261217_erased_entry_documents.py"
)


async def test_names_of_entries_erased_before_are_forgotten_and_the_others_kept(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job, whole = await new_job(validation_db), await new_job(validation_db)
    gone, kept, of_whole = new_id(), new_id(), new_id()
    for item, of_job in ((gone, job), (kept, job), (of_whole, whole)):
        data = {"number": "A", "total": "5"}
        await submit(validation_db, validation_settings, of_job, item, data, documents=["a.pdf"])
    # As erasures before this release left them: recorded, the entries' names kept.
    async with validation_db() as session, session.begin():
        erased = [(job.job_id, [str(gone)]), (whole.job_id, None)]
        await session.execute(
            insert(erasure_record),
            [
                {"erasure_id": new_id(), "job_id": job_id, "item_ids": items, "erased_at": now}
                for (job_id, items), now in zip(erased, [job.created_at] * 2, strict=True)
            ],
        )

    await run_upgrade(validation_db, MIGRATION)

    async with validation_db() as session:
        query = select(Entry.item_id, Entry.documents).where(
            Entry.item_id.in_([gone, kept, of_whole])
        )
        names = {item: documents for item, documents in await session.execute(query)}
    assert names == {gone: [], kept: ["a.pdf"], of_whole: []}

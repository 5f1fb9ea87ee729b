"""validation_0030: invoices remembered with a Greek VAT number written GR as their vendor are
remembered as EL, the canonical form, where the job's vendor field is a VAT number; a vendor
of another type stays as it is."""

from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from sqlalchemy import insert, select

from bpo_common.contracts import TaskKind
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import run_upgrade
from bpo_validation.models import Entry, JobRules, SeenInvoice

MIGRATION = (
    Path(__file__).parents[2]
    / "src/bpo_validation/migrations/versions/20261218_greek_vat_vendors.py"
)


async def test_a_vat_vendor_remembered_as_gr_is_remembered_as_el_and_other_vendors_stay(
    validation_db: SessionFactory,
) -> None:
    client_id, now = new_id(), datetime.now(UTC)
    items: dict[UUID, tuple[str, str]] = {
        new_id(): ("vat", "gr094259216"),
        new_id(): ("string", "gr094259216"),  # a name field someone keyed so
        new_id(): ("vat", "de136695976"),
    }
    async with validation_db() as session, session.begin():
        for item_id, (vendor_type, vendor) in items.items():
            job_id = new_id()
            fields = [{"name": "vendor", "type": vendor_type}, {"name": "number", "type": "string"}]
            match = {"duplicates": {"vendor": "vendor", "number": "number"}}
            await session.execute(
                insert(JobRules).values(
                    job_id=job_id, client_id=client_id, work_type="invoice", fields=fields,
                    rules=[], match=match, qc={}, received_at=now,
                )
            )  # fmt: skip
            await session.execute(
                insert(Entry).values(
                    task_id=new_id(), item_id=item_id, job_id=job_id, client_id=client_id,
                    work_type="invoice", kind=TaskKind.ENTRY, contractor_id=new_id(), data={},
                    entries_expected=1, submitted_at=now,
                )
            )  # fmt: skip
            await session.execute(
                insert(SeenInvoice).values(item_id=item_id, client_id=client_id, vendor=vendor)
            )

    await run_upgrade(validation_db, MIGRATION)

    async with validation_db() as session:
        query = select(SeenInvoice.item_id, SeenInvoice.vendor).where(
            SeenInvoice.client_id == client_id
        )
        remembered = {row.item_id: row.vendor for row in await session.execute(query)}
    assert remembered == {
        item_id: "el094259216" if (kind, vendor) == ("vat", "gr094259216") else vendor
        for item_id, (kind, vendor) in items.items()
    }

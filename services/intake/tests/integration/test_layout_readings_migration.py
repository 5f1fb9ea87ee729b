"""intake_0032: a layout's rules kept by the place of their reading in a job's list are given
the reading itself (the date format, the decimal separator) where every job of the layout's
items holds the same one there, and dropped where they differ or no job says."""

from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from sqlalchemy import select, update

from bpo_common.clock import utcnow
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, run_upgrade
from bpo_intake.domain import layouts
from bpo_intake.models import Item, Layout

from .conftest import create_job, register_client

MIGRATION = (
    Path(__file__).parents[2] / "src/bpo_intake/migrations/versions/20261220_layout_readings.py"
)
# As an earlier release kept them: [label, relation, place of the reading, hits, misses, x, y].
KEPT_BY_PLACE: dict[str, Any] = {
    "day": [["datum", "left", 0, 3, 0, 0.5, 0.2], ["datum", "left", 1, 1, 2, 0.5, 0.2]],
    "total": [["netto", "left", 0, 4, 0, 0.5, 0.3], ["netto", "left", 1, 0, 4, 0.5, 0.3]],
    "ref": [["ref", "inline", 0, 2, 0, 0.2, 0.1], ["ACME-7", "constant", -1, 2, 0, 0.3, 0.1]],
}


def fields(*date_formats: str) -> list[dict[str, Any]]:
    return [
        {"name": "day", "type": "date", "date_formats": list(date_formats)},
        {"name": "total", "type": "decimal", "decimal_separator": ","},
        {"name": "ref", "type": "string"},
    ]


async def test_rules_kept_by_place_keep_their_reading_where_every_job_of_the_layout_agrees(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    client_id = await register_client(intake, tokens)
    two: list[dict[str, Any]] = [{"external_id": name, "source": {}} for name in ("one", "two")]
    german = await create_job(
        intake, tokens, client_id, fields=fields("%d/%m/%Y", "%m/%d/%Y"), items=two
    )
    american = await create_job(
        intake, tokens, client_id, fields=fields("%m/%d/%Y", "%d/%m/%Y"), items=two[:1]
    )
    # Layouts of items of both jobs, of the first job's only, and of no item left.
    both, first, none = new_id(), new_id(), new_id()
    async with intake_db() as session, session.begin():
        for layout_id in (both, first, none):
            session.add(
                Layout(
                    id=layout_id,
                    client_id=client_id,
                    tokens={"datum": 1},
                    documents=1,
                    learned=3,
                    model=KEPT_BY_PLACE,
                    created_at=utcnow(),
                )
            )
        await session.flush()
        query = select(Item.id).where(Item.job_id.in_([german["id"], american["id"]]))
        item_ids = await session.execute(query.order_by(Item.job_id != german["id"], Item.id))
        # The first job's items go to `both` and `first`, the second job's to `both`.
        for item_id, layout_id in zip(item_ids.scalars(), (both, first, both), strict=True):
            stamped = update(Item).where(Item.id == item_id).values(layout_id=layout_id)
            await session.execute(stamped)

    await run_upgrade(intake_db, MIGRATION)

    async with intake_db() as session:
        stored = select(Layout.id, Layout.model).where(Layout.id.in_([both, first, none]))
        models: dict[UUID, dict[str, Any]] = dict((await session.execute(stored)).all())
    assert models[both] == {
        "day": [],
        "total": [["netto", "left", ",", 4, 0, 0.5, 0.3], ["netto", "left", ".", 0, 4, 0.5, 0.3]],
        "ref": [["ref", "inline", "", 2, 0, 0.2, 0.1], ["ACME-7", "constant", "", 2, 0, 0.3, 0.1]],
    }
    assert models[first]["day"] == [
        ["datum", "left", "%d/%m/%Y", 3, 0, 0.5, 0.2],
        ["datum", "left", "%m/%d/%Y", 1, 2, 0.5, 0.2],
    ]
    assert models[none] == {
        "day": [],
        "total": [],
        "ref": [["ACME-7", "constant", "", 2, 0, 0.3, 0.1]],
    }
    # What it turned reads as this release's rules.
    learned = layouts.Model.from_json(models[first]).fields
    assert {rule.reading for rule in learned["day"]} == {"%d/%m/%Y", "%m/%d/%Y"}

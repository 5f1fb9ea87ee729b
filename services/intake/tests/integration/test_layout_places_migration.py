"""intake_0035: a layout's words are given their places, each word's median place on the first
read pages of the layout's items whose documents are still held; a word on none of them, and
the words of a layout without items, keep none."""

from datetime import UTC, datetime
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
from bpo_intake.models import Document, DocumentPage, Item, Layout

from .conftest import create_job, register_client

MIGRATION = (
    Path(__file__).parents[2] / "src/bpo_intake/migrations/versions/20261223_layout_places.py"
)


def words(*placed: tuple[str, float, float]) -> list[dict[str, Any]]:
    """Words as a page keeps them, each (text, x, y) in a box 0.1 wide and 0.02 high."""
    return [
        {"text": text, "box": [x, y, x + 0.1, y + 0.02], "confidence": 1.0} for text, x, y in placed
    ]


async def test_a_layouts_words_get_their_median_place_on_the_first_pages_still_held(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory
) -> None:
    client_id = await register_client(intake, tokens)
    three: list[dict[str, Any]] = [{"external_id": name, "source": {}} for name in "abc"]
    job = await create_job(intake, tokens, client_id, items=three)
    now = datetime.now(UTC)
    # Item a: a document not read yet, then one whose first page prints the supplier's name
    # at the top (and again in its footer) and a product; its second page prints the name
    # elsewhere. Item b: the name a little further right. Item c: a document retention
    # deleted, the name elsewhere.
    pages: dict[str, list[list[dict[str, Any]] | None]] = {
        "unread": [None],
        "a": [
            words(("Brandt,", 0.1, 0.05), ("Widget", 0.25, 0.49), ("Brandt", 0.1, 0.95)),
            words(("Brandt", 0.6, 0.6)),
        ],
        "b": [words(("BRANDT", 0.12, 0.06), ("GmbH", 0.25, 0.06))],
        "c": [words(("Brandt", 0.8, 0.88))],
    }
    ids = {name: new_id() for name in pages}
    mature, bare = new_id(), new_id()
    async with intake_db() as session, session.begin():
        for name, read in pages.items():
            session.add(
                Document(
                    id=ids[name], job_id=UUID(job["id"]), client_id=client_id,
                    filename=f"{name}.pdf", media_type="application/pdf", size=1,
                    sha256="0" * 64, pages=len(read), created_at=now, rendered_at=now,
                    deleted_at=now if name == "c" else None,
                )
            )  # fmt: skip
        await session.flush()
        for name, read in pages.items():
            for number, found in enumerate(read, start=1):
                session.add(
                    DocumentPage(
                        document_id=ids[name], number=number, width=595, height=842,
                        words=found, read_at=None if found is None else now,
                    )
                )  # fmt: skip
        for layout_id, counts in ((mature, {"brandt": 3, "widget": 1, "gmbh": 1, "acme": 3}),
                                  (bare, {"acme": 1})):  # fmt: skip
            session.add(
                Layout(
                    id=layout_id, client_id=client_id, tokens=counts, documents=3, learned=0,
                    model={}, created_at=utcnow(),
                )
            )  # fmt: skip
        await session.flush()
        documents = {"a": [ids["unread"], ids["a"]], "b": [ids["b"]], "c": [ids["c"]]}
        for external_id, held in documents.items():
            await session.execute(
                update(Item)
                .where(Item.job_id == UUID(job["id"]), Item.external_id == external_id)
                .values(layout_id=mature, documents=held)
            )

    await run_upgrade(intake_db, MIGRATION)

    async with intake_db() as session:
        stored = select(Layout.id, Layout.places).where(Layout.id.in_([mature, bare]))
        places: dict[UUID, dict[str, Any]] = dict((await session.execute(stored)).all())
    assert places[mature] == {
        "brandt": [0.16, 0.065],
        "widget": [0.3, 0.5],
        "gmbh": [0.3, 0.07],
    }, "acme, on no page, keeps no place"
    assert places[bare] == {}
    # The supplier's next page fits the layout where its words are printed, not elsewhere.
    async with intake_db() as session:
        layout = await session.get(Layout, mature)
    assert layout is not None
    known = [(mature, layout.tokens, layout.places, layout.documents)]
    assert layouts.match({"brandt": (0.17, 0.07), "acme": (0.5, 0.5)}, known) == mature
    assert layouts.match({"brandt": (0.6, 0.6), "acme": (0.5, 0.5)}, known) is None

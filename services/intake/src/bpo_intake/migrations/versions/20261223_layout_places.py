"""A layout keeps where each of its words is printed (`places`: the word's centre on the first
page), so that a word printed elsewhere (a product on another line of an invoice) is no part
of its fixed text, and the next invoice of a supplier is told by its header and footer from
another's. A layout's places are found on the first pages of its latest items still held:
each word's median place there. A word on none of them keeps no place, and is matched
wherever a page prints it, as it was before.

Revision ID: intake_0035
Revises: intake_0034
Create Date: 2026-12-22 09:00:00+00:00
"""

import json
import re
import unicodedata
from collections import defaultdict
from statistics import median
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "intake_0035"
down_revision = "intake_0034"
branch_labels = None
depends_on = None

# Items of a layout whose first page places its words: its latest.
SAMPLE = 20
# The first read page of each of the latest items of each layout: that of its first document
# still held that has one, as extraction reads it.
_FIRST_PAGES = sa.text(
    "SELECT i.layout_id, first.document_id, first.number"
    " FROM (SELECT layout_id, documents,"
    "   row_number() OVER (PARTITION BY layout_id ORDER BY id DESC) AS latest"
    "   FROM item WHERE layout_id IS NOT NULL) i"
    " CROSS JOIN LATERAL (SELECT p.document_id, p.number"
    "   FROM unnest(i.documents) WITH ORDINALITY AS d(id, n)"
    "   JOIN document doc ON doc.id = d.id AND doc.deleted_at IS NULL"
    "   JOIN document_page p ON p.document_id = d.id AND jsonb_typeof(p.words) = 'array'"
    "   ORDER BY d.n, p.number LIMIT 1) first"
    " WHERE i.latest <= :sample"
)
_LAYOUTS = sa.text("SELECT id FROM extraction_layout ORDER BY id FOR UPDATE")
_TOKENS = sa.text("SELECT tokens::text FROM extraction_layout WHERE id = :id")
_WORDS = sa.text(
    "SELECT words::text FROM document_page WHERE document_id = :document_id AND number = :number"
)
_SET_PLACES = sa.text("UPDATE extraction_layout SET places = CAST(:places AS jsonb) WHERE id = :id")
_LABEL_CHARS = re.compile(r"[^\w%#/.-]+")


def upgrade() -> None:
    op.execute(
        "ALTER TABLE extraction_layout ADD COLUMN IF NOT EXISTS places jsonb NOT NULL DEFAULT '{}'"
    )
    connection = op.get_bind()
    pages: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for layout_id, document_id, number in connection.execute(_FIRST_PAGES, {"sample": SAMPLE}):
        pages[layout_id].append({"document_id": document_id, "number": number})
    # One layout's words at a time: a client's layouts may be many, their pages long.
    for layout_id in connection.execute(_LAYOUTS).scalars().all():
        if layout_id not in pages:
            continue
        tokens = json.loads(connection.execute(_TOKENS, {"id": layout_id}).scalar_one())
        read = [
            json.loads(connection.execute(_WORDS, key).scalar_one()) for key in pages[layout_id]
        ]
        places = _places(set(tokens), read)
        if places:
            connection.execute(_SET_PLACES, {"id": layout_id, "places": json.dumps(places)})


def downgrade() -> None:
    op.execute("ALTER TABLE extraction_layout DROP COLUMN places")


def _places(tokens: set[str], pages: list[list[dict[str, Any]]]) -> dict[str, list[float]]:
    """Each of the layout's words found on these pages at its median place there."""
    found: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for words in pages:
        for token, place in _first_places(words).items():
            if token in tokens:
                found[token].append(place)
    return {
        token: [round(median(x for x, _ in at), 4), round(median(y for _, y in at), 4)]
        for token, at in found.items()
    }


def _first_places(words: list[dict[str, Any]]) -> dict[str, tuple[float, float]]:
    """The page's words that could be fixed text, folded as this release's `label_text` does
    (letters only, three or more), each at the centre of its first box from the top."""
    found: dict[str, tuple[float, float]] = {}
    for word in sorted(words, key=lambda word: (word["box"][1], word["box"][0])):
        folded = _LABEL_CHARS.sub(" ", unicodedata.normalize("NFC", word["text"]).casefold())
        kept = [part for part in folded.split() if not any(ch.isdigit() for ch in part)]
        text = " ".join(kept).strip(".-/")
        if len(text) >= 3 and text.isalpha() and text not in found:
            x0, y0, x1, y1 = word["box"]
            found[text] = ((x0 + x1) / 2, (y0 + y1) / 2)
    return found

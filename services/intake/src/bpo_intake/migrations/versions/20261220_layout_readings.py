"""A layout's rules keep the reading that found their values by what it is, the date format or
the decimal separator, no longer by its place in the job's list, which another job of the
client may order otherwise. A rule kept by place is given the reading that place holds in
every job whose items are of the layout; where those jobs hold different readings there, or
none has the field, the rule is dropped and learned again. A remembered constant, read no
particular way, is kept.

Revision ID: intake_0032
Revises: intake_0031
Create Date: 2026-12-20 09:00:00+00:00
"""

import json
from collections import defaultdict
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "intake_0032"
down_revision = "intake_0031"
branch_labels = None
depends_on = None

CONSTANT = "constant"
_JOBS_OF_LAYOUTS = sa.text(
    "SELECT l.layout_id, j.fields::text"
    " FROM (SELECT DISTINCT layout_id, job_id FROM item WHERE layout_id IS NOT NULL) l"
    " JOIN job j ON j.id = l.job_id"
)
_LAYOUTS = sa.text("SELECT id, model::text FROM extraction_layout ORDER BY id FOR UPDATE")
_SET_MODEL = sa.text("UPDATE extraction_layout SET model = CAST(:model AS jsonb) WHERE id = :id")


def upgrade() -> None:
    connection = op.get_bind()
    # {layout: {field: [each job's readings, in its order]}}
    readings: dict[Any, dict[str, list[list[str]]]] = defaultdict(lambda: defaultdict(list))
    for layout_id, fields in connection.execute(_JOBS_OF_LAYOUTS):
        for field in json.loads(fields):
            readings[layout_id][field["name"]].append(_readings(field))
    for layout_id, text in connection.execute(_LAYOUTS).all():
        model = json.loads(text)
        turned = {
            name: _turned(rows, readings[layout_id].get(name, [])) for name, rows in model.items()
        }
        if turned != model:
            connection.execute(_SET_MODEL, {"id": layout_id, "model": json.dumps(turned)})


def downgrade() -> None:
    """Nothing to undo: the earlier release finds no rule of a reading it does not number,
    and learns its rules again."""


def _readings(field: dict[str, Any]) -> list[str]:
    """The readings of a field as the earlier release numbered them (its
    `domain.extraction.readings`): each date format, both decimal separators (the field's
    first), else one."""
    kind = field.get("type")
    if kind == "date" and field.get("date_formats"):
        return list(field["date_formats"])
    if kind in ("decimal", "integer"):
        first = field.get("decimal_separator") or "."
        return [first, "," if first == "." else "."]
    return [""]


def _turned(rows: list[list[Any]], jobs: list[list[str]]) -> list[list[Any]]:
    """The field's rules with their readings by value: those every job reads alike."""
    kept: list[list[Any]] = []
    seen: set[tuple[str, str, str]] = set()
    for label, relation, reading, *record in rows:
        if isinstance(reading, str):
            value: str | None = reading
        elif relation == CONSTANT:
            value = ""
        else:
            named = {job[reading] if 0 <= reading < len(job) else None for job in jobs}
            value = named.pop() if len(named) == 1 else None
        if value is not None and (label, relation, value) not in seen:
            seen.add((label, relation, value))
            kept.append([label, relation, value, *record])
    return kept

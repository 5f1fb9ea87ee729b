"""What every service's audit trail must do (bpo_common.audit), as checks its tests share."""

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import String, cast, func, select, text
from sqlalchemy.exc import DBAPIError

from bpo_common.audit import NDJSON, AuditEventOut
from bpo_common.auth import Role, Scope
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_common.tables import audit_event
from bpo_devtools.testing import Tokens, assert_problem


async def audit_rows(sessions: SessionFactory, **where: Any) -> list[AuditEventOut]:
    """A service's audit rows, oldest first, whose columns hold these values
    (`actor="alice"`)."""
    query = select(audit_event).order_by(audit_event.c.id)
    for column, value in where.items():
        query = query.where(audit_event.c[column] == value)
    async with sessions() as session:
        rows = (await session.execute(query)).all()
    return [AuditEventOut.model_validate(dict(row._mapping)) for row in rows]


async def assert_nowhere_in_the_trail(sessions: SessionFactory, value: str) -> None:
    """No audit row of the service holds `value`, in any column."""
    as_text = cast(func.row_to_json(audit_event.table_valued()), String)
    query = select(func.count()).select_from(audit_event).where(as_text.contains(value))
    async with sessions() as session:
        assert (await session.execute(query)).scalar_one() == 0


async def assert_append_only(sessions: SessionFactory) -> None:
    """UPDATE, DELETE and TRUNCATE of the audit table fail with the trigger's error, even
    those that match no row."""
    statements = [
        "UPDATE audit_event SET summary = '{}'",
        "DELETE FROM audit_event WHERE actor = 'nobody at all'",
        "TRUNCATE audit_event",
    ]
    for statement in statements:
        async with sessions() as session:
            with pytest.raises(DBAPIError, match="audit_event is append-only"):
                async with session.begin():
                    await session.execute(text(statement))


def admin(tokens: Tokens, subject: str) -> dict[str, str]:
    """A manager with every scope, named `subject`."""
    return tokens.headers(Role.MANAGER, subject, scopes=list(Scope))


async def assert_only_admins_read_the_trail(api: httpx.AsyncClient, tokens: Tokens) -> None:
    others = [
        tokens.manager(Scope.OPS, Scope.FINANCE),
        tokens.client(new_id()),
        tokens.contractor(new_id()),
    ]
    for headers in others:
        assert_problem(await api.get("/v1/audit", headers=headers), 403)
    read = await api.get("/v1/audit", params={"limit": 1}, headers=tokens.manager(Scope.ADMIN))
    assert read.status_code == 200, read.text
    assert set(read.json()) == {"data", "next_cursor"}


async def assert_the_trail_reads_back(
    api: httpx.AsyncClient, tokens: Tokens, rows: Sequence[AuditEventOut]
) -> None:
    """An admin finds `rows` (all of one actor's, oldest first, at least two) at
    GET /v1/audit: by actor, a page at a time, by object, by time, and all as NDJSON."""
    assert len(rows) >= 2
    headers = tokens.manager(Scope.ADMIN)
    actor = {"actor": rows[0].actor}

    async def found(**params: Any) -> list[AuditEventOut]:
        response = await api.get("/v1/audit", params=params, headers=headers)
        assert response.status_code == 200, response.text
        return [AuditEventOut.model_validate(row) for row in response.json()["data"]]

    assert await found(**actor) == list(rows)
    first = await api.get("/v1/audit", params={**actor, "limit": 1}, headers=headers)
    assert [row["id"] for row in first.json()["data"]] == [str(rows[0].id)]
    cursor = first.json()["next_cursor"]
    assert await found(**actor, limit=1, cursor=cursor) == [rows[1]]
    for object_id in {row.object_id for row in rows} - {None}:
        assert await found(**actor, object_id=object_id) == [
            row for row in rows if row.object_id == object_id
        ]
    assert await found(**actor, object_id=str(new_id())) == []
    last = rows[-1]
    tick = timedelta(microseconds=1)
    assert await found(**actor, **{"from": rows[1].at.isoformat()}) == list(rows[1:])
    assert await found(**actor, to=rows[1].at.isoformat()) == [rows[0]]
    window = {"from": rows[0].at.isoformat(), "to": (last.at + tick).isoformat()}
    assert await found(**actor, **window) == list(rows)
    backwards = {"from": last.at.isoformat(), "to": rows[0].at.isoformat()}
    assert_problem(await api.get("/v1/audit", params=backwards, headers=headers), 422)

    exported = await api.get("/v1/audit", params=actor, headers={**headers, "Accept": NDJSON})
    assert exported.status_code == 200, exported.text
    assert exported.headers["content-type"] == NDJSON
    lines = exported.text.splitlines()
    assert [AuditEventOut.model_validate_json(line) for line in lines] == list(rows)

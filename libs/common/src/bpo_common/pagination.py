"""Cursor pagination over time-ordered ids: `?limit=&cursor=` in, `{data, next_cursor}` out.

A repository reads one page with `paginate(query, id_column, page)`: rows after the cursor, in
id order, one more than the limit; a use case turns them into the answer with
`make_page(rows, page, view)`, the extra row saying that another page exists.
"""

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Generic, Protocol, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Select
from sqlalchemy.orm import QueryableAttribute

from bpo_common.errors import FieldError, Invalid

T = TypeVar("T")
R = TypeVar("R", bound="Identified")
Q = TypeVar("Q", bound=Select[Any])

MAX_LIMIT = 500


class Identified(Protocol):
    @property
    def id(self) -> UUID: ...


class Page(BaseModel, Generic[T]):
    data: list[T]
    next_cursor: str | None


@dataclass(frozen=True)
class PageRequest:
    limit: int
    after: UUID | None


def encode_cursor(last_id: UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> UUID:
    try:
        return UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error) as exc:
        raise Invalid(
            "the cursor is not one this API returned",
            errors=[FieldError("cursor", "pass next_cursor from the previous page unchanged")],
        ) from exc


async def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageRequest, Depends(page_request)]


def paginate(
    query: Q, id_column: ColumnElement[UUID] | QueryableAttribute[UUID], page: PageRequest
) -> Q:
    """The query limited to one page: rows after the cursor in id order, plus one."""
    if page.after is not None:
        query = query.where(id_column > page.after)
    return query.order_by(id_column).limit(page.limit + 1)


def make_page(rows: Sequence[R], page: PageRequest, view: Callable[[R], T]) -> Page[T]:
    """The page of `rows` (a `paginate` query's, up to limit + 1 in id order), each shown by
    `view`; the extra row says another page exists."""
    shown = rows[: page.limit]
    more = len(rows) > page.limit
    return Page[T](
        data=[view(row) for row in shown],
        next_cursor=encode_cursor(shown[-1].id) if more else None,
    )

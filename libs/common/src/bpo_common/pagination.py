"""Cursor pagination over time-ordered ids: `?limit=&cursor=` in, `{data, next_cursor}` out."""

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Generic, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel

from bpo_common.errors import FieldError, Invalid

T = TypeVar("T")

MAX_LIMIT = 500


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


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page size")] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> PageRequest:
    return PageRequest(limit=limit, after=decode_cursor(cursor) if cursor else None)


PageDep = Annotated[PageRequest, Depends(page_request)]


def make_page(rows: Sequence[T], request: PageRequest, key: Callable[[T], UUID]) -> Page[T]:
    """`rows` holds up to limit + 1 rows in id order; the extra one says another page exists."""
    data = list(rows[: request.limit])
    more = len(rows) > request.limit
    return Page[T](data=data, next_cursor=encode_cursor(key(data[-1])) if more else None)

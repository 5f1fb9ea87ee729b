"""Every query of the intake service, one module per aggregate."""

from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import Select
from sqlalchemy.orm import QueryableAttribute

Q = TypeVar("Q", bound=Select[Any])


def of_client(query: Q, client_id: QueryableAttribute[UUID], scope: UUID | None) -> Q:
    """The query limited to one client's rows when `scope` names one (None: every client's)."""
    return query if scope is None else query.where(client_id == scope)

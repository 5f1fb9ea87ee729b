"""Every query of the intake service, one module per aggregate."""

from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from sqlalchemy import ColumnElement, Exists, Select, String, case, exists, func, or_
from sqlalchemy.orm import QueryableAttribute

from bpo_intake.models import Erasure, Item, Job, Qualification

Q = TypeVar("Q", bound=Select[Any])


def of_client(query: Q, client_id: QueryableAttribute[UUID], scope: UUID | None) -> Q:
    """The query limited to one client's rows when `scope` names one (None: every client's)."""
    return query if scope is None else query.where(client_id == scope)


def job_ended() -> ColumnElement[datetime]:
    """When a job ended, as retention counts from: when it completed or, if later, when it
    was closed (it completes when its last item became final, which may be long before its
    close); or when it was cancelled."""
    completed = func.greatest(Job.completed_at, Job.closed_at)
    return case((Job.completed_at.is_not(None), completed), else_=Job.cancelled_at)


def is_a_set(job_id: QueryableAttribute[UUID]) -> Exists:
    """Whether the job is a qualification's set: retention keeps its values and documents,
    which its copies are made and keyed from."""
    return exists().where(Qualification.job_id == job_id)


def is_erased() -> Exists:
    """Whether the item's data was erased, its own or its job's (an erased item keeps its row,
    and its documents' ids)."""
    return exists().where(
        Erasure.job_id == Item.job_id,
        or_(Erasure.item_ids.is_(None), Erasure.item_ids.has_key(Item.id.cast(String))),
    )

"""What several billing routes share: the Accept header and the formats they answer in, and
the reporting period of a query."""

from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import Header, Query

from bpo_common.clock import Day, utcnow
from bpo_common.errors import FieldError, Invalid
from bpo_common.media import negotiate

JSON = "application/json"
PDF = "application/pdf"

AcceptHeader = Annotated[str | None, Header(alias="Accept")]
PeriodStart = Annotated[Day | None, Query(description="first day (UTC); default: this month's")]
PeriodEnd = Annotated[Day | None, Query(description="last day (UTC), included; default: today")]

# How the OpenAPI document shows a response that comes as CSV text or PDF bytes.
AS_TEXT: dict[str, Any] = {"schema": {"type": "string"}}
AS_BINARY: dict[str, Any] = {"schema": {"type": "string", "format": "binary"}}


def chosen_format(accept: str | None, offered: Sequence[str]) -> str:
    """The offered media type Accept prefers most; the first offered when it has none."""
    return negotiate(accept, offered, f"this comes as {', '.join(offered)}; Accept allows none")


def period(start: date | None, end: date | None) -> tuple[date, date]:
    """The period asked for: up to today unless its end is given, from the first day of its
    end's month unless its start is; never ending before it starts."""
    if end is None and start is not None and start > utcnow().date():
        raise _backwards("period_start", "must not be after the period's end, today by default")
    end = end or utcnow().date()
    start = start or end.replace(day=1)
    in_order(start, end)
    return start, end


def in_order(start: date | None, end: date | None) -> None:
    """Refuse a period that ends before it starts."""
    if start is not None and end is not None and end < start:
        raise _backwards("period_end", "must not be before period_start")


def _backwards(field: str, message: str) -> Invalid:
    return Invalid("the period ends before it starts", errors=[FieldError(field, message)])

"""Piece rates and contractors' earnings statements, as JSON or CSV."""

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Response
from fastapi.responses import JSONResponse

from bpo_billing.routes.parameters import (
    AS_TEXT,
    JSON,
    AcceptHeader,
    PeriodEnd,
    PeriodStart,
    chosen_format,
    period,
)
from bpo_billing.schemas import EarningsStatement, PieceRatesIn, PieceRatesOut
from bpo_billing.service import earnings as service
from bpo_common import audit
from bpo_common.auth import (
    Finance,
    Principal,
    Role,
    Scope,
    require_role,
    the_contractor_or_a_manager,
)
from bpo_common.db import SessionDep
from bpo_common.media import CSV, attachment, csv_text
from bpo_common.openapi import PROBLEM_RESPONSE
from bpo_common.rules import WORK_TYPE_PATTERN
from bpo_common.text import CheckedRoute

router = APIRouter(prefix="/v1", route_class=CheckedRoute)

# The path's contractor, to a finance manager or to that contractor themself.
EarningsOf = Annotated[
    UUID,
    Depends(
        the_contractor_or_a_manager("no earnings for contractor {contractor_id}", Scope.FINANCE)
    ),
]
# Contractors, and managers of finance: what work pays.
ContractorOrFinance = Annotated[
    Principal, Depends(require_role(Role.CONTRACTOR, Role.MANAGER, manager=[Scope.FINANCE]))
]


@router.put("/piece-rates/{work_type}", tags=["contractors"], responses={422: PROBLEM_RESPONSE})
async def put_piece_rates(
    work_type: Annotated[str, Path(pattern=WORK_TYPE_PATTERN)],
    body: PieceRatesIn,
    session: SessionDep,
    _: Finance,
) -> PieceRatesOut:
    """Set what entry, review and adjudication tasks on a work type pay."""
    audit.summarize(session, fields=sorted(body.model_fields_set))
    return await service.put_piece_rates(session, work_type, body)


@router.get("/piece-rates", tags=["contractors"])
async def list_piece_rates(session: SessionDep, _: ContractorOrFinance) -> list[PieceRatesOut]:
    """The piece rates of every work type."""
    return await service.piece_rates(session)


@router.get(
    "/contractors/{contractor_id}/earnings",
    tags=["contractors"],
    response_model=EarningsStatement,
    responses={200: {"content": {JSON: {}, CSV: AS_TEXT}}, 406: PROBLEM_RESPONSE},
)
async def get_earnings(
    contractor_id: EarningsOf,
    session: SessionDep,
    period_start: PeriodStart = None,
    period_end: PeriodEnd = None,
    accept: AcceptHeader = None,
) -> Response:
    """A contractor's piece-rate statement for a period, as JSON or CSV: managers and that
    contractor only."""
    chosen = chosen_format(accept, [JSON, CSV])
    start, end = period(period_start, period_end)
    statement = await service.earnings_statement(session, contractor_id, start, end)
    if chosen == CSV:
        headers = attachment(f"earnings-{contractor_id}-{start}-{end}.csv")
        return Response(csv_text(_statement_rows(statement)), media_type=CSV, headers=headers)
    content: dict[str, Any] = statement.model_dump(mode="json")
    return JSONResponse(content, headers={"Vary": "Accept"})


def _statement_rows(statement: EarningsStatement) -> list[list[object]]:
    """One row per group of the statement, then one total per currency."""
    rows: list[list[object]] = [
        ["contractor_id", "period_start", "period_end", "work_type", "kind", "outcome", "tasks",
         "rate", "amount", "currency"],
    ]  # fmt: skip
    for line in statement.lines:
        rows.append([statement.contractor_id, statement.period_start, statement.period_end,
                     line.work_type, line.kind.value, line.outcome.value, line.tasks, line.rate,
                     line.amount, line.currency])  # fmt: skip
    for currency, total in sorted(statement.totals.items()):
        rows.append([statement.contractor_id, statement.period_start, statement.period_end,
                     "total", "", "", "", "", total, currency])  # fmt: skip
    return rows

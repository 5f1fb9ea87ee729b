"""The manager dashboard: one server-rendered page with charts, signed in by cookie
(bpo_common.pages). The page's figures come from the same service calls as the API.
"""

import re
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field, field_validator

from bpo_common.auth import Role, Scope, scope_refusal
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep
from bpo_common.errors import DATABASE_ERRORS, database_refusal
from bpo_common.pages import HEADERS, add_sign_in, page_parameters, sign_in
from bpo_common.text import CheckedRoute
from bpo_reporting.service import dashboard as service
from bpo_reporting.settings import SettingsDep

PACKAGE = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE / "static"
templates = Jinja2Templates(directory=PACKAGE / "templates")

router = APIRouter(prefix="/dashboard", include_in_schema=False, route_class=CheckedRoute)


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status, headers=HEADERS)


add_sign_in(
    router,
    _page,
    Role.MANAGER,
    "dashboard",
    "bpo_dashboard",
)


class Shown(BaseModel):
    """What the page's address asks for: the days up to today, and the currency of money."""

    days: int = Field(default=7, ge=1, le=31)
    currency: str | None = None

    @field_validator("currency")
    @classmethod
    def _a_code(cls, currency: str | None) -> str | None:
        if currency is not None and not re.fullmatch("[A-Z]{3}", currency):
            raise ValueError("a currency's three capital letters, as EUR")
        return currency


@router.get("")
async def dashboard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bpo_dashboard: Annotated[str | None, Cookie()] = None,
) -> Response:
    signed = await sign_in(request, bpo_dashboard, Role.MANAGER, "dashboard")
    if signed.principal is None:
        # Without a token, or with one no longer valid, to the form; refused, told why.
        if signed.status == 401:
            return RedirectResponse("/dashboard/login", status_code=303, headers=HEADERS)
        return _page(request, "login.html", signed.status, error=signed.reason)
    # The reports' figures, so the reports' scopes.
    refusal = scope_refusal(signed.principal, [Scope.OPS, Scope.FINANCE])
    if refusal is not None:
        return _page(request, "login.html", 403, error=refusal)
    shown, notes = page_parameters(request, Shown)
    try:
        view = await service.dashboard(
            session, utcnow(), shown.days, shown.currency, settings.forecast_window_hours
        )
    except DATABASE_ERRORS as exc:
        # The database out of reach (restarting, down) or the reads meeting a rebuild: said on
        # a page of the dashboard's own, with the status and Retry-After an API call gets,
        # where a problem in JSON would leave the manager no way on.
        refused = database_refusal(request, exc)
        if refused is None:
            raise
        # Ended here: the request's session would commit it as the route ends, and a
        # transaction whose connection was lost cannot be committed (a 500 in its place).
        await session.rollback()
        page = _page(request, "unavailable.html", refused.status, reason=refused.detail)
        page.headers.update(refused.headers)
        return page
    return _page(
        request,
        "dashboard.html",
        400 if notes else 200,
        who=signed.principal.subject,
        view=view,
        notes=notes,
    )

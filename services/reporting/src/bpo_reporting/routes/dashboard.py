"""The manager dashboard: one server-rendered page with charts, signed in by cookie
(bpo_common.pages). The page's figures come from the same service calls as the API.
"""

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Cookie, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from bpo_common.auth import Role, Scope, scope_refusal
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep
from bpo_common.pages import HEADERS, add_sign_in, sign_in
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


@router.get("")
async def dashboard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bpo_dashboard: Annotated[str | None, Cookie()] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
) -> Response:
    signed = await sign_in(request, bpo_dashboard, Role.MANAGER, "dashboard")
    if signed.status == 403:
        return _page(request, "login.html", 403, error=signed.reason)
    if signed.principal is None:
        return RedirectResponse("/dashboard/login", status_code=303, headers=HEADERS)
    # The reports' figures, so the reports' scopes.
    refusal = scope_refusal(signed.principal, [Scope.OPS, Scope.FINANCE])
    if refusal is not None:
        return _page(request, "login.html", 403, error=refusal)
    view = await service.dashboard(
        session, utcnow(), days, currency, settings.forecast_window_hours
    )
    return _page(request, "dashboard.html", who=signed.principal.subject, view=view)

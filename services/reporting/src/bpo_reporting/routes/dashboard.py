"""The manager dashboard: one server-rendered page with charts, signed in by cookie.

A manager pastes a token into the login form; it is kept in an HttpOnly, SameSite=Strict
cookie (Secure with BPO_REPORTING_COOKIE_SECURE), so page scripts never see it and other
sites cannot send it. The page's figures come from the same service calls as the API.
"""

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Cookie, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from bpo_common.auth import Principal, Role, TokenVerifier
from bpo_common.clock import utcnow
from bpo_common.db import SessionDep
from bpo_common.errors import DomainError
from bpo_common.text import CheckedRoute
from bpo_reporting.service import dashboard as service
from bpo_reporting.settings import SettingsDep

PACKAGE = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE / "static"
templates = Jinja2Templates(directory=PACKAGE / "templates")

router = APIRouter(prefix="/dashboard", include_in_schema=False, route_class=CheckedRoute)

COOKIE = "bpo_dashboard"
MAX_COOKIE_AGE_S = 12 * 3600
# Everything from this origin; no inline script, nothing fetched from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class SignIn:
    """What a token is worth here: a manager, or the status and reason it is refused."""

    manager: Principal | None
    status: int = 200
    reason: str = ""


async def _sign_in(request: Request, token: str | None) -> SignIn:
    if not token:
        return SignIn(None, 401, "paste a token")
    verifier: TokenVerifier = request.app.state.runtime.verifier
    try:
        principal = await verifier.verify(token)
    except DomainError as exc:
        return SignIn(None, exc.status, exc.detail)
    if principal.role is not Role.MANAGER:
        reason = f"the dashboard is for managers; this token is for a {principal.role.value}"
        return SignIn(None, 403, reason)
    return SignIn(principal)


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status, headers=HEADERS)


@router.get("/login")
async def login_form(request: Request) -> HTMLResponse:
    return _page(request, "login.html")


@router.post("/login")
async def login(
    request: Request, settings: SettingsDep, token: Annotated[str, Form(max_length=8192)]
) -> Response:
    signed = await _sign_in(request, token.strip())
    if signed.manager is None:
        return _page(request, "login.html", signed.status, error=signed.reason)
    claims = jwt.decode(token.strip(), options={"verify_signature": False})
    max_age = int(min(float(claims["exp"]) - time.time(), MAX_COOKIE_AGE_S))
    response = RedirectResponse("/dashboard", status_code=303, headers=HEADERS)
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=max(max_age, 0),
        path="/dashboard",
        httponly=True,
        samesite="strict",
        secure=settings.cookie_secure,
    )
    return response


@router.post("/logout")
async def logout(settings: SettingsDep) -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303, headers=HEADERS)
    response.delete_cookie(
        COOKIE, path="/dashboard", httponly=True, samesite="strict", secure=settings.cookie_secure
    )
    return response


@router.get("")
async def dashboard(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    bpo_dashboard: Annotated[str | None, Cookie()] = None,
    days: Annotated[int, Query(ge=1, le=31)] = 7,
    currency: Annotated[str | None, Query(pattern="^[A-Z]{3}$")] = None,
) -> Response:
    signed = await _sign_in(request, bpo_dashboard)
    if signed.status == 403:
        return _page(request, "login.html", 403, error=signed.reason)
    if signed.manager is None:
        return RedirectResponse("/dashboard/login", status_code=303, headers=HEADERS)
    view = await service.dashboard(
        session, utcnow(), days, currency, settings.forecast_window_hours
    )
    return _page(request, "dashboard.html", who=signed.manager.subject, view=view)

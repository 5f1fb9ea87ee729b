"""The contractors' workbench: one server-rendered page, signed in by cookie
(bpo_common.pages), whose script works through the public API: it claims, shows the
documents, checks fields as they are left (POST /v1/tasks/{id}/check, the same rule engine
as submit), keeps the lease alive and submits. The cookie goes with the page's API calls,
which name the page in the X-BPO-Page header (bpo_common.auth)."""

import asyncio
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Body, Cookie, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.templating import Jinja2Templates

from bpo_common.auth import PAGE_COOKIES, Principal, Role, contractor_id_of
from bpo_common.pages import HEADERS, add_sign_in, sign_in
from bpo_common.text import CheckedRoute
from bpo_intake.domain.instructions import as_html
from bpo_intake.service import contractors
from bpo_intake.settings import SettingsDep

PACKAGE = Path(__file__).resolve().parent.parent
STATIC_DIR = PACKAGE / "static"
templates = Jinja2Templates(directory=PACKAGE / "templates")

router = APIRouter(prefix="/work", include_in_schema=False, route_class=CheckedRoute)

PAGE = "workbench"


def _page(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, context, status_code=status, headers=HEADERS)


async def _give_back(request: Request, contractor: Principal) -> None:
    """Signing out gives back the tasks the contractor holds: the page's own give-back, as it
    goes, would come after the sign-out ended its cookie, and be refused."""
    async with request.app.state.runtime.sessions() as session, session.begin():
        await contractors.let_go_of_leases(session, contractor_id_of(contractor))


# The page's script calls /v1 with the cookie: it goes to every path of the service.
add_sign_in(
    router,
    _page,
    Role.CONTRACTOR,
    PAGE,
    PAGE_COOKIES[PAGE],
    scope="/",
    signed_out=_give_back,
)


@router.get("")
async def workbench(
    request: Request,
    settings: SettingsDep,
    bpo_work: Annotated[str | None, Cookie()] = None,
) -> Response:
    signed = await sign_in(request, bpo_work, Role.CONTRACTOR, PAGE)
    if signed.principal is None:
        # Without a token, or with one no longer valid, to the form; refused, told why.
        if signed.status == 401:
            return RedirectResponse("/work/login", status_code=303, headers=HEADERS)
        return _page(request, "login.html", signed.status, error=signed.reason)
    return _page(
        request,
        "workbench.html",
        who=signed.principal.subject,
        lease_seconds=settings.lease_seconds,
    )


@router.post("/instructions")
async def instructions(
    request: Request,
    markdown: Annotated[str, Body(embed=True, max_length=20_000)],
    bpo_work: Annotated[str | None, Cookie()] = None,
) -> Response:
    """A job's instructions as the page shows them: Markdown as HTML, raw HTML as text, in JSON
    (`{"html": ...}`), which a proxy's page on 200 (its sign-in page) is not."""
    signed = await sign_in(request, bpo_work, Role.CONTRACTOR, PAGE)
    if signed.principal is None:
        return Response(signed.reason, status_code=signed.status, headers=HEADERS)
    # Rendered beside the event loop: up to 20,000 characters of Markdown, parsed in Python,
    # which every other request of this process would otherwise wait out.
    return JSONResponse({"html": await asyncio.to_thread(as_html, markdown)}, headers=HEADERS)

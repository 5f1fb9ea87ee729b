"""Server-rendered pages (the dashboard, the workbench): their headers, their own scripts and
styles, and signing in by cookie.

A person pastes a token into a sign-in form; it is kept in an HttpOnly, SameSite=Strict
cookie scoped to the page's path (Secure when the service says so), so page scripts never
see it and other sites cannot send it. Everything the page loads comes from its own origin.
The form takes the token from its body only, never from the address, and only when posted
from a page of the service's own origin (no login CSRF).
"""

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, Protocol, TypeVar
from urllib.parse import urlsplit

import jwt
import structlog
from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ValidationError
from starlette.types import Scope

from bpo_common.auth import Principal, Role, TokenVerifier, remember_caller
from bpo_common.errors import DomainError, said

log = structlog.get_logger(__name__)

MAX_COOKIE_AGE_S = 12 * 3600
# What a browser keeps of a cookie's name and value together (RFC 6265bis); it drops a longer
# one without a word.
MAX_COOKIE_BYTES = 4096
# The longest token the sign-in form reads further than its length.
MAX_TOKEN_LENGTH = 8192
# Everything from this origin; no inline script, nothing fetched from elsewhere.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    # Not no-referrer: under it a browser sends `Origin: null` even with the page's own forms,
    # and the sign-in could not tell them from a forged one. Nothing goes to other sites.
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


class PageFiles(StaticFiles):
    """A page's own scripts and styles, which its HTML names by fixed paths. A browser asks
    each time whether its copy is still current (`no-cache`; the ETag makes that a 304), so
    after an upgrade the new page runs with the new script: left to itself, it reuses such a
    file without asking for a tenth of the file's age."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = "no-cache"
        return response


Parameters = TypeVar("Parameters", bound=BaseModel)


def page_parameters(request: Request, model: type[Parameters]) -> tuple[Parameters, list[str]]:
    """A page's parameters as `model` (whose every field has a default) reads them from the
    address, and a note for each one that does not fit, naming it and what is wrong: it is
    left at its default. A person edits a page's address by hand, and is told on the page,
    which a problem in JSON would replace."""
    given = dict(request.query_params)
    try:
        return model.model_validate(given), []
    except ValidationError as exc:
        wrong = {str(error["loc"][0]): said(error) for error in exc.errors()}
    notes = [
        f"{name} is left out: {message[:1].lower()}{message[1:]}" for name, message in wrong.items()
    ]
    kept = {name: value for name, value in given.items() if name not in wrong}
    return model.model_validate(kept), notes


@dataclass(frozen=True)
class SignIn:
    """What a token is worth on a page: the person, or the status and reason it is refused."""

    principal: Principal | None
    status: int = 200
    reason: str = ""


async def sign_in(request: Request, token: str | None, role: Role, page: str) -> SignIn:
    """The token's holder, if it is valid and for `role` (the one `page` is for). Any page
    asked for with a token in its address is refused, whatever the cookie holds: its holder
    is to be told to have that token replaced."""
    if _token_in_address(request):
        return SignIn(None, 400, ADDRESS_REFUSAL)
    if not token:
        return SignIn(None, 401, "paste a token")
    verifier: TokenVerifier = request.app.state.runtime.verifier
    try:
        principal = await verifier.verify(token)
    except DomainError as exc:
        return SignIn(None, exc.status, exc.detail)
    remember_caller(request, principal)
    if principal.role is not role:
        reason = f"the {page} is for {role.value}s; this token is for a {principal.role.value}"
        return SignIn(None, 403, reason)
    return SignIn(principal)


@dataclass(frozen=True)
class PageCookie:
    """The cookie a page keeps its token in, and where the page lives. `scope`: the paths the
    cookie goes to, when it is more than the page's own (a page that calls the API)."""

    name: str
    path: str
    secure: bool
    scope: str | None = None

    def refusal(self, token: str) -> SignIn | None:
        """Why a browser would not keep a token in this cookie, and so send its holder back to
        the sign-in form without a word: it is too long for a browser (told first: that needs
        no reading of the token), or it would end at once (a valid token expired within the
        leeway tokens are taken in)."""
        size = len(self.name.encode()) + len(token.encode())
        if size > MAX_COOKIE_BYTES:
            reason = (
                f"the token is too long to keep in a browser cookie ({size:,} bytes with the "
                f"cookie's name; a browser keeps {MAX_COOKIE_BYTES:,})"
            )
            return SignIn(None, 400, reason)
        if self._max_age(token) <= 0:
            return SignIn(None, 401, "the token has expired")
        return None

    def signed_in(self, token: str) -> RedirectResponse:
        """To the page, with the token kept until it expires (at most MAX_COOKIE_AGE_S)."""
        response = RedirectResponse(self.path, status_code=303, headers=HEADERS)
        response.set_cookie(
            self.name,
            token,
            max_age=self._max_age(token),
            path=self.scope or self.path,
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )
        return response

    @staticmethod
    def _max_age(token: str) -> int:
        """The seconds the token has left, at most MAX_COOKIE_AGE_S; 0 once it has expired."""
        claims = jwt.decode(token, options={"verify_signature": False})
        return max(int(min(float(claims["exp"]) - time.time(), MAX_COOKIE_AGE_S)), 0)

    def signed_out(self) -> RedirectResponse:
        """To the sign-in form, the cookie gone."""
        response = RedirectResponse(f"{self.path}/login", status_code=303, headers=HEADERS)
        response.delete_cookie(
            self.name,
            path=self.scope or self.path,
            httponly=True,
            samesite="strict",
            secure=self.secure,
        )
        return response


class Render(Protocol):
    """How a service renders one of its templates."""

    def __call__(
        self, request: Request, name: str, status: int = 200, **context: Any
    ) -> HTMLResponse: ...


# What a page does as its holder signs out, while their token is still at hand.
SignedOut = Callable[[Request, Principal], Awaitable[None]]


def add_sign_in(
    router: APIRouter,
    render: Render,
    role: Role,
    page: str,
    cookie: str,
    scope: str | None = None,
    signed_out: SignedOut | None = None,
) -> None:
    """GET and POST `<prefix>/login` (the form, `login.html`, and its token) and POST
    `<prefix>/logout` on the page's router: `page`'s sign-in for `role`, kept in `cookie`;
    `signed_out`, if any, is done for whoever signs out with a valid token."""

    def page_cookie(request: Request) -> PageCookie:
        secure = bool(request.app.state.runtime.settings.cookie_secure)
        return PageCookie(cookie, router.prefix, secure, scope)

    @router.get("/login")
    async def login_form(request: Request) -> HTMLResponse:
        if _token_in_address(request):
            return render(request, "login.html", 400, error=ADDRESS_REFUSAL)
        return render(request, "login.html")

    @router.post("/login")
    async def login(request: Request, token: Annotated[str | None, Form()] = None) -> Response:
        if _token_in_address(request):
            return render(request, "login.html", 400, error=ADDRESS_REFUSAL)
        # A form on another site must not sign the person in as someone else.
        if _from_another_site(request):
            return render(request, "login.html", 403, error="sign in from this page")
        pasted = (token or "").strip()
        kept = page_cookie(request)
        # A token is verified before it is refused, so that the audit trail names who was
        # turned away; one far longer than any cookie is not worth the reading.
        refused = kept.refusal(pasted) if len(pasted) > MAX_TOKEN_LENGTH else None
        if refused is None:
            signed = await sign_in(request, pasted, role, page)
            refused = signed if signed.principal is None else kept.refusal(pasted)
        if refused is not None:
            return render(request, "login.html", refused.status, error=refused.reason)
        return kept.signed_in(pasted)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        if _from_another_site(request):
            return render(request, "login.html", 403, error="sign out from this page")
        signed = await sign_in(request, request.cookies.get(cookie), role, page)
        if signed_out is not None and signed.principal is not None:
            try:
                await signed_out(request, signed.principal)
            except Exception as exc:  # the sign-out itself must not fail (a shared screen)
                log.warning("a sign-out's own work failed", page=page, error=repr(exc))
        return page_cookie(request).signed_out()


ADDRESS_REFUSAL = (
    "a token in a web address stays in the browser's history and in server logs: "
    "paste it into the form instead, and have this one replaced"
)


def _token_in_address(request: Request) -> bool:
    return any(name in request.query_params for name in ("token", "access_token"))


def _from_another_site(request: Request) -> bool:
    """Whether the browser says the request comes from a page of another origin. By
    `Sec-Fetch-Site` when it sends one (every current browser does): anything but
    same-origin (or none, the person's own doing) is another site's. It compares what the
    browser sees, so it holds behind a proxy that passes the service another `Host`. A
    browser without it is judged by `Origin`: another host than the one asked (or none,
    `null`). Schemes are not compared: behind a proxy that ends TLS the service sees http.
    A client that sends neither header is not a browser a forged form can drive."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site not in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return False
    host = request.headers.get("host", "").lower()
    return origin == "null" or urlsplit(origin).netloc.lower() != host

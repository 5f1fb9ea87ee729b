"""Security headers on every response: a page sets its own policy (bpo_common.pages); anything
else, JSON, a problem, a file, may load nothing, run nothing and be framed by no one."""

from collections.abc import Collection, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

API_CSP = "default-src 'none'; frame-ancestors 'none'"
# FastAPI's /docs and /redoc: their scripts, styles and fonts from its CDNs, an inline script.
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https:; connect-src 'self'; "
    "worker-src blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
# What every response carries unless it says otherwise itself.
SECURITY_HEADERS: Mapping[str, str] = {
    "Content-Security-Policy": API_CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
_ENCODED = [(name.lower().encode(), value.encode()) for name, value in SECURITY_HEADERS.items()]
_CSP = b"content-security-policy"


class SecurityHeadersMiddleware:
    """Adds each of SECURITY_HEADERS a response does not set itself; `docs_paths` (the
    interactive API docs) get DOCS_CSP instead of API_CSP."""

    def __init__(self, app: ASGIApp, *, docs_paths: Collection[str] = ()) -> None:
        self.app = app
        self.docs_paths = frozenset(docs_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        docs = scope["path"] in self.docs_paths

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                for name, value in _ENCODED:
                    if name not in present:
                        headers.append(
                            (name, DOCS_CSP.encode() if docs and name == _CSP else value)
                        )
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)

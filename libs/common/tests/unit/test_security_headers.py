"""Security headers on every answer of an app built as the services build theirs: a policy a
response sets itself is kept, the API docs get theirs, and even a 500 carries them."""

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import HTMLResponse

from bpo_common.errors import install_error_handlers
from bpo_common.headers import API_CSP, DOCS_CSP, SecurityHeadersMiddleware
from bpo_common.pages import CSP, HEADERS


def _app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(SecurityHeadersMiddleware, docs_paths=["/docs"])
    install_error_handlers(app)

    @app.get("/thing")
    async def thing() -> dict[str, str]:
        return {"thing": "ok"}

    @app.get("/page")
    async def page() -> HTMLResponse:
        return HTMLResponse("<p>hello</p>", headers=HEADERS)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    return app


@pytest.mark.parametrize(("path", "status", "policy"), [
    ("/thing", 200, API_CSP),
    ("/nowhere", 404, API_CSP),
    ("/bug", 500, API_CSP),
    ("/page", 200, CSP),
    ("/docs", 200, DOCS_CSP),
])  # fmt: skip
async def test_every_answer_denies_framing_and_sniffing_and_keeps_its_address_home(
    path: str, status: int, policy: str
) -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get(path)
    assert response.status_code == status
    assert response.headers["Content-Security-Policy"] == policy
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    # A page names itself to its own origin alone (its forms then carry their Origin).
    referrer = "same-origin" if path == "/page" else "no-referrer"
    assert response.headers["Referrer-Policy"] == referrer
    assert response.headers["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in policy
    assert len(response.headers.get_list("Content-Security-Policy")) == 1

"""The dashboard's sign-in takes a token only from its own form, posted from its own origin;
and every answer of the service, page or JSON, error or health, carries the security headers.

The browser test drives Debian's Chromium through Playwright, as test_dashboard does.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import jwt
import pytest
from playwright.async_api import async_playwright

from bpo_common.auth import Role, issue_token
from bpo_common.clock import utcnow
from bpo_devtools.testing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TEST_AUDIENCE,
    TEST_ISSUER,
    TestStack,
    Tokens,
    assert_problem,
    serve_http,
)
from bpo_reporting.app import create_app
from bpo_reporting.settings import Settings

# The in-process client's origin: base_url http://service, so Host: service.
OWN_ORIGIN = "http://service"


@pytest.mark.parametrize("name", ["token", "access_token"])
async def test_a_token_in_the_address_is_refused_and_never_signs_in(
    reporting: httpx.AsyncClient, tokens: Tokens, name: str
) -> None:
    token = tokens.token(Role.MANAGER, "alice")

    shown = await reporting.get(f"/dashboard/login?{name}={token}")
    posted = await reporting.post(
        f"/dashboard/login?{name}={token}", data={"token": token}, headers={"Origin": OWN_ORIGIN}
    )
    # The page itself, even to someone signed in: they are to have that token replaced.
    page = await reporting.get(
        f"/dashboard?{name}={token}", headers={"Cookie": f"bpo_dashboard={token}"}
    )

    for refused in (shown, posted, page):
        assert refused.status_code == 400
        assert "set-cookie" not in refused.headers
        assert "paste it into the form instead, and have this one replaced" in refused.text
    assert 'id="overview"' not in page.text


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "http://service.evil.example"},
        {"Origin": "null"},
        {"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
async def test_a_sign_in_posted_from_another_site_is_refused(
    reporting: httpx.AsyncClient, tokens: Tokens, headers: dict[str, str]
) -> None:
    token = tokens.token(Role.MANAGER, "alice")
    forged = await reporting.post("/dashboard/login", data={"token": token}, headers=headers)
    assert forged.status_code == 403
    assert "set-cookie" not in forged.headers
    assert "sign in from this page" in forged.text


async def test_a_sign_in_posted_from_the_dashboards_own_page_is_accepted(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    token = tokens.token(Role.MANAGER, "alice")
    own = {"Origin": OWN_ORIGIN, "Sec-Fetch-Site": "same-origin"}

    signed = await reporting.post("/dashboard/login", data={"token": token}, headers=own)

    assert signed.status_code == 303
    assert signed.headers["set-cookie"].startswith(f"bpo_dashboard={token};")
    forged = await reporting.post("/dashboard/logout", headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert "set-cookie" not in forged.headers
    out = await reporting.post("/dashboard/logout", headers=own)
    assert out.status_code == 303


async def test_behind_a_proxy_that_passes_another_host_the_browser_says_which_site_posted(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    # nginx's proxy_pass sends Host: its upstream's name, not the one the browser asked.
    proxied = {"Host": "reporting:8004", "Origin": "https://bpo.example"}
    own, forged = {"Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "cross-site"}
    token = tokens.token(Role.MANAGER, "alice")

    signed = await reporting.post("/dashboard/login", data={"token": token}, headers=proxied | own)
    assert signed.status_code == 303, signed.text
    assert signed.headers["set-cookie"].startswith(f"bpo_dashboard={token};")
    refused = await reporting.post(
        "/dashboard/login", data={"token": token}, headers=proxied | forged
    )
    assert refused.status_code == 403
    assert "set-cookie" not in refused.headers
    assert "sign in from this page" in refused.text
    # A browser that does not say: Origin against Host, which this proxy does not keep.
    unsaid = await reporting.post("/dashboard/login", data={"token": token}, headers=proxied)
    assert unsaid.status_code == 403
    assert "sign in from this page" in unsaid.text

    cookie = {"Cookie": f"bpo_dashboard={token}"}
    kept = await reporting.post("/dashboard/logout", headers=proxied | forged | cookie)
    assert kept.status_code == 403
    assert "sign out from this page" in kept.text
    out = await reporting.post("/dashboard/logout", headers=proxied | own | cookie)
    assert out.status_code == 303
    assert out.headers["set-cookie"].startswith('bpo_dashboard="";')


async def test_a_token_expired_within_the_leeway_is_refused_not_kept_for_no_time(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    # Tokens are taken up to 30 s after they expire (clocks differ); a cookie is not.
    token = issue_token(
        tokens.private_key, subject="alice", role=Role.MANAGER, issuer=TEST_ISSUER,
        audience=TEST_AUDIENCE, ttl=timedelta(seconds=-10),
    )  # fmt: skip

    refused = await reporting.post(
        "/dashboard/login", data={"token": token}, headers={"Origin": OWN_ORIGIN}
    )

    assert refused.status_code == 401
    assert "set-cookie" not in refused.headers
    assert '<p class="error" role="alert">the token has expired</p>' in refused.text


async def test_a_token_too_long_for_a_browser_cookie_is_refused_saying_so(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    # As an identity provider's token with many group claims can be.
    now = utcnow()
    groups = [f"group-{n:04}" for n in range(300)]
    claims = {
        "sub": "alice", "role": "manager", "iss": TEST_ISSUER, "aud": TEST_AUDIENCE,
        "iat": now, "exp": now + timedelta(hours=1), "groups": groups,
    }  # fmt: skip
    token = jwt.encode(claims, tokens.private_key, algorithm="RS256")
    size = len("bpo_dashboard") + len(token)
    assert 4096 < size < 8192

    refused = await reporting.post(
        "/dashboard/login", data={"token": token}, headers={"Origin": OWN_ORIGIN}
    )

    assert refused.status_code == 400
    assert "set-cookie" not in refused.headers
    assert f"the token is too long to keep in a browser cookie ({size:,} bytes" in refused.text
    assert "a browser keeps 4,096)" in refused.text


@pytest.mark.parametrize(
    ("address", "notes"),
    [
        ("?days=90", ["days is left out: input should be less than or equal to 31"]),
        ("?days=abc&currency=EUR", ["days is left out: input should be a valid integer"]),
        ("?days=31&currency=eur", ["currency is left out: a currency&#39;s three capital letters"]),
    ],
)
async def test_an_address_the_dashboard_cannot_use_shows_the_page_and_says_what_is_left_out(
    reporting: httpx.AsyncClient, tokens: Tokens, address: str, notes: list[str]
) -> None:
    reporting.cookies.clear()
    cookie = {"Cookie": f"bpo_dashboard={tokens.token(Role.MANAGER, 'alice')}"}

    shown = await reporting.get(f"/dashboard{address}", headers=cookie)

    assert shown.status_code == 400
    assert shown.headers["content-type"].startswith("text/html")
    assert 'id="overview"' in shown.text
    assert [note in shown.text for note in notes] == [True] * len(notes)
    assert shown.text.count('class="error" role="alert"') == len(notes)
    # What was left out is at its default: the last 7 days, unless the address said 31.
    days = "31" if "days=31" in address else "7"
    assert f'aria-current="page">{days} d</a>' in shown.text


@pytest.mark.parametrize(
    ("form", "status", "said"),
    [
        ({}, 401, "paste a token"),
        (
            {"token": "x" * 9000},
            400,
            "the token is too long to keep in a browser cookie (9,013 bytes",
        ),
    ],
)
async def test_a_sign_in_without_a_token_or_with_a_huge_one_is_answered_on_the_form(
    reporting: httpx.AsyncClient, form: dict[str, str], status: int, said: str
) -> None:
    refused = await reporting.post("/dashboard/login", data=form, headers={"Origin": OWN_ORIGIN})
    assert refused.status_code == status
    assert refused.headers["content-type"].startswith("text/html")
    assert f'<p class="error" role="alert">{said}' in refused.text
    assert 'name="token"' in refused.text


async def test_pages_json_errors_and_health_all_carry_the_security_headers(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    page = await reporting.get("/dashboard/login")
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    report = await reporting.get("/v1/reports/sla", headers=tokens.manager())
    assert report.status_code == 200
    assert "data" in report.json()
    problem = await reporting.get("/v1/reports/sla")
    assert assert_problem(problem, 401)["detail"]
    health = await reporting.get("/healthz")
    assert health.json() == {"status": "ok"}

    for answer in (page, report, problem, health):
        policy = answer.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in policy
        assert answer.headers["X-Frame-Options"] == "DENY"
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
    # A page names itself only to its own origin, so that its forms carry their `Origin`.
    assert page.headers["Referrer-Policy"] == "same-origin"
    for answer in (report, problem, health):
        assert answer.headers["Referrer-Policy"] == "no-referrer"
        assert (
            answer.headers["Content-Security-Policy"]
            == "default-src 'none'; frame-ancestors 'none'"
        )


@pytest.mark.parametrize("name", ["dashboard.js", "dashboard.css"])
async def test_the_dashboards_scripts_and_styles_are_checked_for_a_newer_copy_on_every_use(
    reporting: httpx.AsyncClient, name: str
) -> None:
    kept = await reporting.get(f"/dashboard/static/{name}")
    assert kept.status_code == 200
    assert kept.headers["cache-control"] == "no-cache"
    same = await reporting.get(
        f"/dashboard/static/{name}", headers={"If-None-Match": kept.headers["etag"]}
    )
    assert (same.status_code, same.content) == (304, b"")


@pytest.fixture(scope="module")
async def served(stack: TestStack) -> AsyncIterator[str]:
    """The reporting app under uvicorn on a free port, for the browser."""
    async with serve_http(create_app(stack.settings(Settings, "reporting"))) as url:
        yield url


async def test_a_form_on_another_page_cannot_sign_a_browser_in(served: str, tokens: Tokens) -> None:
    token = tokens.token(Role.MANAGER, "mallory")
    forged = (
        f'<form method="post" action="{served}/dashboard/login">'
        f'<input name="token" value="{token}"><button type="submit">Go</button></form>'
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context()
            page = await context.new_page()
            await page.set_content(forged)
            async with page.expect_navigation():
                await page.click("button[type=submit]")
            assert "sign in from this page" in await page.content()
            assert await context.cookies() == []
        finally:
            await browser.close()

"""/dashboard: a manager signs in with a token kept in an HttpOnly cookie and sees charts.

The browser test drives Debian's Chromium (`apt-get install chromium`; `make test` installs
it when missing) through Playwright, against the app served by uvicorn on a free port, and
saves a screenshot of the page to docs/screenshots/dashboard.png.
"""

import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext
from PIL import Image
from playwright.async_api import Page, async_playwright

from bpo_common.auth import Role
from bpo_common.contracts.validation import ExceptionOpened
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_common.pages import CSP
from bpo_devtools.servers import free_port
from bpo_devtools.testing import CHROMIUM, CHROMIUM_ARGS, TestStack, Tokens, serve_http
from bpo_reporting.app import create_app
from bpo_reporting.settings import Settings

from .scenario import publish, published

SCREENSHOTS = Path(__file__).resolve().parents[4] / "docs" / "screenshots"


async def test_signing_in_sets_an_httponly_strict_cookie_for_the_dashboard_only(
    reporting: httpx.AsyncClient, tokens: Tokens
) -> None:
    token = tokens.token(Role.MANAGER, "alice")

    response = await reporting.post("/dashboard/login", data={"token": token})

    assert response.status_code == 303
    assert response.headers["location"] == "/dashboard"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"bpo_dashboard={token};")
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/dashboard"} <= flags
    assert "secure" not in flags  # BPO_REPORTING_COOKIE_SECURE is off in tests
    assert any(flag.startswith("max-age=") and int(flag[8:]) > 3600 for flag in flags)

    page = await reporting.get("/dashboard", headers=_with_cookie(token))
    assert page.status_code == 200
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<span class="who">alice</span>' in page.text


@pytest.mark.parametrize("role", ["client", "contractor"])
async def test_only_managers_may_sign_in(
    reporting: httpx.AsyncClient, tokens: Tokens, role: str
) -> None:
    token = tokens.token(Role(role), "someone", new_id() if role == "client" else None)

    response = await reporting.post("/dashboard/login", data={"token": token})

    assert response.status_code == 403
    assert "set-cookie" not in response.headers
    assert f"the dashboard is for managers; this token is for a {role}" in response.text
    page = await reporting.get("/dashboard", headers=_with_cookie(token))
    assert page.status_code == 403
    assert "Open jobs" not in page.text


async def test_a_bad_token_is_refused_and_no_cookie_sends_you_to_sign_in(
    reporting: httpx.AsyncClient,
) -> None:
    refused = await reporting.post("/dashboard/login", data={"token": "not-a-token"})
    assert refused.status_code == 401
    assert "invalid token" in refused.text
    assert "set-cookie" not in refused.headers

    anonymous = await reporting.get("/dashboard")
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == "/dashboard/login"


async def test_the_chart_library_is_served_from_the_service(
    reporting: httpx.AsyncClient,
) -> None:
    script = await reporting.get("/dashboard/static/vendor/uPlot.iife.min.js")
    assert script.status_code == 200
    assert script.text.startswith("/*! https://github.com/leeoniya/uPlot (v1.6.32) */")
    licence = await reporting.get("/dashboard/static/vendor/uPlot.LICENSE")
    assert "MIT License" in licence.text


# In a real browser


@pytest.fixture(autouse=True)
def no_cookies(reporting: httpx.AsyncClient) -> None:
    """The module's client keeps cookies; each test starts signed out."""
    reporting.cookies.clear()


def _with_cookie(token: str) -> dict[str, str]:
    return {"Cookie": f"bpo_dashboard={token}"}


@pytest.fixture(scope="module")
async def served(stack: TestStack) -> AsyncIterator[str]:
    """The reporting app under uvicorn on a free port, for the browser."""
    async with serve_http(create_app(stack.settings(Settings, "reporting"))) as url:
        yield url


def _pixels_like(png: bytes, color: tuple[int, int, int], tolerance: int = 60) -> int:
    data = Image.open(io.BytesIO(png)).convert("RGB").tobytes()
    return sum(
        1
        for i in range(0, len(data), 3)
        if sum(abs(a - b) for a, b in zip(data[i : i + 3], color, strict=True)) <= tolerance
    )


async def _cells(page: Page, table: str, text: str) -> list[str]:
    row = page.locator(f"#{table} tbody tr", has_text=text)
    return [cell.strip() for cell in await row.locator("td").all_inner_texts()]


async def _the_charts_as_tables(page: Page) -> None:
    """Each chart is hidden from screen readers and says where its figures are as text: the
    throughput and SLA charts' in a table of every bucket they show anything in, which their
    links open, as the address naming it does, and a key on its summary shuts and opens."""
    for chart, table in (
        ("throughput", "#by-bucket"),
        ("sla", "#by-bucket"),
        ("backlog", "#clients-heading"),
        ("accuracy", "#contractors-heading"),
    ):
        assert await page.get_attribute(f"#chart-{chart}", "aria-hidden") == "true"
        figure = page.locator("figure", has=page.locator(f"#chart-{chart}"))
        assert await figure.locator(".same a").get_attribute("href") == table
    buckets = page.locator("#buckets")
    assert not await buckets.is_visible()
    # A chart's link shows the table it names, clicked or followed with Enter.
    links = page.locator('.same a[href="#by-bucket"]')
    await links.first.click()
    assert await buckets.is_visible()
    await page.locator("#by-bucket summary").focus()
    await page.keyboard.press("Enter")
    assert not await buckets.is_visible()
    await links.last.focus()
    await page.keyboard.press("Enter")
    assert await buckets.is_visible()
    # The page opened at the address naming it shows it too.
    await page.reload()
    await page.wait_for_selector("body[data-charts=drawn]")
    assert page.url.endswith("/dashboard#by-bucket")
    assert await buckets.is_visible()
    series = json.loads(await page.locator("#dashboard-data").inner_text())["throughput"]
    expected = [
        [datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M"), *map(str, figures)]
        for t, *figures in zip(
            series["t"],
            series["received"],
            series["completed"],
            series["sla_met"],
            series["sla_missed"],
            strict=True,
        )
        if any(figures)
    ]
    rows = page.locator("#buckets tbody tr")
    shown = [
        [cell.strip() for cell in await rows.nth(n).locator("td").all_inner_texts()]
        for n in range(await rows.count())
    ]
    assert len(expected) >= 3, "the scenario's hours"
    assert shown == expected
    heading = await page.locator("#buckets thead th").first.inner_text()
    assert heading == "Hour starting (UTC)", "a week or less: by the hour"


async def test_a_manager_sees_the_charts_and_tables_in_chromium(
    served: str, tokens: Tokens, js: JetStreamContext
) -> None:
    yesterday = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    scenario = await published(js, yesterday - timedelta(days=1))
    # Job 1's item left waits on the client to resolve its invoice's mismatch.
    await publish(
        js,
        [
            wrap(
                ExceptionOpened(
                    exception_id=new_id(),
                    item_id=scenario.items["f"],
                    job_id=scenario.jobs[1],
                    client_id=scenario.client_id,
                    outcome="mismatch",
                    reasons=[],
                    lines=[],
                    opened_at=scenario.at("10:40"),
                ),
                source="validation",
            )
        ],
    )
    requested: list[str] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = await browser.new_context(viewport={"width": 1280, "height": 1800})
            page = await context.new_page()
            page.on("request", lambda request: requested.append(request.url))

            await page.goto(f"{served}/dashboard")
            assert page.url == f"{served}/dashboard/login"
            await page.fill("#token", tokens.token(Role.MANAGER, "alice"))
            await page.click("button[type=submit]")
            await page.wait_for_selector("body[data-charts=drawn]", timeout=20_000)
            assert page.url == f"{served}/dashboard"

            (cookie,) = await context.cookies()
            assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"], cookie["path"]) == (
                "bpo_dashboard",
                True,
                "Strict",
                "/dashboard",
            )
            assert await page.evaluate("document.cookie") == ""  # scripts cannot read it

            # Each chart drew its data: enough pixels in its series' colour.
            colours = {
                "chart-throughput": (0x1F, 0x77, 0xB4),
                "chart-sla": (0xD6, 0x27, 0x28),
                "chart-backlog": (0xFF, 0x7F, 0x0E),
                "chart-accuracy": (0x94, 0x67, 0xBD),
            }
            for chart, colour in colours.items():
                png = await page.locator(f"#{chart} canvas").screenshot()
                assert _pixels_like(png, colour) > 40, f"{chart} shows no data"

            k1 = await _cells(page, "contractors", str(scenario.k1))
            assert k1 == [str(scenario.k1), "3", "1.5", "800 s", "2", "1", "88.9 %", "1.20 EUR"]
            job = await _cells(page, "sla", str(scenario.jobs[1]))
            # Nothing left for the keyers, one item waiting on the client: no forecast, and
            # at risk as its due time has passed.
            assert job[2:] == [
                "invoice",
                (yesterday - timedelta(hours=12)).strftime("%Y-%m-%d %H:%M"),
                "0 / 6",
                "1",
                "–",
                "yes",
            ]
            columns = await page.locator("#sla thead th").all_inner_texts()
            assert columns[4:6] == ["Remaining", "Waiting on client"]
            client = await _cells(page, "clients", str(scenario.client_id))
            assert client[1:4] == ["9", "7", "1"]
            assert client[-2:] == ["11.50 EUR", "9.90 EUR"]
            # What the adaptive jobs delivered, latest first; job 3 missed its target.
            # (Other modules' adaptive jobs may be on the shared stream too.)
            heading = await page.locator("h2", has_text="Delivered accuracy").inner_text()
            counted = re.fullmatch(
                r"Delivered accuracy of adaptive jobs \((\d+) in the last 7 d, (\d+) flagged\)",
                heading,
            )
            assert counted is not None, heading
            assert int(counted[1]) >= 2
            assert int(counted[2]) >= 1
            missed = await _cells(page, "accuracy", str(scenario.jobs[3]))
            assert missed == [
                str(scenario.jobs[3]),
                str(scenario.client_id),
                "invoice",
                "1 (1 / 0)",
                "96.20 % (89.05 – 100.00)",
                "91.18 %",
                "95.00 %",
                "no: flagged",
            ]
            met = await _cells(page, "accuracy", str(scenario.jobs[2]))
            assert met[3:] == [
                "2 (1 / 1)",
                "99.50 % (98.12 – 100.00)",
                "98.43 %",
                "98.00 %",
                "yes",
            ]
            flagged = page.locator("#accuracy tbody tr.flagged td:first-child")
            shaded = await flagged.all_inner_texts()
            assert str(scenario.jobs[3]) in shaded
            assert str(scenario.jobs[2]) not in shaded
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            await page.screenshot(path=SCREENSHOTS / "dashboard.png", full_page=True)
            await _the_charts_as_tables(page)
            # Another period keeps the currency shown (it went back to the first one).
            month = page.locator("nav a", has_text="31 d")
            assert await month.get_attribute("href") == "?days=31&currency=EUR"

            await page.click("nav form button[type=submit]")
            await page.wait_for_url(f"{served}/dashboard/login")
            assert await context.cookies() == []
        finally:
            await browser.close()
    assert requested
    assert all(url.startswith(served) for url in requested), requested


async def test_a_database_out_of_reach_is_said_on_a_dashboard_page_to_try_again(
    stack: TestStack, tokens: Tokens
) -> None:
    """The reports' database lost (restarting, down; here a port nobody serves): the manager
    gets a page of the dashboard's own with the service's status, not a problem in JSON."""
    lost = f"postgresql+asyncpg://reporting:lost@127.0.0.1:{free_port()}/reporting"
    settings = stack.settings(Settings, "reporting", database_url=lost, component="api")
    async with serve_http(create_app(settings)) as url, async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page()
            await page.goto(f"{url}/dashboard/login")
            await page.fill("#token", tokens.token(Role.MANAGER, "alice"))
            await page.click("button[type=submit]")
            await page.wait_for_url(f"{url}/dashboard")
            shown = await page.goto(f"{url}/dashboard?days=31")
            assert shown is not None
            assert (shown.status, shown.headers["retry-after"]) == (503, "1")
            assert shown.headers["content-security-policy"] == CSP
            assert await page.locator("header h1").inner_text() == "BPO dashboard"
            assert await page.get_by_role("alert").inner_text() == (
                "The figures could not be read: the database connection was lost or refused; "
                "retry the request."
            )
            again = page.get_by_role("link", name="Try again")
            assert await again.get_attribute("href") == "/dashboard?days=31"
            assert await page.get_by_role("button", name="Sign out").is_visible()
        finally:
            await browser.close()

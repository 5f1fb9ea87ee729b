"""The intake app served to Chromium for the workbench's browser tests: the app under uvicorn,
a plain HTTP client of it, and a contractor signed in to /work."""

from dataclasses import dataclass
from pathlib import Path
from uuid import UUID

import httpx
from fastapi import FastAPI
from playwright.async_api import Browser, Page

from bpo_common.auth import Role
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.settings import Settings

SCREENSHOTS = Path(__file__).resolve().parents[4] / "docs" / "screenshots"


@dataclass(frozen=True)
class Served:
    url: str
    app: FastAPI

    @property
    def sessions(self) -> SessionFactory:
        factory: SessionFactory = self.app.state.runtime.sessions
        return factory

    @property
    def keys(self) -> DataKeys:
        """The jobs' data keys the app has unwrapped."""
        settings: Settings = self.app.state.runtime.settings
        return settings.data_keys()


async def http_api(served: Served) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=served.url, trust_env=False, timeout=30)


async def signed_in(browser: Browser, served: Served, token: str, width: int = 1366) -> Page:
    context = await browser.new_context(
        viewport={"width": width, "height": 768 if width == 1366 else 1080}, locale="en-US"
    )
    page = await context.new_page()
    await page.goto(f"{served.url}/work")
    assert page.url == f"{served.url}/work/login"
    await page.fill("#token", token)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{served.url}/work")
    return page


async def contractor(served: Served, tokens: Tokens, *skills: str) -> tuple[UUID, str]:
    """A new contractor with these skills, and their token."""
    async with await http_api(served) as api:
        response = await api.post(
            "/v1/contractors",
            json={"name": f"keyer {new_id()}", "skills": list(skills)},
            headers=tokens.manager(),
        )
    contractor_id = UUID(response.json()["id"])
    return contractor_id, tokens.token(Role.CONTRACTOR, str(contractor_id))

"""The intake app served to Chromium for the workbench's browser tests: the app under uvicorn,
a plain HTTP client of it, and a contractor signed in to /work."""

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import httpx
from fastapi import FastAPI
from playwright.async_api import Browser, Page
from sqlalchemy import select

from bpo_common.auth import Role
from bpo_common.contracts import TaskKind, validation
from bpo_common.contracts.intake import Entry
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, eventually
from bpo_intake.models import Task
from bpo_intake.service import decisions
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
    await sign_in(page, served, token)
    return page


async def sign_in(page: Page, served: Served, token: str) -> None:
    """The contractor signed in to /work on this page, and so on every page of its browser's
    context (they share the cookie)."""
    await page.goto(f"{served.url}/work")
    assert page.url == f"{served.url}/work/login"
    await page.fill("#token", token)
    await page.keyboard.press("Tab")
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{served.url}/work")


async def intercepted(page: Page) -> None:
    """The page loaded again with its requests routed through the test (a route that passes
    each on), so that a route added or taken away later acts on the very next request.
    Chromium turns routing on for a page already loaded a moment after it says so: a key
    pressed at once after a page's first route (or its first after the last was taken away)
    sent its request past it, to the service."""
    await page.route("**/*", lambda route: route.fallback())
    await page.reload()


def script_errors(page: Page) -> list[str]:
    """The page's script errors from now on."""
    failures: list[str] = []
    page.on("pageerror", lambda error: failures.append(str(error)))
    return failures


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


async def submitted(served: Served, item_id: str, kind: str) -> Task:
    """The item's task of that kind, once it is submitted."""
    query = select(Task).where(Task.item_id == UUID(item_id), Task.kind == kind)

    async def done() -> bool:
        async with served.sessions() as session:
            return (await session.scalars(query)).one().status == "submitted"

    await eventually(done, what=f"the {kind} task submitted")
    async with served.sessions() as session:
        return (await session.scalars(query)).one()


async def adjudicating(
    served: Served,
    browser: Browser,
    tokens: Tokens,
    skill: str,
    made: dict[str, Any],
    keyed: list[dict[str, Any]],
    differing: list[str],
    width: int = 1366,
    kind: Literal[TaskKind.REVIEW, TaskKind.ADJUDICATION] = TaskKind.ADJUDICATION,
) -> Page:
    """The item goes to adjudication on two keyings (the first by a contractor holding its
    entry task) where validation says they differ, or to review (`kind`, `differing` empty);
    a qc contractor's page claims it (`made`: the job, the item's id and its document's, if
    it has one)."""
    job = made["job"]
    first_id, first = await contractor(served, tokens, skill)
    async with await http_api(served) as api:
        claimed = await api.post(
            "/v1/tasks/claim",
            json={"job_id": job["id"]},
            headers={"Authorization": f"Bearer {first}"},
        )
    (entry_task,) = claimed.json()["tasks"]
    entries = [
        Entry(task_id=UUID(entry_task["id"]), contractor_id=first_id, data=keyed[0]),
        Entry(task_id=new_id(), contractor_id=new_id(), data=keyed[1]),
    ]
    reason = f"keyings differ on {', '.join(differing)}" if differing else "sampled for review"
    required = validation.ReviewRequired(
        item_id=UUID(made["item_id"]), job_id=UUID(job["id"]), client_id=UUID(job["client_id"]),
        kind=kind, entries=entries, reason=reason, differing=differing,
        decided_at=datetime.now(UTC),
    )  # fmt: skip
    async with served.sessions() as session, session.begin():
        await decisions.decide_items(session, [required], served.keys)
    _, token = await contractor(served, tokens, skill, "qc")
    page = await signed_in(browser, served, token, width)
    await page.keyboard.press("n")
    if "document_id" in made:
        await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')
    else:
        await page.wait_for_selector(f"body[data-kind={kind}]", state="attached")
    assert await page.get_attribute("body", "data-kind") == kind
    return page

"""/work when a claim's answer is lost after the service leased a task, in Chromium: the page
does not say that no task was taken, and N again shows that task rather than take a second."""

import re
from uuid import UUID

from playwright.async_api import Browser, Request, Route
from sqlalchemy import func, select

from bpo_devtools.testing import Tokens
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Task

from .browsing import Served, contractor, signed_in
from .documents import invoices_for_a_skill
from .test_workbench_network import _proxy


async def test_n_after_a_claim_whose_answer_a_gateway_lost_shows_the_task_it_leased(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    # Two tasks the keyer may take: a second claim would lease the other.
    skill, made = await invoices_for_a_skill(served, tokens, "INV-4", "INV-5")
    jobs = [UUID(each["job"]["id"]) for each in made]
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    claims = re.compile(r".*/v1/tasks/claim$")
    keys: list[str | None] = []

    async def answer_lost(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        await route.fetch()  # the service leases the task
        await _proxy(route, 504, "Gateway Time-out")

    await page.route(claims, answer_lost)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status.error")
    assert await page.inner_text("#status") == (
        "No task known to be taken: the service answered 504. Try again with N."
    )
    async with served.sessions() as session:
        leased = select(Task).where(Task.job_id.in_(jobs), Task.status == TaskStatus.LEASED)
        (task,) = await session.scalars(leased)

    await page.unroute(claims)
    sent: list[str | None] = []

    def claimed(request: Request) -> None:
        if claims.match(request.url):
            sent.append(request.headers.get("idempotency-key"))

    page.on("request", claimed)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status:has-text('is yours'), #status:has-text('No task')")
    assert await page.inner_text("#status") == f"Task {str(task.id)[-8:]} is yours."
    assert await page.get_attribute("body", "data-state") == "working"
    assert len(keys) == 1
    assert sent == keys, "the lost claim's key, sent again"
    async with served.sessions() as session:
        held = select(func.count()).where(
            Task.contractor_id == task.contractor_id, Task.status == TaskStatus.LEASED
        )
        assert await session.scalar(held) == 1, "the lost claim's task only"
    await page.context.close()

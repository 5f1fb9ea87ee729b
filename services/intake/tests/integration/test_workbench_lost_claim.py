"""/work when a claim's answer is lost after the service leased a task: the page does not say
that no task was taken, and N again gets that task, not a second one."""

import re
from uuid import UUID

from playwright.async_api import Browser, Route
from sqlalchemy import func, select

from bpo_devtools.testing import Tokens
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Task

from .browsing import Served
from .test_workbench_network import _keyer_with_a_task, _proxy


async def test_n_after_a_claim_whose_answer_a_gateway_lost_shows_the_task_it_leased(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await _keyer_with_a_task(served, browser, tokens)

    async def answer_lost(route: Route) -> None:
        await route.fetch()  # the service leases the task
        await _proxy(route, 504, "Gateway Time-out")

    claims = re.compile(r".*/v1/tasks/claim$")
    await page.route(claims, answer_lost)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status.error")
    assert await page.inner_text("#status") == (
        "No task known to be taken: the service answered 504. Try again with N."
    )
    async with served.sessions() as session:
        (task,) = await session.scalars(select(Task).where(Task.item_id == UUID(made["item_id"])))
    assert (task.status, task.contractor_id is not None) == (TaskStatus.LEASED, True)

    await page.unroute(claims)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status:has-text('is yours'), #status:has-text('No task')")
    assert await page.inner_text("#status") == f"Task {str(task.id)[-8:]} is yours."
    assert await page.get_attribute("body", "data-state") == "working"
    async with served.sessions() as session:
        held = select(func.count()).where(
            Task.contractor_id == task.contractor_id, Task.status == TaskStatus.LEASED
        )
        assert await session.scalar(held) == 1, "the lost claim's task only"
    await page.context.close()

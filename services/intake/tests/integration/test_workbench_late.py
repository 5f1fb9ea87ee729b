"""/work when a task is taken from the keyer or a submit's answer comes late, in Chromium: keys
typed on into a task taken away claim no other, a keyer suspended mid-task is told why the
task closed, a submit's answer that comes once its task was closed and the next one opened
acts on that next task in no way, and one lost once its task was closed says so."""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from uuid import UUID

from playwright.async_api import Browser, Page, Request, Route
from sqlalchemy import select

from bpo_devtools.testing import Tokens
from bpo_intake.models import Task

from .browsing import Served, contractor, http_api, intercepted, signed_in
from .documents import invoices_for_a_skill

SUBMITS = re.compile(r".*/v1/tasks/[^/]+/submit$")
CHECKS = re.compile(r".*/v1/tasks/[^/]+/check$")
CLAIMS = re.compile(r".*/v1/tasks/claim$")
PROBLEM = "application/problem+json"
# Past a lease of the served app's (300 s), as the page counts it.
LEASE_RUN_OUT_MS = 301_000


async def _lost(route: Route) -> None:
    gone = {"title": "Conflict", "status": 409, "detail": "the lease has run out"}
    await route.fulfill(status=409, content_type=PROBLEM, body=json.dumps(gone))


async def _submitted_and_left(page: Page, answer: Callable[[Route], Awaitable[None]]) -> str:
    """The task shown submitted, its submit held on its way; meanwhile the page's clock runs
    past the lease (the page's own, installed by the test), the page closes the task, and the
    keyer takes the next one. Returns the submitted task's id as the page says it; the submit
    goes on, answered by `answer`, as the route's handler is unrouted."""
    shown = (await page.inner_text("#status")).split()[1]  # "Task … is yours."
    arrived, released = asyncio.Event(), asyncio.Event()

    async def held(route: Route) -> None:
        arrived.set()
        await released.wait()
        await answer(route)

    await page.route(SUBMITS, held)
    await page.locator("#field-invoice_number").fill("INV-1")
    await page.locator("#field-total").fill("10")
    await page.keyboard.press("Control+Enter")
    await asyncio.wait_for(arrived.wait(), 10)
    await page.clock.fast_forward(LEASE_RUN_OUT_MS)
    await page.clock.run_for(2_000)
    await page.wait_for_selector("body[data-state=idle]")
    await page.click("#claim")  # N at once would be taken for keying on (the test below)
    await page.locator("#status").filter(has_text="is yours").wait_for()
    assert shown not in await page.inner_text("#status")
    assert await page.is_enabled("#submit"), "this task is not the one being submitted"
    async with page.expect_response(SUBMITS):
        released.set()
    await page.unroute(SUBMITS)
    return shown


async def test_a_submits_late_answer_leaves_the_task_opened_since_as_it_is(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    skill, made = await invoices_for_a_skill(served, tokens, "INV-1", "INV-2", "INV-3")
    items = [UUID(item["item_id"]) for item in made]
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    await page.clock.install()
    await intercepted(page)  # loaded again, for the clock as well
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")

    async def statuses() -> list[str]:
        async with served.sessions() as session:
            query = select(Task.status).where(Task.item_id.in_(items))
            return sorted(await session.scalars(query))

    # Taken: the page says so, and the task opened since stays open and leased.
    first = await _submitted_and_left(page, lambda route: route.continue_())
    await page.locator("#status").filter(has_text="was submitted").wait_for()
    assert await page.inner_text("#status") == f"Task {first} was submitted."
    assert await page.get_attribute("body", "data-state") == "working"
    assert await statuses() == ["leased", "queued", "submitted"]

    # Refused: its errors are not shown on the task opened since.
    refused = {"title": "Unprocessable Content", "status": 422,
               "detail": "the data breaks the job's rules: total",
               "errors": [{"field": "total", "message": "not a number"}]}  # fmt: skip

    async def refuse(route: Route) -> None:
        await route.fulfill(status=422, content_type=PROBLEM, body=json.dumps(refused))

    await _submitted_and_left(page, refuse)
    await asyncio.sleep(0.5)  # for the page to have read the answer
    assert await page.locator("#fields .invalid, [aria-invalid=true]").count() == 0
    assert "breaks" not in await page.inner_text("#status")
    assert await page.get_attribute("body", "data-state") == "working"
    assert await statuses() == ["leased", "leased", "submitted"]
    await page.context.close()


async def test_keys_typed_on_into_a_task_taken_away_claim_no_other(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    skill, _ = await invoices_for_a_skill(served, tokens, "INV-1", "INV-2")
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    await intercepted(page)
    claims: list[str] = []

    def seen(request: Request) -> None:
        if CLAIMS.match(request.url):
            claims.append(request.url)

    page.on("request", seen)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")

    # The keyer leaves the number for the total, keying on, as the check finds the task gone.
    await page.route(CHECKS, _lost)
    await page.locator("#field-invoice_number").fill("INV-1")
    await page.keyboard.press("Tab")
    while await page.get_attribute("body", "data-state") == "working":
        await page.keyboard.type("n", delay=100)
    for key in ("n", "Enter", " ", "n"):
        await page.keyboard.press(key, delay=100)
    await asyncio.sleep(0.5)
    assert len(claims) == 1, "no task claimed by the keys typed on"
    assert await page.get_attribute("body", "data-state") == "idle"
    assert await page.inner_text("#status") == "the lease has run out"
    # After a pause, N claims as ever.
    await asyncio.sleep(1.1)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    assert len(claims) == 2
    await page.context.close()


async def test_a_keyer_suspended_mid_task_is_told_why_as_the_task_closes(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    skill, made = await invoices_for_a_skill(served, tokens, "INV-1", "INV-2", "INV-3")
    keyer, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    reason = "accuracy below 80% on invoices"

    async def suspended_as_they_key() -> None:
        """A task claimed and keyed into, the keyer active again, then suspended."""
        async with await http_api(served) as api:
            answer = await api.post(f"/v1/contractors/{keyer}/activate", headers=tokens.manager())
            assert answer.status_code == 200, answer.text
            await page.click("#claim")
            await page.wait_for_selector("body[data-state=working]")
            await page.locator("#field-invoice_number").fill("INV-1")
            answer = await api.post(
                f"/v1/contractors/{keyer}/suspend",
                json={"reason": reason},
                headers=tokens.manager(),
            )
        assert answer.status_code == 200, answer.text

    async def told_as_they_leave(leave: str) -> None:
        await suspended_as_they_key()
        await page.keyboard.press(leave)
        await page.wait_for_selector("body[data-state=idle]")
        said = await page.inner_text("#status")
        assert f"closed: this contractor is suspended: {reason}." in said
        assert said.endswith("It went back to the queue; what was keyed on it cannot be sent.")
        assert await page.inner_text("#lease") == ""
        assert await page.evaluate("document.activeElement.id") == "idle-text"

    # Leaving a field: its check is refused. Then, given work again, a submit is refused.
    await told_as_they_leave("Tab")
    await told_as_they_leave("Control+Enter")
    # Given back once suspended: the suspension gave it back already, which is said.
    await suspended_as_they_key()
    async with page.expect_response(re.compile(r".*/v1/tasks/[^/]+/release$")) as released:
        await page.keyboard.press("Alt+Q")
        await page.keyboard.press("Alt+Q")  # something keyed: asked for twice
    assert (await released.value).status == 403
    said = page.locator("#status.error").filter(has_text="went back")
    await said.wait_for()
    assert (await said.inner_text()).endswith(
        f" went back: this contractor is suspended: {reason}."
    )
    async with served.sessions() as session:
        items = [UUID(item["item_id"]) for item in made]
        query = select(Task.status).where(Task.item_id.in_(items))
        assert sorted(await session.scalars(query)) == ["queued"] * 3
    await page.context.close()


async def test_a_submits_answer_lost_once_the_lease_ran_out_says_it_may_have_gone_through(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    skill, _ = await invoices_for_a_skill(served, tokens, "INV-1")
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    await page.clock.install()
    await intercepted(page)  # loaded again, for the clock as well
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    shown = (await page.inner_text("#status")).split()[1]  # "Task … is yours."
    arrived, released = asyncio.Event(), asyncio.Event()

    async def lost_on_the_way(route: Route) -> None:
        arrived.set()
        await released.wait()
        await route.abort()

    await page.route(SUBMITS, lost_on_the_way)
    await page.locator("#field-invoice_number").fill("INV-1")
    await page.locator("#field-total").fill("10")
    await page.keyboard.press("Control+Enter")
    await asyncio.wait_for(arrived.wait(), 10)
    await page.clock.fast_forward(LEASE_RUN_OUT_MS)
    await page.clock.run_for(2_000)
    await page.locator("#status").filter(has_text="went back to the queue").wait_for()
    async with page.expect_event("requestfailed"):
        released.set()
    await asyncio.sleep(0.5)  # for the page to have read the failure
    assert await page.inner_text("#status") == (
        f"Task {shown} is not known to be submitted: no answer came, and it may have gone through."
    )
    await page.context.close()

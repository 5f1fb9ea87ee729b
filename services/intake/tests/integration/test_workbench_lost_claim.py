"""/work when a claim's answer is lost after the service leased a task, in Chromium: the page
does not say that no task was taken, and N again shows that task rather than take a second;
that task gone meanwhile, N takes another at once."""

import json
import re
from datetime import timedelta
from uuid import UUID

from playwright.async_api import Browser, Page, Request, Route
from sqlalchemy import func, select, update

from bpo_common.clock import utcnow
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.domain.tasks import TaskStatus
from bpo_intake.models import Task

from .browsing import Served, contractor, intercepted, signed_in
from .documents import invoices_for_a_skill
from .test_workbench_network import _proxy

CLAIMS = re.compile(r".*/v1/tasks/claim$")


async def _answer_lost(page: Page) -> list[str | None]:
    """N pressed, and the claim's answer lost on its way back (a gateway's 504) once the service
    has leased a task: the keys the claims were sent with. The page is loaded again first, its
    requests routed (see `intercepted`), so this route and those the tests add later act at once."""
    await intercepted(page)
    keys: list[str | None] = []

    async def answer_lost(route: Route) -> None:
        keys.append(route.request.headers.get("idempotency-key"))
        await route.fetch()  # the service leases the task
        await _proxy(route, 504, "Gateway Time-out")

    await page.route(CLAIMS, answer_lost)
    async with page.expect_request(CLAIMS):  # a failure here: N sent no claim
        await page.keyboard.press("n")
    await page.wait_for_selector("#status.error")
    assert await page.inner_text("#status") == (
        "No task known to be taken: the service answered 504. Try again with N."
    )
    await page.unroute(CLAIMS)
    return keys


async def _lost_with_one_of_two(
    served: Served, browser: Browser, tokens: Tokens, *numbers: str
) -> tuple[Page, list[str | None], list[UUID], Task]:
    """A keyer of the invoices `numbers`, one job each, whose claim's answer was lost once the
    service had leased one of them: their page, the keys sent, the jobs and the leased task."""
    skill, made = await invoices_for_a_skill(served, tokens, *numbers)
    jobs = [UUID(each["job"]["id"]) for each in made]
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    keys = await _answer_lost(page)
    async with served.sessions() as session:
        leased = select(Task).where(Task.job_id.in_(jobs), Task.status == TaskStatus.LEASED)
        (task,) = await session.scalars(leased)
    return page, keys, jobs, task


def _keys_sent(page: Page) -> list[str | None]:
    """The keys the page's claims are sent with from now on."""
    sent: list[str | None] = []

    def claimed(request: Request) -> None:
        if CLAIMS.match(request.url):
            sent.append(request.headers.get("idempotency-key"))

    page.on("request", claimed)
    return sent


async def test_n_after_a_claim_whose_answer_a_gateway_lost_shows_the_task_it_leased(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    # Two tasks the keyer may take: a second claim would lease the other.
    page, keys, _, task = await _lost_with_one_of_two(served, browser, tokens, "INV-4", "INV-5")

    sent = _keys_sent(page)
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


async def test_n_after_a_lost_claim_whose_task_ran_out_meanwhile_takes_another_at_once(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, keys, jobs, gone = await _lost_with_one_of_two(served, browser, tokens, "INV-6", "INV-7")
    async with served.sessions() as session, session.begin():
        # The keyer came back after the lost claim's lease ran out.
        ended = utcnow() - timedelta(seconds=1)
        await session.execute(update(Task).where(Task.id == gone.id).values(lease_expires_at=ended))

    sent = _keys_sent(page)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status:has-text('is yours'), #status:has-text('No task')")

    async with served.sessions() as session:
        # Held since: the lease sweeper may have queued the run-out task again first, and the
        # fresh claim taken it.
        leased = select(Task).where(
            Task.job_id.in_(jobs), Task.status == TaskStatus.LEASED, Task.lease_expires_at > ended
        )
        taken = list(await session.scalars(leased))
    assert len(taken) == 1, "a task taken afresh"
    assert await page.inner_text("#status") == f"Task {str(taken[0].id)[-8:]} is yours."
    assert await page.get_attribute("body", "data-state") == "working"
    assert sent[0] == keys[0], "the lost claim's key, sent again first"
    assert len(sent) == 2
    assert sent[1] not in (None, keys[0]), "then a fresh claim, with a key of its own"
    await page.context.close()


async def test_a_claim_sent_again_while_the_lost_one_is_being_made_keeps_its_key_and_says_so(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    skill, _ = await invoices_for_a_skill(served, tokens, "INV-8")
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    keys = await _answer_lost(page)

    # The service says the lost claim's answer is still being made.
    async def being_made(route: Route) -> None:
        detail = "a claim with this Idempotency-Key is still being made; send it again"
        problem = {"type": "about:blank", "title": "Service unavailable", "status": 503}
        await route.fulfill(
            status=503,
            headers={"Retry-After": "1"},
            content_type="application/problem+json",
            body=json.dumps(problem | {"detail": detail}),
        )

    sent = _keys_sent(page)
    await page.route(CLAIMS, being_made)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status:has-text('not answered yet')")
    assert await page.inner_text("#status") == (
        "No task known to be taken: the last claim is not answered yet. Try again with N in a "
        "moment."
    )
    await page.unroute(CLAIMS)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status:has-text('is yours')")
    assert sent == keys * 2, "the lost claim's key, kept"
    await page.context.close()


async def test_n_after_a_claim_that_never_reached_the_service_and_no_work_claims_once(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    _, token = await contractor(served, tokens, f"none-{new_id().hex[:8]}")
    page = await signed_in(browser, served, token)
    await intercepted(page)
    await page.route(CLAIMS, lambda route: route.abort())
    await page.keyboard.press("n")
    await page.wait_for_selector("#status.error")
    await page.unroute(CLAIMS)

    # Sent again with its key, the claim is a fresh one (the service never had it), and the
    # service has no work for it: so answered, not replayed (a replay with no task would call
    # for another claim). The answer is the service's own shape: the suite's shared database
    # may hold a qualification's item any keyer may be given.
    async def no_work(route: Route) -> None:
        await route.fulfill(status=200, content_type="application/json", body='{"tasks": []}')

    await page.route(CLAIMS, no_work)
    sent = _keys_sent(page)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status:has-text('No task available')")
    assert await page.inner_text("#idle-text") == "No work right now. Try again in a moment."
    assert len(sent) == 1
    await page.context.close()

"""/work behind a proxy that signs its users in (an SSO gateway on the same host), in Chromium:
its session over, the proxy answers the page's calls with its sign-in page, on 200, where the
service's JSON was due. A claim, a check, a submit, a give-back, the job's instructions or a
beat so answered is a proxy's page, as one on an error status is: the claim keeps its key, the
check and the submit the entries (the submit said not sent: it never reached the service), a
give-back says the task is still held, the instructions are not shown, the beats fail (the
lease ends in its own time), and the page never hangs on them."""

import re
from uuid import UUID

from playwright.async_api import Browser, Request, Route
from sqlalchemy import select

from bpo_devtools.testing import Tokens, eventually
from bpo_intake.models import Task

from .browsing import Served, intercepted, script_errors
from .documents import a_keyer_with_a_task, keying_routed
from .test_workbench_lease import BEATS, _keying_on_a_clock

CLAIMS = re.compile(r".*/v1/tasks/claim$")
SIGN_IN = (
    "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><form "
    'action="/oauth2/start"><button>Sign in with your company account</button></form></body>'
    "</html>"
)
SAID = "the service answered 200 with a page that is not its own"
NOT_SENT = (
    "Not sent: something in front of the service answered 200 for it with a page of its own "
    "(sign in to it again in another tab?). Your entries are kept; send them again with "
    "Ctrl+Enter."
)


async def _sign_in_page(route: Route) -> None:
    """The route answered by the proxy's sign-in page, where fetch followed its redirect."""
    await route.fulfill(status=200, content_type="text/html", body=SIGN_IN)


async def test_a_claim_answered_with_a_sign_in_page_is_said_and_n_sends_it_again_with_its_key(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    failures = script_errors(page)
    keys: list[str | None] = []

    def claimed(request: Request) -> None:
        if CLAIMS.match(request.url):
            keys.append(request.headers.get("idempotency-key"))

    page.on("request", claimed)
    await page.route(CLAIMS, _sign_in_page)
    await page.keyboard.press("n")
    await page.wait_for_selector("#status.error")
    assert await page.inner_text("#status") == (
        f"No task known to be taken: {SAID}. Try again with N."
    )
    assert await page.is_enabled("#claim"), "N may be pressed again"
    assert await page.get_attribute("body", "data-state") == "idle"

    # Through again: the same claim, with its key, takes the task.
    await page.unroute(CLAIMS)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    assert len(keys) == 2
    assert keys[1] == keys[0], "the claim sent again with its key"
    assert failures == []
    await page.context.close()


async def test_a_check_or_a_submit_answered_with_a_sign_in_page_keeps_the_entries(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, failures = await keying_routed(served, browser, tokens)

    calls = re.compile(r".*/v1/tasks/[^/]+/(check|submit)$")
    await page.route(calls, _sign_in_page)
    await page.locator("#field-invoice_number").fill("INV-4")
    await page.keyboard.press("Tab")
    said = page.locator("#status.error").filter(has_text="Not checked")
    await said.wait_for()
    assert await said.inner_text() == (
        f"Not checked: {SAID}. Your entries are kept, and checked again as you leave a field."
    )
    # The submit never reached the service: the proxy answered for it.
    await page.locator("#field-total").fill("10")
    await page.keyboard.press("Control+Enter")
    said = page.locator("#status.error").filter(has_text="Not sent")
    await said.wait_for()
    assert await said.inner_text() == NOT_SENT
    assert await page.get_attribute("body", "data-state") == "working"

    # Through again, the entries kept are sent.
    await page.unroute(calls)
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector('body[data-submitted="1"]')
    async with served.sessions() as session:
        query = select(Task.data).where(Task.item_id == UUID(made["item_id"]))
        assert (await session.scalars(query)).one() == {"invoice_number": "INV-4", "total": "10"}
    assert failures == []
    await page.context.close()


async def test_a_task_gone_after_a_submit_a_sign_in_page_answered_is_not_said_submitted(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await keying_routed(served, browser, tokens)
    submits = re.compile(r".*/v1/tasks/[^/]+/submit$")
    await page.route(submits, _sign_in_page)
    await page.locator("#field-invoice_number").fill("INV-5")
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="Not sent").wait_for()

    # Its lease ran out meanwhile (the keyer signing in again elsewhere): the next check finds
    # it gone, and says so in the service's words, not that the submit most likely went through.
    gone = '{"title": "Conflict", "status": 409, "detail": "the lease on this task ran out"}'

    async def ran_out(route: Route) -> None:
        await route.fulfill(status=409, content_type="application/problem+json", body=gone)

    await page.route(re.compile(r".*/v1/tasks/[^/]+/check$"), ran_out)
    await page.locator("#field-total").fill("11")
    await page.keyboard.press("Tab")
    await page.wait_for_selector("body[data-state=idle]")
    said = await page.inner_text("#status")
    assert "the lease on this task ran out" in said
    assert "most likely submitted" not in said
    await page.context.close()


async def test_a_give_back_answered_with_a_sign_in_page_says_the_task_is_still_held(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await keying_routed(served, browser, tokens)
    await page.route(re.compile(r".*/v1/tasks/[^/]+/release$"), _sign_in_page)
    await page.keyboard.press("Alt+Q")  # nothing keyed: given back at once
    said = page.locator("#status.error").filter(has_text="could not be given back")
    await said.wait_for()
    assert "goes back to the queue when its lease runs out" in await said.inner_text()
    async with served.sessions() as session:
        query = select(Task.status).where(Task.item_id == UUID(made["item_id"]))
        assert (await session.scalars(query)).one() == "leased", "the service never had it"
    await page.context.close()


async def test_instructions_answered_with_a_sign_in_page_are_not_shown_as_the_jobs(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await a_keyer_with_a_task(
        served, browser, tokens, instructions="Key the **total** as printed."
    )
    await intercepted(page)
    await page.route(re.compile(r".*/work/instructions$"), _sign_in_page)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    said = page.locator("#instructions").filter(has_text="could not be loaded")
    await said.wait_for()
    assert await page.locator("#instructions button, #instructions form").count() == 0
    await page.context.close()


async def test_beats_answered_with_a_sign_in_page_fail_and_the_lease_ends_in_its_own_time(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await _keying_on_a_clock(served, browser, tokens)
    failures = script_errors(page)
    beats: list[str] = []

    async def sign_in_page(route: Route) -> None:
        beats.append(route.request.url)
        await _sign_in_page(route)

    await page.route(BEATS, sign_in_page)
    # The first beat, 100 s on, renews nothing: it is tried again a few seconds later.
    await page.clock.fast_forward(100_000)

    async def tried_again() -> bool:
        await page.clock.run_for(1_000)
        return len(beats) >= 2

    await eventually(tried_again, what="the beat answered with a sign-in page tried again")
    lease = re.fullmatch(r"Lease (\d+):(\d\d)", await page.inner_text("#lease"))
    assert lease, "the time left of the lease the claim gave"
    left = int(lease[1]) * 60 + int(lease[2])
    assert left <= 200, "the lease not renewed by the beat"

    # Through the last minute's start: the lease has not been renewed, and keying on cannot
    # renew it.
    await page.clock.fast_forward((left - 70) * 1000)
    await page.clock.run_for(20_000)
    await page.locator("#lease.expiring").wait_for()
    assert re.fullmatch(r"Lease 0:\d\d", await page.inner_text("#lease"))
    assert re.fullmatch(
        r"The lease ends in a minute, at \d\d:\d\d: the service cannot be reached to renew it\.",
        await page.inner_text("#status"),
    )
    # Its end closes the task.
    await page.clock.fast_forward(60_000)
    await page.wait_for_selector("body[data-state=idle]")
    assert await page.inner_text("#status") == "The lease ran out; the task went back to the queue."
    assert failures == []
    await page.context.close()

"""/work when the network fails a keyer, in Chromium: a claim, the job's instructions, a check,
a submit, a give-back or a page's renewed link that cannot get through, or that a proxy or the
service refuses, is said (never a silent page, nor the proxy's own), and a field's error is
said as it comes."""

import asyncio
import re
from uuid import UUID

from playwright.async_api import Browser, Route
from sqlalchemy import select

from bpo_devtools.testing import Tokens
from bpo_intake.models import Task

from .browsing import Served, intercepted, sign_in
from .documents import a_keyer_with_a_task, keying_routed


async def test_a_claim_or_instructions_out_of_reach_are_said_and_n_tries_again(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    instructions = "Key the **total** with tax."
    page, _, _ = await a_keyer_with_a_task(served, browser, tokens, instructions=instructions)
    await intercepted(page)

    claims = re.compile(r".*/v1/tasks/claim$")
    await page.route(claims, lambda route: route.abort())
    await page.keyboard.press("n")
    await page.wait_for_selector("#status.error")
    assert "could not be reached" in await page.inner_text("#status")
    assert await page.get_attribute("body", "data-state") != "working"
    assert await page.is_enabled("#claim"), "N may be pressed again"

    await page.unroute(claims)
    await page.route(re.compile(r".*/work/instructions$"), lambda route: route.abort())
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    await page.wait_for_selector("#instructions:has-text('could not be loaded')")
    # The form is there all the same, and says a field's error as the keyer leaves it.
    assert await page.get_attribute("#field-total-error", "aria-live") == "polite"
    await page.locator("#field-total").fill("ten")
    await page.keyboard.press("Tab")
    await page.wait_for_selector("#field-total[aria-invalid=true]")
    assert await page.inner_text("#field-total-error")
    await page.context.close()


async def test_a_check_or_a_give_back_out_of_reach_is_said(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, failures = await keying_routed(served, browser, tokens)

    checks = re.compile(r".*/v1/tasks/[^/]+/check$")
    await page.route(checks, lambda route: route.abort())
    await page.locator("#field-total").fill("ten")
    await page.keyboard.press("Tab")
    await page.locator("#status.error").filter(has_text="Not checked").wait_for()
    assert await page.input_value("#field-total") == "ten"
    # A proxy whose service is away answers for it: its status is said, not its page.
    await page.unroute(checks)
    await page.route(
        checks,
        lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>Bad</h1>"),
    )
    await page.locator("#field-total").focus()
    await page.keyboard.press("Tab")
    await page.locator("#status.error").filter(has_text="the service answered 502.").wait_for()
    assert "<h1>" not in await page.inner_text("#status")
    # Back in reach, the next check says the field's error, and what it said before goes.
    await page.unroute(checks)
    await page.locator("#field-total").focus()
    await page.keyboard.press("Tab")
    await page.wait_for_selector("#field-total[aria-invalid=true]")
    assert await page.inner_text("#status") == ""

    # Refused (signed out meanwhile): the task is still held, and the page says so.
    refused = '{"detail": "sign in again"}'
    await page.route(
        re.compile(r".*/v1/tasks/[^/]+/release$"),
        lambda route: route.fulfill(
            status=401, content_type="application/problem+json", body=refused
        ),
    )
    await page.keyboard.press("Alt+Q")
    await page.keyboard.press("Alt+Q")  # something keyed: asked for twice
    await page.locator("#status.error").filter(has_text="could not be given back").wait_for()
    assert "when its lease runs out" in await page.inner_text("#status")
    async with served.sessions() as session:
        query = select(Task.status).where(Task.item_id == UUID(made["item_id"]))
        assert (await session.scalars(query)).one() == "leased"
    assert failures == []
    await page.context.close()


PROXY_PAGE = "<html>\r\n<head><title>{0}</title></head>\r\n<body><h1>{0}</h1></body>\r\n</html>"


async def _proxy(route: Route, status: int, name: str) -> None:
    """The route answered by a proxy's own page, as when the service behind it is away."""
    await route.fulfill(
        status=status, content_type="text/html", body=PROXY_PAGE.format(f"{status} {name}")
    )


async def test_a_proxys_page_answering_a_claim_or_a_submit_is_said_by_its_status(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)

    claims = re.compile(r".*/v1/tasks/claim$")
    await page.route(claims, lambda route: _proxy(route, 502, "Bad Gateway"))
    await page.keyboard.press("n")
    await page.wait_for_selector("#status.error")
    assert await page.inner_text("#status") == (
        "No task known to be taken: the service answered 502. Try again with N."
    )
    await page.unroute(claims)
    # Claimed again with the lost claim's key, the page renews the lease at once. That beat,
    # and the check of the number as the total is keyed, are answered before a submit goes
    # through: read by the service after it, either finds the task gone and closes it, as most
    # likely submitted, before its 502 below is seen.
    async with page.expect_response(re.compile(r".*/v1/tasks/[^/]+/heartbeat$")):
        await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")

    # The service's own problem: it rolled back, so the submit is not sent.
    submits = re.compile(r".*/v1/tasks/[^/]+/submit$")
    busy = '{"title": "Service Unavailable", "status": 503, "detail": "the database is away"}'
    await page.route(
        submits,
        lambda route: route.fulfill(status=503, content_type="application/problem+json", body=busy),
    )
    await page.locator("#field-invoice_number").fill("INV-4")
    async with page.expect_response(re.compile(r".*/v1/tasks/[^/]+/check$")):
        await page.locator("#field-total").fill("10")
    await page.keyboard.press("Control+Enter")
    said = page.locator("#status.error").filter(has_text="Not sent")
    await said.wait_for()
    assert await said.inner_text() == (
        "Not sent: the database is away. Your entries are kept; send them again with Ctrl+Enter."
    )
    assert await page.input_value("#field-invoice_number") == "INV-4"
    assert await page.get_attribute("body", "data-state") == "working"

    # A proxy's page after the service took the submit (its connection to the service closed
    # before the answer): the submit went through, so the next one is refused, and the page
    # says the task was most likely submitted.
    async def answer_lost(route: Route) -> None:
        await route.fetch()
        await _proxy(route, 502, "Bad Gateway")

    await page.unroute(submits)
    await page.route(submits, answer_lost)
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="502").wait_for()
    assert await page.inner_text("#status") == (
        "Not known to be sent: the service answered 502, and it may have gone through. Your "
        "entries are kept; send them again with Ctrl+Enter."
    )
    async with served.sessions() as session:
        query = select(Task.status).where(Task.item_id == UUID(made["item_id"]))
        assert (await session.scalars(query)).one() == "submitted"
    await page.unroute(submits)
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector("body[data-state=idle]")
    assert "was most likely submitted" in await page.inner_text("#status")
    await page.context.close()


async def test_signed_out_meanwhile_a_check_or_a_submit_says_so_and_keeps_the_entries(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, token = await a_keyer_with_a_task(served, browser, tokens)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    await page.locator("#field-invoice_number").fill("INV-4")

    # The sign-in's cookie gone (it ran out, or the keyer signed out in another tab).
    await page.context.clear_cookies()
    await page.keyboard.press("Tab")
    said = page.locator("#status.error").filter(has_text="Signed out")
    await said.wait_for()
    await page.locator("#field-total").fill("10")
    async with page.expect_response(re.compile(r".*/v1/tasks/[^/]+/submit$")) as refused:
        await page.keyboard.press("Control+Enter")
    assert (await refused.value).status == 401
    # Kept until the lease ends (no beat renews it while signed out), said with its end; and a
    # sign-out in another tab gave the task back at once.
    assert re.fullmatch(
        r"Signed out: sign in again in another tab, then send the entries kept here with "
        r"Ctrl\+Enter before the lease ends at \d\d:\d\d\. If you signed out in another tab, "
        r"the task went back to the queue then\.",
        await said.inner_text(),
    )
    assert await page.get_attribute("body", "data-state") == "working"
    assert await page.input_value("#field-invoice_number") == "INV-4"
    assert await page.input_value("#field-total") == "10"

    # Signed in again in another tab, the entries kept here are sent.
    await sign_in(await page.context.new_page(), served, token)
    await page.bring_to_front()
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector('body[data-submitted="1"]')
    async with served.sessions() as session:
        query = select(Task.data).where(Task.item_id == UUID(made["item_id"]))
        assert (await session.scalars(query)).one() == {"invoice_number": "INV-4", "total": "10"}
    await page.context.close()


async def test_an_expired_page_link_whose_renewal_a_proxy_refuses_is_said_by_its_status(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    expired = '{"title": "Forbidden", "status": 403, "detail": "the link has expired"}'
    await page.route(
        re.compile(r".*/v1/documents/[^/]+/pages/1\?.*"),
        lambda route: route.fulfill(
            status=403, content_type="application/problem+json", body=expired
        ),
    )
    # The document asked for again, for its fresh links: a proxy answers, its service away.
    await page.route(
        re.compile(r".*/v1/documents/[^/?]+$"), lambda route: _proxy(route, 502, "Bad Gateway")
    )
    await page.keyboard.press("n")
    said = page.locator("#status.error").filter(has_text="inv-4.pdf")
    await said.wait_for()
    assert await said.inner_text() == "inv-4.pdf: the service answered 502"
    await page.context.close()


async def test_a_task_found_gone_after_a_gateway_gave_up_on_its_submit_was_most_likely_submitted(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await keying_routed(served, browser, tokens)
    await page.locator("#field-invoice_number").fill("INV-4")
    await page.locator("#field-total").fill("10")

    async def timed_out(route: Route) -> None:
        await route.fetch()
        await _proxy(route, 504, "Gateway Time-out")

    submits = re.compile(r".*/v1/tasks/[^/]+/submit$")
    await page.route(submits, timed_out)
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="504").wait_for()
    # Not a submit again but a check (or a beat) finds the task gone: it went through.
    await page.locator("#field-total").focus()
    async with page.expect_response(re.compile(r".*/v1/tasks/[^/]+/check$")) as checked:
        await page.keyboard.press("Tab")
    assert (await checked.value).status in (404, 409)
    await page.wait_for_selector("body[data-state=idle]")
    said = await page.inner_text("#status")
    assert said.endswith("was most likely submitted: the submit before went through, though its "
                         "answer was lost.")  # fmt: skip
    await page.context.close()


async def test_a_check_finding_the_task_gone_while_its_submit_is_on_its_way_leaves_it_to_it(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    """Leaving the last field sends a check; Ctrl+Enter at once, the submit may reach the
    service first, and the check finds the task gone: what the keyer is told is the submit's
    answer, here a gateway's 504 (the check's "not leased" closed the task as lost)."""
    page, _, _ = await keying_routed(served, browser, tokens)
    submitted, checked = asyncio.Event(), asyncio.Event()

    async def check_after_the_submit(route: Route) -> None:
        await submitted.wait()
        await route.fulfill(response=await route.fetch())
        checked.set()

    async def timed_out(route: Route) -> None:
        await route.fetch()
        submitted.set()
        await checked.wait()
        await page.evaluate("() => new Promise((read) => setTimeout(read, 200))")
        await _proxy(route, 504, "Gateway Time-out")

    await page.route(re.compile(r".*/v1/tasks/[^/]+/check$"), check_after_the_submit)
    await page.route(re.compile(r".*/v1/tasks/[^/]+/submit$"), timed_out)
    await page.locator("#field-invoice_number").fill("INV-4")
    await page.locator("#field-total").fill("10")  # leaving the number: its check, held
    await page.keyboard.press("Control+Enter")

    await page.locator("#status.error").filter(has_text="504").wait_for()
    assert await page.get_attribute("body", "data-state") == "working"
    assert await page.input_value("#field-total") == "10"
    await page.context.close()


async def test_a_proxys_403_closes_no_task_and_a_refused_resend_is_no_lost_answer(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    """A 403 closes the task only as the service's own word (a suspension): a proxy's or a
    firewall's page is said as it is. A submit whose answer was lost, then the entries refused
    by the service: the task was open, and found gone later it was not "most likely
    submitted"."""
    page, _, _ = await keying_routed(served, browser, tokens)
    checks = re.compile(r".*/v1/tasks/[^/]+/check$")
    await page.route(checks, lambda route: _proxy(route, 403, "Forbidden"))
    await page.locator("#field-invoice_number").fill("INV-4")
    await page.keyboard.press("Tab")
    said = page.locator("#status.error").filter(has_text="Not checked")
    await said.wait_for()
    assert "the service answered 403" in await said.inner_text()
    assert await page.get_attribute("body", "data-state") == "working"
    await page.unroute(checks)

    submits = re.compile(r".*/v1/tasks/[^/]+/submit$")
    await page.locator("#field-total").fill("10")
    await page.route(submits, lambda route: route.abort())
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="Not known to be sent").wait_for()
    # Sent again with a total that is no number: the service checks the task's entries, so
    # the task is still open and the submit before was not taken.
    await page.unroute(submits)
    await page.locator("#field-total").fill("ten")
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector('#field-total[aria-invalid="true"]')
    gone = '{"title": "Conflict", "status": 409, "detail": "the lease has run out"}'
    await page.route(
        checks,
        lambda route: route.fulfill(status=409, content_type="application/problem+json", body=gone),
    )
    await page.locator("#field-total").focus()
    await page.keyboard.press("Tab")
    await page.wait_for_selector("body[data-state=idle]")
    assert await page.inner_text("#status") == "the lease has run out"
    await page.context.close()


async def test_a_check_or_a_submit_a_proxy_refuses_as_too_large_says_so_and_keeps_the_entries(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    """A proxy whose body limit is below the keying's (ingress-nginx's 1 MiB by default)
    answers 413 with its own page: sent again, the same answer, so a manager is to be told."""
    page, _, _ = await keying_routed(served, browser, tokens)
    too_large = re.compile(r".*/v1/tasks/[^/]+/(check|submit)$")
    await page.route(too_large, lambda route: _proxy(route, 413, "Request Entity Too Large"))
    said = (
        "the request is larger than something between this page and the service accepts (it "
        "answered 413). Your entries are kept; tell a manager, as sending them again meets the "
        "same limit."
    )
    await page.locator("#field-invoice_number").fill("INV-4")
    await page.keyboard.press("Tab")
    await page.locator("#status.error").filter(has_text="Not checked").wait_for()
    assert await page.inner_text("#status") == f"Not checked: {said}"
    await page.locator("#field-total").fill("10")
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="Not sent").wait_for()
    assert await page.inner_text("#status") == f"Not sent: {said}"
    assert await page.get_attribute("body", "data-state") == "working"
    assert await page.input_value("#field-invoice_number") == "INV-4"
    assert await page.input_value("#field-total") == "10"
    await page.context.close()

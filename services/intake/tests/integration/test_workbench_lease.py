"""/work keeps a task's lease while the keyer works, in Chromium, the page's clock run forward
by the test: a keyer back from a spell away, in the last of the lease, keeps the task and what
was keyed by keying on; one signed out is told until when the entries can be sent; one whose
network is down is told the lease ends, and after a submit whose answer was lost, that the
task was most likely submitted, unless a beat since found it still held."""

import re
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from playwright.async_api import Browser, Page, Request, Route
from sqlalchemy import select

from bpo_devtools.testing import Tokens, eventually
from bpo_intake.models import Task

from .browsing import Served, intercepted
from .documents import a_keyer_with_a_task

BEATS = re.compile(r".*/v1/tasks/[^/]+/heartbeat$")


async def _lease_end(served: Served, item_id: UUID) -> datetime:
    """When the item's task's lease ends, as the server keeps it."""
    async with served.sessions() as session:
        query = select(Task.lease_expires_at).where(Task.item_id == item_id)
        end = (await session.scalars(query)).one()
    assert end is not None
    return end


async def _keying_on_a_clock(
    served: Served, browser: Browser, tokens: Tokens
) -> tuple[Page, dict[str, Any], str]:
    """A keyer's page on a clock the test runs, its task taken and the invoice number keyed;
    loaded again for the clock, its requests routed from then on (see `intercepted`)."""
    page, made, keyer = await a_keyer_with_a_task(served, browser, tokens, "INV-8")
    await page.clock.install()
    await intercepted(page)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    await page.locator("#field-invoice_number").fill("INV-8")
    return page, made, keyer


async def test_keying_on_in_the_last_of_the_lease_after_a_spell_away_keeps_the_task(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await a_keyer_with_a_task(served, browser, tokens, "INV-8")
    item_id = UUID(made["item_id"])
    # The page's timers on a clock the test moves on; the lease (300 s, a beat every 100 s)
    # kept by the server's own.
    await page.clock.install()
    await page.reload()
    beats: list[str] = []

    def seen(request: Request) -> None:
        if BEATS.match(request.url):
            beats.append(request.url)

    page.on("request", seen)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    await page.locator("#field-invoice_number").fill("INV-8")

    # 250 s on, within a lease of the last input: a beat renews the lease to 550 s.
    async with page.expect_response(BEATS) as renewed:
        await page.clock.fast_forward(250_000)
    assert (await renewed.value).status == 200
    before = await _lease_end(served, item_id)
    # At 510 s, away longer than a lease: the beat is skipped, and 40 s of the lease are left.
    await page.clock.fast_forward(260_000)
    await page.locator("#lease.expiring").wait_for()
    assert beats == [beats[0]]

    # Back: the keys typed at once send one beat, and the lease is renewed.
    await page.keyboard.type("123")

    async def renewed_on_the_server() -> bool:
        return await _lease_end(served, item_id) > before

    await eventually(renewed_on_the_server, what="the lease renewed as the keyer keyed")
    await page.locator("#lease:not(.expiring)").wait_for()
    assert len(beats) == 2
    # Past the end the lease had: the task stays open, and what was keyed with it.
    await page.clock.fast_forward(60_000)
    assert await page.get_attribute("body", "data-state") == "working"
    assert await page.input_value("#field-invoice_number") == "INV-8123"
    assert "ran out" not in await page.inner_text("#status")
    await page.context.close()


async def test_the_last_minutes_warning_goes_once_the_lease_is_renewed(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await _keying_on_a_clock(served, browser, tokens)

    # A beat at 250 s renews the lease to 550 s; at 485 s the keyer is away, the beat skipped,
    # and the countdown goes through the last minute's start: the page says so.
    async with page.expect_response(BEATS):
        await page.clock.fast_forward(250_000)
    await page.clock.fast_forward(235_000)
    await page.clock.run_for(10_000)
    await page.locator("#status.error").filter(has_text="The lease ends in a minute").wait_for()

    # Back, the keyer's first key renews the lease: the warning goes with the last minute.
    async with page.expect_response(BEATS) as renewed:
        await page.keyboard.type("1")
    assert (await renewed.value).status == 200
    await page.locator("#lease:not(.expiring)").wait_for()
    await page.wait_for_selector("#status:empty", state="attached")
    assert await page.get_attribute("#status", "class") == ""
    assert await page.input_value("#field-invoice_number") == "INV-81"
    await page.context.close()


async def test_signed_out_the_keyer_is_told_when_the_lease_ends_and_the_last_minute_says_it_on(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await _keying_on_a_clock(served, browser, tokens)

    # The sign-in's cookie gone: leaving the field, the keyer is told to sign in again and
    # send the entries before the lease ends, at the time the server holds it to.
    await page.context.clear_cookies()
    await page.keyboard.press("Tab")
    said = page.locator("#status.error").filter(has_text="Signed out")
    await said.wait_for()
    end = (await _lease_end(served, UUID(made["item_id"]))).astimezone()
    ends = {f"{(end + timedelta(seconds=s)):%H:%M}" for s in (-2, 2)}
    signed_out = await said.inner_text()
    assert any(f"before the lease ends at {at}." in signed_out for at in ends), signed_out

    # Nothing renews the lease; its last minute starts, and the status line still says how to
    # keep the task (keying on, as the warning would have it, cannot).
    await page.clock.fast_forward(235_000)
    await page.clock.run_for(10_000)
    await page.locator("#lease.expiring").wait_for()
    assert await page.inner_text("#status") == signed_out
    await page.context.close()


async def test_a_lease_ending_out_of_reach_after_a_lost_submit_answer_says_it_was_submitted(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await _keying_on_a_clock(served, browser, tokens)
    # The check of the number left is answered first: one after the submit would find the
    # task gone, and close it before the lost answer is told.
    async with page.expect_response(re.compile(r".*/v1/tasks/[^/]+/check$")):
        await page.locator("#field-total").fill("10")

    # The submit is taken, its answer lost; then the network stays down: no beat, check or
    # submit gets through.
    async def answer_lost(route: Route) -> None:
        await route.fetch()
        await route.abort()

    submits = re.compile(r".*/v1/tasks/[^/]+/submit$")
    await page.route(submits, answer_lost)
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="Not known to be sent").wait_for()
    await page.unroute(submits)
    calls = re.compile(r".*/v1/tasks/[^/]+/(heartbeat|check|submit)$")
    await page.route(calls, lambda route: route.abort())

    # The last minute: keying on cannot keep the task, and the page does not say it can.
    async with page.expect_event("requestfailed", lambda request: bool(BEATS.match(request.url))):
        await page.clock.fast_forward(200_000)
    await page.clock.run_for(50_000)
    await page.locator("#lease.expiring").wait_for()
    said = await page.inner_text("#status")
    assert "keep working" not in said
    assert re.fullmatch(
        r"The lease ends in a minute, at \d\d:\d\d: the service cannot be reached to renew it\.",
        said,
    )
    # The lease's end: the task was most likely submitted, not given back to the queue.
    await page.clock.fast_forward(60_000)
    await page.wait_for_selector("body[data-state=idle]")
    said = await page.inner_text("#status")
    assert "went back to the queue" not in said
    assert said.endswith(
        "was most likely submitted: the submit before went through, though its answer was lost."
    )
    async with served.sessions() as session:
        query = select(Task.status).where(Task.item_id == UUID(made["item_id"]))
        assert (await session.scalars(query)).one() == "submitted"
    await page.context.close()


async def test_a_lease_ending_after_a_beat_got_through_a_lost_submit_says_it_went_back(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await _keying_on_a_clock(served, browser, tokens)
    # The submit never reaches the service; then the network is back.
    submits = re.compile(r".*/v1/tasks/[^/]+/submit$")
    await page.route(submits, lambda route: route.abort())
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="Not known to be sent").wait_for()
    await page.unroute(submits)
    # A beat renews the lease: the task was still held, so that submit did not take it.
    async with page.expect_response(BEATS) as renewed:
        await page.clock.fast_forward(250_000)
    assert (await renewed.value).status == 200

    async def renewed_on_the_page() -> bool:
        await page.clock.run_for(1_000)  # a tick, to show the lease's time left
        return await page.locator("#lease.expiring").count() == 0

    await eventually(renewed_on_the_page, what="the page to take the beat's answer")
    # The keyer away, the lease runs out: the task went back to the queue, with the keying.
    await page.clock.fast_forward(400_000)
    await page.wait_for_selector("body[data-state=idle]")
    assert await page.inner_text("#status") == "The lease ran out; the task went back to the queue."
    await page.context.close()

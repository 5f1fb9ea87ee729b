"""/work when a page's image or words cannot be had, in Chromium: the document store out of reach
for a moment (503, with Retry-After) as a keyer opens a task or shows the page's words: the
page says so, asks again after Retry-After, and shows the page (or its words) with no key
pressed, without replacing what the status line must keep saying. A page that could not be
drawn is said in the service's words, naming Can't read it; a proxy's page where the words were
due is said as such."""

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from playwright.async_api import Browser, Page, Route

from bpo_devtools.testing import Tokens, eventually

from .browsing import Served, intercepted, script_errors
from .documents import a_keyer_with_a_task, keying_routed
from .test_workbench_prefill import word_centre

STORE_AWAY = json.dumps({
    "type": "about:blank", "title": "Service unavailable", "status": 503,
    "detail": "the document storage is unavailable; retry the request",
})  # fmt: skip


def _away_twice(asked: list[str], told: asyncio.Event) -> Callable[[Route], Awaitable[None]]:
    """A page link's route: answered as the service does while the document store is out of
    reach, twice; the third request goes on to the service once `told` is set (the test has
    read what the page says meanwhile). `asked`: the links asked for."""

    async def away(route: Route) -> None:
        asked.append(route.request.url)
        if len(asked) <= 2:
            await route.fulfill(
                status=503,
                headers={"Retry-After": "1"},
                content_type="application/problem+json",
                body=STORE_AWAY,
            )
            return
        await told.wait()
        await route.fallback()

    return away


async def _first_page_shown(
    served: Served, browser: Browser, tokens: Tokens
) -> tuple[Page, dict[str, Any], list[str]]:
    """`keying_routed`, once the task's first page is shown."""
    page, made, failures = await keying_routed(served, browser, tokens)
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')
    return page, made, failures


async def test_a_page_image_the_store_cannot_give_for_a_moment_is_asked_for_again_and_shown(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    asked: list[str] = []
    told = asyncio.Event()
    await page.route(re.compile(r".*/v1/documents/[^/]+/pages/1\?.*"), _away_twice(asked, told))

    await page.keyboard.press("n")
    said = page.locator("#status.error").filter(has_text="out of reach")
    await said.wait_for()
    assert await said.inner_text() == (
        "inv-4.pdf: the document store is out of reach for now; the page is asked for again."
    )
    told.set()
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')
    assert len(asked) == 3
    assert await page.get_attribute("#page-canvas", "aria-label") == "inv-4.pdf, page 1 of 2"
    assert await page.inner_text("#status") == "", "what was said while waiting goes"
    await page.context.close()


async def test_the_pages_words_the_store_cannot_give_for_a_moment_are_asked_for_again(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await _first_page_shown(served, browser, tokens)
    asked: list[str] = []
    told = asyncio.Event()
    words = re.compile(r".*/v1/documents/[^/]+/pages/1/words\?.*")
    await page.route(words, _away_twice(asked, told))

    await page.keyboard.press("Alt+W")  # the invoice number, the first field, in focus
    said = page.locator("#status.error").filter(has_text="out of reach")
    await said.wait_for()
    assert await said.inner_text() == (
        "The page's words cannot be fetched: the document store is out of reach for now; they "
        "are asked for again."
    )
    told.set()
    await page.wait_for_selector("#status:empty", state="attached")
    assert len(asked) == 3
    # The words are shown: one clicked types itself into the field in focus.
    x, y = await word_centre(page, served, asked[0], "Acme")
    await page.mouse.click(x, y)
    assert await page.input_value("#field-invoice_number") == "Acme"
    await page.context.close()


async def test_a_page_that_could_not_be_drawn_is_said_in_the_services_words_naming_alt_u(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    failures = script_errors(page)
    not_drawn = json.dumps({
        "type": "about:blank", "title": "Not found", "status": 404,
        "detail": "no image of page 1 of document 0197: it could not be drawn",
    })  # fmt: skip
    await page.route(
        re.compile(r".*/v1/documents/[^/]+/pages/1\?.*"),
        lambda route: route.fulfill(
            status=404, content_type="application/problem+json", body=not_drawn
        ),
    )
    await page.keyboard.press("n")
    said = page.locator("#status.error").filter(has_text="inv-4.pdf")
    await said.wait_for()
    assert await said.inner_text() == (
        "inv-4.pdf: no image of page 1 of document 0197: it could not be drawn. If the document "
        "cannot be read, press Alt+U (Can't read it)"
    )
    assert failures == []
    await page.context.close()


async def test_a_proxys_page_for_a_pages_words_is_said_as_such(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, failures = await _first_page_shown(served, browser, tokens)
    await page.route(
        re.compile(r".*/v1/documents/[^/]+/pages/1/words\?.*"),
        lambda route: route.fulfill(status=200, content_type="text/html", body="<p>Sign in</p>"),
    )
    await page.keyboard.press("Alt+W")
    said = page.locator("#status.error").filter(has_text="words")
    await said.wait_for()
    assert await said.inner_text() == (
        "The page's words: the service answered 200 with a page that is not its own."
    )
    assert failures == [], "no script error: the page's HTML is not read as JSON"
    await page.context.close()


async def test_a_page_waited_for_leaves_a_submit_not_known_to_be_sent_said(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await _first_page_shown(served, browser, tokens)
    await page.route(
        re.compile(r".*/v1/tasks/[^/]+/submit$"),
        lambda route: route.fulfill(status=502, content_type="text/html", body="<h1>502</h1>"),
    )
    await page.locator("#field-invoice_number").fill("INV-4")
    await page.keyboard.press("Control+Enter")
    lost = page.locator("#status.error").filter(has_text="Not known to be sent")
    await lost.wait_for()
    said = await lost.inner_text()
    # The next page, its store away for a moment meanwhile: waited for, then shown.
    asked: list[str] = []
    told = asyncio.Event()
    await page.route(re.compile(r".*/v1/documents/[^/]+/pages/2\?.*"), _away_twice(asked, told))
    await page.keyboard.press("Alt+PageDown")

    async def asked_again() -> bool:
        return len(asked) >= 2  # the first answer's wait said, if at all

    await eventually(asked_again, what="the page asked for again")
    assert await page.inner_text("#status") == said, "not replaced by the page's wait"
    told.set()
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:2"]')
    assert await page.inner_text("#status") == said, "nor cleared with it"
    # Its words refused: not said over it either.
    words = re.compile(r".*/v1/documents/[^/]+/pages/2/words\?.*")
    gone = json.dumps({"title": "Not found", "status": 404, "detail": "no page 2"})
    await page.route(
        words,
        lambda route: route.fulfill(status=404, content_type="application/problem+json", body=gone),
    )
    async with page.expect_response(words):
        await page.keyboard.press("Alt+W")
    await page.wait_for_selector("#words[aria-pressed=true]")
    assert await page.inner_text("#status") == said
    await page.context.close()


async def test_words_that_fail_on_a_page_turned_to_are_still_said_once_it_is_shown(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await _first_page_shown(served, browser, tokens)
    async with page.expect_response(re.compile(r".*/pages/1/words\?.*")):
        await page.keyboard.press("Alt+W")  # the words shown, and asked for on each page
    gone = json.dumps({"title": "Not found", "status": 404, "detail": "no words of page 2"})
    await page.route(
        re.compile(r".*/v1/documents/[^/]+/pages/2/words\?.*"),
        lambda route: route.fulfill(status=404, content_type="application/problem+json", body=gone),
    )
    await page.keyboard.press("Alt+PageDown")
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:2"]')
    assert await page.inner_text("#status") == "no words of page 2."
    await page.keyboard.press("Alt+W")  # the words put away: what they said goes with them
    await page.wait_for_selector("#words[aria-pressed=false]")
    assert await page.inner_text("#status") == ""
    await page.context.close()

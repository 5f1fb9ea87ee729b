"""/work's keys in Chromium: N held down claims once and types nothing into the task it
opened; Enter held down acts once; on a Mac, Option and the arrows in a text field are the
field's; the shortcuts' list open, the page behind it takes no key."""

import asyncio
import re
from typing import Any

from playwright.async_api import Browser, Page, Request

from bpo_devtools.testing import Tokens

from .browsing import Served, intercepted
from .documents import a_keyer_with_a_task, pre_filled_claims

CLAIMS = re.compile(r".*/v1/tasks/claim$")


def _sent(page: Page, calls: re.Pattern[str]) -> list[str]:
    """The calls to those addresses the page sends from now on, as they go."""
    sent: list[str] = []

    def seen(request: Request) -> None:
        if calls.match(request.url):
            sent.append(request.url)

    page.on("request", seen)
    return sent


async def _held(page: Page, key: str, repeats: int) -> None:
    """The key pressed and held while it repeats, a moment apart, then let go."""
    for _ in range(repeats):
        await asyncio.sleep(0.3)
        await page.keyboard.down(key)
    await page.keyboard.up(key)


async def test_n_held_down_claims_once_and_types_nothing_into_the_task_it_opened(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    claims = _sent(page, CLAIMS)

    # No work: the held key's repeats claim nothing more.
    no_work: dict[str, list[Any]] = {"tasks": []}
    await page.route(CLAIMS, lambda route: route.fulfill(json=no_work))
    await page.keyboard.down("n")
    await page.locator("#status").filter(has_text="No task available.").wait_for()
    await _held(page, "n", repeats=2)
    await asyncio.sleep(0.3)
    assert len(claims) == 1
    await page.unroute(CLAIMS)

    # Work, pre-filled: the task opens, its first field in focus, and the repeats type nothing.
    await page.route(CLAIMS, pre_filled_claims(made, invoice_number="INV-4711"))
    await page.keyboard.down("n")
    await page.wait_for_selector("body[data-state=working]")
    assert await page.evaluate("document.activeElement.id") == "field-invoice_number"
    await _held(page, "n", repeats=3)
    assert await page.input_value("#field-invoice_number") == "INV-4711"
    number = page.locator('.field[data-field="invoice_number"]')
    assert await number.get_attribute("class") == "field suggested"
    assert len(claims) == 2
    # Let go, N is a letter keyed into the field again.
    await page.keyboard.press("n")
    assert (await page.input_value("#field-invoice_number")).replace("n", "", 1) == "INV-4711"
    await page.context.close()


async def test_enter_held_down_acts_once_and_never_presses_a_button(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, made, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    await page.route(CLAIMS, pre_filled_claims(made, invoice_number="INV-4", total="10.00"))
    submits = _sent(page, re.compile(r".*/v1/tasks/[^/]+/submit$"))
    # On "Next task": it claims, and the repeats do not run through the task it opened.
    await page.keyboard.down("Enter")
    await page.wait_for_selector("body[data-state=working]")
    await _held(page, "Enter", repeats=2)
    assert await page.evaluate("document.activeElement.id") == "field-invoice_number"
    # In the form: one field on, and no further (from the last field, to Submit and past it).
    await page.keyboard.down("Enter")
    for _ in range(12):
        await page.keyboard.down("Enter")
    await page.keyboard.up("Enter")
    await asyncio.sleep(0.5)
    assert await page.evaluate("document.activeElement.id") == "field-total"
    assert submits == []
    assert await page.get_attribute("body", "data-state") == "working"
    await page.context.close()


# The page as a Mac's browser shows it.
ON_A_MAC = """
Object.defineProperty(Navigator.prototype, "platform", { get: () => "MacIntel" });
Object.defineProperty(Navigator.prototype, "userAgentData", { get: () => undefined });
"""


async def _scrolled(page: Page) -> list[int]:
    """How far the page image is moved in its box, across and down."""
    box = page.locator("#canvas-box")
    moved: list[int] = await box.evaluate("(box) => [box.scrollLeft, box.scrollTop]")
    return moved


async def test_on_a_mac_option_and_the_arrows_in_a_text_field_move_by_word_not_the_page(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await a_keyer_with_a_task(served, browser, tokens)
    await page.add_init_script(ON_A_MAC)
    await page.reload()
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-painted]")
    for _ in range(4):
        await page.click("#zoom-in")  # the page larger than its box, to be moved
    # Whether the page took the latest key from the field (its listener is the document's).
    await page.evaluate(
        "() => addEventListener('keydown', (event) => { window.taken = event.defaultPrevented; })"
    )
    await page.locator("#field-invoice_number").fill("Müller Holz GmbH")
    for keys in ("Alt+ArrowLeft", "Alt+Shift+ArrowLeft", "Alt+ArrowRight", "Alt+ArrowDown"):
        await page.keyboard.press(keys)
        assert await page.evaluate("window.taken") is False, keys
    assert await _scrolled(page) == [0, 0]
    assert await page.input_value("#field-invoice_number") == "Müller Holz GmbH"
    # Alt+Page Down still turns the page from the field.
    await page.keyboard.press("Alt+PageDown")
    await page.locator("#page-label").filter(has_text="Page 2 of 2").wait_for()

    # From the page image, Alt and the arrows move it.
    await page.focus("#canvas-box")
    before = await _scrolled(page)
    await page.keyboard.press("Alt+ArrowRight")
    await page.keyboard.press("Alt+ArrowDown")
    assert await page.evaluate("window.taken") is True
    after = await _scrolled(page)
    assert after[0] > before[0]
    assert after[1] > before[1]
    await page.context.close()


async def test_the_shortcuts_list_open_the_page_behind_it_takes_no_key(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    page, _, _ = await a_keyer_with_a_task(served, browser, tokens)
    claims = _sent(page, CLAIMS)
    closes = _sent(page, re.compile(r".*/v1/tasks/[^/]+/(submit|release)$"))
    listed = page.locator("#help[open]")

    await page.keyboard.press("?")
    await listed.wait_for()
    await page.keyboard.press("n")
    await asyncio.sleep(0.5)
    assert claims == []
    assert await page.get_attribute("body", "data-state") == "idle"
    await page.keyboard.press("Escape")
    await listed.wait_for(state="detached")
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")

    await page.locator("#field-invoice_number").fill("INV-4")
    await page.click("#help-button")
    await listed.wait_for()
    for keys in ("Control+Enter", "Alt+Q", "Alt+Q", "Alt+U"):
        await page.keyboard.press(keys)
    await asyncio.sleep(0.5)
    assert closes == []
    assert await page.get_attribute("body", "data-state") == "working"
    assert await page.is_hidden("#reason-form")
    assert await page.input_value("#field-invoice_number") == "INV-4"
    # Nor are the page's keys the browser's: Alt+← would be Back, to the sign-in, leaving the
    # page and giving the task back.
    await page.evaluate(
        "() => addEventListener('keydown', (event) => { window.taken = event.defaultPrevented; })"
    )
    await page.keyboard.press("Alt+ArrowLeft")
    assert await page.evaluate("window.taken") is True
    assert await listed.count() == 1
    await page.context.close()

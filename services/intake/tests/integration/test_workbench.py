"""/work: contractors key from the document in Chromium, with the keyboard alone.

The browser tests drive Debian's Chromium through Playwright (as the dashboard's do) against
the intake app served by uvicorn on a free port, its documents in a directory of the test's
own. They save screenshots of the workbench to docs/screenshots/, which docs/workbench.md
shows.
"""

import asyncio
import io
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from PIL import Image
from playwright.async_api import Browser, Page, Route
from sqlalchemy import select

from bpo_common.ids import new_id
from bpo_devtools.testing import (
    Tokens,
)
from bpo_intake.models import Task

from .browsing import (
    SCREENSHOTS,
    Served,
    adjudicating,
    contractor,
    intercepted,
    signed_in,
    submitted,
)
from .documents import a_job_with_a_document, invoice_pdf

# Before every other test's deadline, so that these contractors claim these tasks first; and
# for contractors with this skill only, so that no other test's contractor claims them (nor
# the tasks a validation service of a later test may make of their events).
DUE = "1990-01-01T00:00:00Z"
SKILL = f"workbench-{new_id().hex[-8:]}"
FIELDS = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number",
     "help": "As printed at the top, e.g. INV-7"},
    {"name": "total", "type": "decimal", "label": "Total", "help": "With tax"},
    {"name": "issued_on", "type": "date", "label": "Issued on", "required": False},
]  # fmt: skip
INSTRUCTIONS = "Key the invoice **as printed**.\n\n- Totals with tax\n\n<b>not bold</b>"


async def invoice_job(served: Served, tokens: Tokens, **job: Any) -> dict[str, Any]:
    """A job with one item keyed from a two-page invoice PDF."""
    body = {"work_type": "invoice", "fields": FIELDS, "instructions": INSTRUCTIONS,
            "qc": {"mode": "single"}, "due_at": DUE, "required_skills": [SKILL], **job}  # fmt: skip
    return await a_job_with_a_document(served, tokens, body, "inv-7.pdf", invoice_pdf("INV-7"))


def dark_share(png: bytes) -> float:
    """The share of a picture's pixels that are dark: text on a white page."""
    gray = Image.open(io.BytesIO(png)).convert("L")
    histogram = gray.histogram()
    return sum(histogram[:100]) / max(1, sum(histogram))


async def test_a_keyer_keys_a_two_page_invoice_with_the_keyboard_alone(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await invoice_job(served, tokens)
    keyer_id, token = await contractor(served, tokens, SKILL)
    page = await signed_in(browser, served, token)
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    cookie = (await page.context.cookies())[0]
    assert (cookie["name"], cookie["httpOnly"], cookie["sameSite"]) == ("bpo_work", True, "Strict")
    assert await page.evaluate("document.cookie") == ""

    await page.keyboard.press("n")
    document = made["document_id"]
    await page.wait_for_selector(f'body[data-painted="{document}:1"]')
    assert await page.inner_text("#page-label") == "Page 1 of 2"
    assert "as printed" in await page.inner_text("#instructions strong")
    assert "<b>not bold</b>" in await page.inner_text("#instructions")  # raw HTML stays text
    canvas = await page.locator("#page-canvas").screenshot()
    assert 0.0001 < dark_share(canvas) < 0.05, "the page's line of text is drawn on white"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "workbench-entry.png")

    await page.keyboard.press("Alt+PageDown")
    await page.wait_for_selector(f'body[data-painted="{document}:2"]')
    assert await page.inner_text("#page-label") == "Page 2 of 2"
    await page.keyboard.press("Alt+R")
    await page.keyboard.press("Alt+Equal")
    assert await page.inner_text("#zoom-label") != "fit"
    await page.keyboard.press("Alt+0")

    # The first field has the focus; Tab follows the job's order.
    assert await page.evaluate("document.activeElement.id") == "field-invoice_number"
    await page.keyboard.type("INV-7")
    await page.keyboard.press("Tab")
    await page.keyboard.type("12,50x")
    await page.keyboard.press("Tab")
    error = page.locator("#field-total-error")
    await error.filter(has_text="not a number").wait_for()
    assert await page.locator(".field[data-field=total]").get_attribute("class") == (
        "field invalid"
    )
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("12.50")
    await page.keyboard.press("Tab")
    await page.locator(".field.invalid").wait_for(state="detached")
    assert await error.inner_text() == ""
    await page.keyboard.type("12012026")  # the date field, month/day/year in en-US
    await asyncio.sleep(1.2)  # at least a second of active time
    unnamed = await page.evaluate(
        "fetch('/v1/tasks/claim', {method: 'POST', headers: {'X-BPO-Page': 'another'}})"
        ".then(response => response.status)"
    )
    assert unnamed == 401, "without the page's name the cookie is no credential"
    await page.keyboard.press("Control+Enter")
    task = await submitted(served, made["item_id"], "entry")
    assert task.submitted_by == keyer_id
    assert task.data == {"invoice_number": "INV-7", "total": "12.5", "issued_on": "2026-12-01"}
    assert task.active_seconds is not None
    assert task.active_seconds >= 1
    assert all(url.startswith(served.url) for url in requested), "nothing from elsewhere"
    await page.context.close()


async def test_an_adjudicator_sees_both_keyings_the_difference_marked_and_decides(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await invoice_job(served, tokens)
    keyed = [
        {"invoice_number": "INV-7", "total": total, "issued_on": None} for total in ("12.5", "125")
    ]
    page = await adjudicating(served, browser, tokens, SKILL, made, keyed, ["total"], width=1920)
    differing = page.locator("#entries tr.differs")
    assert await differing.count() == 1
    assert await differing.get_attribute("data-field") == "total"
    assert await differing.locator("td").all_inner_texts() == ["12.5", "125"]
    assert await page.input_value("#field-invoice_number") == "INV-7"  # agreed: filled in
    assert await page.input_value("#field-total") == ""  # differs: the adjudicator decides
    await page.screenshot(path=SCREENSHOTS / "workbench-adjudication.png")
    assert await page.evaluate("document.activeElement.id") == "field-total"
    await page.keyboard.type("12.50")
    await page.keyboard.press("Control+Enter")
    task = await submitted(served, made["item_id"], "adjudication")
    assert task.data == {"invoice_number": "INV-7", "total": "12.5", "issued_on": None}
    # The page took the next task there was, if any: give it back, then ask for the keys.
    await page.wait_for_selector("body[data-submitted='1']")
    settled = re.compile("is yours|No task available")
    await page.locator("#status").filter(has_text=settled).wait_for()
    await page.keyboard.press("Alt+Q")
    await page.wait_for_selector("body[data-state=idle]")
    await page.keyboard.press("?")
    await page.wait_for_selector("dialog#help[open]")
    await page.screenshot(path=SCREENSHOTS / "workbench-shortcuts.png")
    await page.keyboard.press("Escape")
    await page.context.close()


# Without a browser


async def _jobs_and_their_keyer(
    served: Served, browser: Browser, tokens: Tokens, name: str, jobs: int
) -> tuple[list[dict[str, Any]], Page]:
    """`jobs` invoice jobs for a skill of their own, and the workbench of a contractor with it,
    signed in."""
    skill = f"{name}-{new_id().hex[-8:]}"
    made = [await invoice_job(served, tokens, required_skills=[skill]) for _ in range(jobs)]
    _, token = await contractor(served, tokens, skill)
    return made, await signed_in(browser, served, token)


async def test_the_lease_is_counted_by_the_servers_clock_not_the_computers(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    (made,), page = await _jobs_and_their_keyer(served, browser, tokens, "clock", 1)
    # This computer's clock an hour ahead of the server's: the lease must not look run out.
    await page.clock.set_system_time(datetime.now(UTC) + timedelta(hours=1))

    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')
    await asyncio.sleep(1.5)  # a tick or two of the countdown
    assert await page.get_attribute("body", "data-state") == "working"
    assert re.fullmatch(r"Lease [45]:\d\d", await page.inner_text("#lease"))
    await page.context.close()


async def test_the_next_task_is_submitted_while_its_page_image_is_still_on_its_way(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made, page = await _jobs_and_their_keyer(served, browser, tokens, "next", 3)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-painted]")
    held = asyncio.Event()

    async def hold(route: Route) -> None:
        await held.wait()
        await route.continue_()

    # From now on no page image arrives until the end of the test: each task is submitted
    # before its image comes, and the next one taken all the same.
    await page.route(re.compile(r".*/v1/documents/[^/]+/pages/\d+.*"), hold)
    for number in range(3):
        await page.locator("#field-invoice_number").fill(f"INV-{number}")
        await page.locator("#field-total").fill("10")
        await page.keyboard.press("Control+Enter")
        await page.wait_for_selector(f'body[data-submitted="{number + 1}"]')
    for item in made:
        await submitted(served, item["item_id"], "entry")
    held.set()
    await page.context.close()


def _submits_sent(page: Page) -> list[str]:
    """The submits the page sends from now on, as they go."""
    sent: list[str] = []

    def seen(url: str) -> None:
        if url.endswith("/submit"):
            sent.append(url)

    page.on("request", lambda request: seen(request.url))
    return sent


async def test_enter_moves_on_a_held_submit_sends_one_task_and_a_lost_one_keeps_the_entries(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made, page = await _jobs_and_their_keyer(served, browser, tokens, "enter", 2)
    await intercepted(page)
    sent = _submits_sent(page)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-painted]")
    # A plain Enter moves to the next field, as many keying tools do; it never submits.
    await page.locator("#field-invoice_number").fill("INV-1")
    await page.keyboard.press("Enter")
    assert await page.evaluate("document.activeElement.id") == "field-total"
    await page.locator("#field-total").fill("10")
    # The service out of reach: the keyer is told the submit may or may not have gone
    # through, and the entries stay to be sent again.
    unreachable = re.compile(r".*/v1/tasks/[^/]+/submit$")
    await page.route(unreachable, lambda route: route.abort())
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector("#status.error")
    assert await page.inner_text("#status") == (
        "Not known to be sent: no answer came, and it may have gone through. Your entries are "
        "kept; send them again with Ctrl+Enter."
    )
    assert await page.input_value("#field-invoice_number") == "INV-1"
    await page.unroute(unreachable)
    # Ctrl+Enter held down: this task is submitted; the key repeating on the next task,
    # opened meanwhile, submits nothing.
    await page.keyboard.down("Control")
    await page.keyboard.down("Enter")
    await page.wait_for_selector('body[data-submitted="1"]')
    await page.wait_for_selector("body[data-state=working]")
    await page.keyboard.down("Enter")  # a repeat: Enter is still down
    await page.keyboard.up("Enter")
    await page.keyboard.up("Control")
    await asyncio.sleep(0.5)
    assert len(sent) == 2, "the lost one and this one"
    assert await page.get_attribute("body", "data-submitted") == "1"
    statuses = []
    for item in made:
        async with served.sessions() as session:
            query = select(Task.status).where(Task.item_id == UUID(item["item_id"]))
            statuses.append((await session.scalars(query)).one())
    assert sorted(statuses) == ["leased", "submitted"]
    await page.context.close()


async def test_a_date_keyed_half_is_said_not_sent_as_empty(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    # "12" typed into a date: the input reads as empty, and `issued_on` is optional.
    _, page = await _jobs_and_their_keyer(served, browser, tokens, "half-date", 1)
    sent = _submits_sent(page)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-painted]")
    await page.locator("#field-invoice_number").fill("INV-1")
    await page.locator("#field-total").fill("10")
    await page.locator("#field-issued_on").focus()
    await page.keyboard.type("12")
    await page.locator("#field-total").focus()  # leaving it checks it: half, not empty
    await page.wait_for_selector('#field-issued_on[aria-invalid="true"]')
    assert "not a whole date" in await page.inner_text("#fields")
    await page.locator("#field-issued_on").focus()
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector("#status.error")
    assert "not whole" in await page.inner_text("#status")
    assert await page.get_attribute("#field-issued_on", "aria-invalid") == "true"
    assert await page.evaluate("document.activeElement.id") == "field-issued_on"
    assert sent == []
    await page.context.close()


async def test_a_reason_is_kept_when_it_cannot_be_sent_and_escape_goes_back_to_the_field(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    _, page = await _jobs_and_their_keyer(served, browser, tokens, "reason", 1)
    sent = _submits_sent(page)
    # The service out of reach for submits from the start: no submit can get through.
    await page.route(re.compile(r".*/v1/tasks/[^/]+/submit$"), lambda route: route.abort())
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-painted]")
    await page.locator("#field-total").focus()
    await page.keyboard.press("Alt+U")
    await page.wait_for_selector("#reason:focus")
    await page.keyboard.press("Escape")
    await page.wait_for_selector("#reason-form", state="hidden")
    assert await page.evaluate("document.activeElement.id") == "field-total"
    await page.keyboard.press("Alt+U")
    await page.wait_for_selector("#reason:focus")
    await page.keyboard.type("page 2 is cut off")
    await page.keyboard.press("Alt+U")  # again, the form open: what is typed stays
    assert await page.input_value("#reason") == "page 2 is cut off"
    await page.keyboard.press("Enter")
    await page.wait_for_selector("#status.error")
    assert "Not known to be sent" in await page.inner_text("#status")
    assert len(sent) == 1
    assert await page.is_visible("#reason-form")
    assert await page.input_value("#reason") == "page 2 is cut off", "to send again"
    await page.context.close()


async def test_a_page_link_that_expired_while_the_task_was_held_is_renewed(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    (made,), page = await _jobs_and_their_keyer(served, browser, tokens, "renew", 1)
    await intercepted(page)
    document = made["document_id"]
    asked: list[str] = []
    page.on("request", lambda request: asked.append(request.url))

    refused: list[str] = []

    async def expired_once(route: Route) -> None:
        if refused:
            await route.continue_()
            return
        refused.append(route.request.url)
        await route.fulfill(
            status=403,
            content_type="application/problem+json",
            body='{"title": "Forbidden", "status": 403, "detail": "the link has expired"}',
        )

    # The first page image's link has expired (as it would after minutes on the task).
    await page.route(re.compile(r".*/v1/documents/[^/]+/pages/1\?.*"), expired_once)
    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{document}:1"]')
    assert any(url.endswith(f"/v1/documents/{document}") for url in asked), "asked again"
    assert refused, "the first link was refused"
    assert dark_share(await page.locator("#page-canvas").screenshot()) > 0.0001, "the page drawn"
    await page.context.close()

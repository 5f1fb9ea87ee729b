"""/work when a keyer leaves a task with something keyed, in Chromium: the browser asks before
the page goes (and so the task and the entries), and a give-back is asked for twice."""

import asyncio
import re
from typing import Any
from uuid import UUID

import httpx
import pytest
from playwright.async_api import Browser, Dialog, Page
from sqlalchemy import select

from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, eventually
from bpo_intake.models import Task
from bpo_intake.service import contractors, tasks
from bpo_intake.service.keys import key_of_job

from .browsing import Served, contractor, intercepted, signed_in
from .documents import a_job_with_a_document, a_keyer_with_a_task, invoice_pdf, pre_filled_claims

CLAIMS = re.compile(r".*/v1/tasks/claim$")
FIELDS = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number"},
    {"name": "total", "type": "decimal", "label": "Total"},
]


async def _a_task_open(
    served: Served, browser: Browser, tokens: Tokens, items: int = 1
) -> tuple[UUID, Page]:
    """`items` invoice items, and the workbench of a keyer who has the (last) one's task open."""
    skill = f"leave-{new_id().hex[-8:]}"
    body = {"work_type": "invoice", "fields": FIELDS, "qc": {"mode": "single"},
            "due_at": "1990-01-04T00:00:00Z", "required_skills": [skill]}  # fmt: skip
    for _ in range(items):
        made = await a_job_with_a_document(served, tokens, body, "inv-3.pdf", invoice_pdf("INV-3"))
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-painted]")
    return UUID(made["item_id"]), page


async def _task_status(served: Served, item_id: UUID) -> str:
    async with served.sessions() as session:
        query = select(Task.status).where(Task.item_id == item_id)
        return str((await session.scalars(query)).one())


async def _closed(page: Page) -> None:
    async def closed() -> bool:
        return page.is_closed()

    await eventually(closed, what="the page closing")


async def _given_back(served: Served, item_id: UUID) -> None:
    async def queued() -> bool:
        return await _task_status(served, item_id) == "queued"

    await eventually(queued, what="the task going back to the queue")


async def test_leaving_with_entries_not_sent_is_asked_first_and_staying_keeps_them(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    item_id, page = await _a_task_open(served, browser, tokens)
    asked: list[str] = []
    answered = asyncio.Event()

    async def stay(dialog: Dialog) -> None:
        asked.append(dialog.type)
        await dialog.dismiss()
        answered.set()

    page.on("dialog", stay)
    await page.locator("#field-invoice_number").fill("")
    await page.keyboard.type("INV-3")
    await page.close(run_before_unload=True)
    await asyncio.wait_for(answered.wait(), 10)
    assert asked == ["beforeunload"]
    assert not page.is_closed()
    assert await page.input_value("#field-invoice_number") == "INV-3"
    assert await _task_status(served, item_id) == "leased"

    # Sent, nothing is left to lose: the page goes without a question, the task submitted.
    await page.locator("#field-total").fill("12.50")
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector('body[data-submitted="1"]')
    await page.close(run_before_unload=True)
    await _closed(page)
    assert asked == ["beforeunload"]
    assert await _task_status(served, item_id) == "submitted"
    await page.context.close()


async def test_a_task_with_nothing_keyed_is_left_without_a_question_and_given_back(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    item_id, page = await _a_task_open(served, browser, tokens)
    asked: list[str] = []
    page.on("dialog", lambda dialog: asked.append(dialog.type))
    await page.close(run_before_unload=True)
    await _closed(page)
    await _given_back(served, item_id)
    assert asked == []
    await page.context.close()


async def test_leaving_while_a_submit_is_on_its_way_is_asked_first_and_leaves_the_task_to_it(
    served: Served, browser: Browser, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    page, made, _ = await a_keyer_with_a_task(served, browser, tokens)
    await intercepted(page)
    await page.route(CLAIMS, pre_filled_claims(made, invoice_number="INV-4", total="10.00"))
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    # The submit held in the service after it read the task, as by a slow data key.
    reached, go_on = asyncio.Event(), asyncio.Event()

    async def slow(*args: Any) -> Any:
        reached.set()
        await go_on.wait()
        return await key_of_job(*args)

    monkeypatch.setattr(tasks, "key_of_job", slow)
    asked: list[str] = []

    async def leave(dialog: Dialog) -> None:
        asked.append(dialog.type)
        await dialog.accept()

    page.on("dialog", leave)
    # Nothing keyed, the pre-fill sent as it is: leaving is asked all the same, and left, the
    # task is not given back under the submit.
    await page.keyboard.press("Control+Enter")
    await asyncio.wait_for(reached.wait(), 10)
    await page.goto("about:blank")
    await asyncio.sleep(0.5)  # for a give-back on its way to come in first
    go_on.set()
    item_id = UUID(made["item_id"])

    async def answered() -> bool:
        return await _task_status(served, item_id) != "leased"

    await eventually(answered, what="the submit's answer")
    assert await _task_status(served, item_id) == "submitted"
    assert asked == ["beforeunload"]
    await page.context.close()


async def test_giving_back_a_task_with_entries_is_asked_for_twice(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    item_id, page = await _a_task_open(served, browser, tokens)
    await page.locator("#field-total").fill("7")
    # Held down, the key repeats: a held Alt+Q is one press.
    await page.keyboard.down("Alt")
    await page.keyboard.down("q")
    await page.keyboard.down("q")
    await page.keyboard.up("q")
    await page.keyboard.up("Alt")
    assert "Alt+Q again" in await page.inner_text("#status.error")
    assert await page.get_attribute("body", "data-state") == "working"
    assert await page.input_value("#field-total") == "7"
    assert await _task_status(served, item_id) == "leased"
    async with page.expect_response(re.compile(r".*/v1/tasks/[^/]+/release$")) as released:
        await page.keyboard.press("Alt+Q")
    assert (await released.value).status == 204
    await page.wait_for_selector("body[data-state=idle]")
    await _given_back(served, item_id)
    # Its answer, 204 with no body, taken as the service's: nothing said against it.
    assert await page.inner_text("#status") == "Task given back."
    assert await page.get_attribute("#status", "class") != "error"
    await page.context.close()


async def test_a_give_back_asked_for_on_a_task_is_asked_again_on_the_next(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    _, page = await _a_task_open(served, browser, tokens, items=2)
    await page.locator("#field-invoice_number").fill("INV-3")
    await page.locator("#field-total").fill("7")
    await page.keyboard.press("Alt+Q")
    assert "Alt+Q again" in await page.inner_text("#status.error")
    # Sent instead, within the seconds a second Alt+Q gives back in: the next task opens.
    await page.keyboard.press("Control+Enter")
    await page.wait_for_selector('body[data-submitted="1"]')
    await page.locator("#status").filter(has_text="is yours").wait_for()
    await page.locator("#field-total").fill("8")
    await page.keyboard.press("Alt+Q")
    assert "Alt+Q again" in await page.inner_text("#status.error")
    assert await page.get_attribute("body", "data-state") == "working"
    assert await page.input_value("#field-total") == "8"
    await page.context.close()


async def test_a_shortcut_is_the_key_marked_with_its_letter_whatever_the_layout(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    item_id, page = await _a_task_open(served, browser, tokens)
    keyboard = await page.context.new_cdp_session(page)

    async def alt(key: str, code: str, modifiers: int = 1) -> None:
        """Alt and the key marked `key`, found at `code` (where a US keyboard has it)."""
        for kind in ("rawKeyDown", "keyUp"):
            pressed = {"type": kind, "key": key, "code": code, "modifiers": modifiers}
            await keyboard.send("Input.dispatchKeyEvent", pressed)

    # QWERTZ: '-' is where a US keyboard has '/'; it zooms out.
    wide = await page.locator("#page-canvas").bounding_box()
    await alt("-", "Slash")
    narrow = await page.locator("#page-canvas").bounding_box()
    assert wide is not None
    assert narrow is not None
    assert narrow["width"] < wide["width"]
    # Back from the first field stays there.
    await page.focus("#field-invoice_number")
    await page.keyboard.press("Shift+Enter")
    assert await page.evaluate("document.activeElement.id") == "field-invoice_number"
    # AZERTY: the keys marked A and Q are where a US keyboard has Q and A.
    await alt("a", "KeyQ")
    await asyncio.sleep(0.3)
    assert await page.get_attribute("body", "data-state") == "working"
    assert await _task_status(served, item_id) == "leased"
    await alt("q", "KeyA")
    await page.wait_for_selector("body[data-state=idle]")
    await _given_back(served, item_id)
    # Russian: the key marked N types т.
    await page.focus("body")
    await alt("т", "KeyN", modifiers=0)
    await page.wait_for_selector("body[data-state=working]")
    await page.context.close()


async def test_signing_out_gives_the_task_back(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    item_id, page = await _a_task_open(served, browser, tokens)
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(f"{served.url}/work/login")
    assert await _task_status(served, item_id) == "queued"
    await page.context.close()


async def test_a_sign_out_whose_give_back_fails_signs_out_all_the_same(
    served: Served, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = await contractor(served, tokens)

    async def unreachable(*_: object) -> None:
        raise ConnectionError("the database is away")

    monkeypatch.setattr(contractors, "let_go_of_leases", unreachable)
    async with httpx.AsyncClient(base_url=served.url, trust_env=False) as browser:
        signed_in = await browser.post("/work/login", data={"token": token})
        assert signed_in.status_code == 303, signed_in.text
        out = await browser.post("/work/logout")
    assert (out.status_code, out.headers["location"]) == (303, "/work/login")
    assert 'bpo_work=""' in out.headers["set-cookie"]

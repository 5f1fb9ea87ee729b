"""/work shows a job's instructions in Chromium: an image from another site, which the page's
policy would not load, as a link to it; one written into them (a data: address) as itself. The
service renders them beside its event loop."""

import asyncio
import base64
import threading

import httpx
import pytest
from playwright.async_api import Browser, ConsoleMessage

from bpo_devtools.testing import Tokens, eventually
from bpo_intake.domain.instructions import as_html
from bpo_intake.routes import workbench

from .browsing import Served, contractor
from .documents import a_keyer_with_a_task, image


async def test_an_image_in_the_instructions_from_elsewhere_is_a_link_to_it(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    dot = base64.b64encode(image(size=(1, 1))).decode()
    instructions = (
        "Key the total: ![where the total is](https://client.example/total.png)\n\n"
        f"Stamped ![a paid stamp](data:image/png;base64,{dot}) means paid."
    )
    page, _, _ = await a_keyer_with_a_task(served, browser, tokens, instructions=instructions)
    refused: list[str] = []

    def seen(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            refused.append(message.text)

    page.on("console", seen)
    await page.keyboard.press("n")
    await page.locator("#instructions p").first.wait_for()
    link = page.locator("#instructions a")
    assert await link.count() == 1
    assert await link.inner_text() == "where the total is (image)"
    assert await link.get_attribute("href") == "https://client.example/total.png"
    assert await link.get_attribute("target") == "_blank"
    # Only the image written into the instructions is shown, and it is loaded.
    shown = page.locator("#instructions img")
    assert await shown.count() == 1
    assert await shown.get_attribute("alt") == "a paid stamp"
    await page.wait_for_function("document.querySelector('#instructions img').naturalWidth === 1")
    assert refused == []
    await page.context.close()


async def test_the_service_answers_other_requests_while_it_renders_instructions(
    served: Served, tokens: Tokens, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, token = await contractor(served, tokens)
    started, answered = threading.Event(), threading.Event()
    waited: list[bool] = []

    def rendering(markdown: str) -> str:
        """Rendering that lasts until the service has answered a request meanwhile (or five
        seconds, if it cannot while this runs)."""
        started.set()
        waited.append(answered.wait(5))
        return as_html(markdown)

    async def under_way() -> bool:
        return started.is_set()

    monkeypatch.setattr(workbench, "as_html", rendering)
    async with httpx.AsyncClient(base_url=served.url, trust_env=False) as page:
        signed_in = await page.post("/work/login", data={"token": token})
        assert signed_in.status_code == 303, signed_in.text
        rendered = asyncio.create_task(
            page.post("/work/instructions", json={"markdown": "Key the *total*."})
        )
        await eventually(under_way, what="the rendering to start")
        health = await page.get("/healthz")
        assert health.json() == {"status": "ok"}
        answered.set()
        response = await rendered
    assert response.json() == {"html": "<p>Key the <em>total</em>.</p>\n"}
    assert waited == [True], "the service answered nothing while it rendered"

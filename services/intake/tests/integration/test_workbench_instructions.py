"""/work shows a job's instructions in Chromium: an image from another site, which the page's
policy would not load, as a link to it; one written into them (a data: address) as itself."""

import base64

from playwright.async_api import Browser, ConsoleMessage

from bpo_devtools.testing import Tokens

from .browsing import Served
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

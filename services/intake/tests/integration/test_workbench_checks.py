"""/work as the server's checks answer, in Chromium: what a check or a submit found wrong is
said in the status line until a later check finds that it no longer is."""

from playwright.async_api import Browser, Page

from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens

from .browsing import Served, contractor, signed_in
from .documents import a_job_with_a_document, invoice_pdf

FIELDS = [
    {"name": "net", "type": "decimal", "label": "Net"},
    {"name": "tax", "type": "decimal", "label": "Tax"},
    {"name": "total", "type": "decimal", "label": "Total"},
]


async def _status(page: Page) -> tuple[str, str]:
    """The status line's text and its class."""
    return await page.inner_text("#status"), await page.get_attribute("#status", "class") or ""


async def test_an_error_in_the_status_line_goes_once_a_check_finds_it_fixed(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    skill = f"checks-{new_id().hex[-8:]}"
    body = {"work_type": "invoice", "fields": FIELDS, "rules": ["total == net + tax"],
            "qc": {"mode": "single"}, "due_at": "1990-01-04T00:00:00Z",
            "required_skills": [skill]}  # fmt: skip
    await a_job_with_a_document(served, tokens, body, "inv-5.pdf", invoice_pdf("INV-5"))
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")

    # A rule on three fields: no field shows its error, the status line does.
    for name, value in (("net", "10"), ("tax", "2"), ("total", "13")):
        await page.locator(f"#field-{name}").fill(value)
    await page.keyboard.press("Tab")
    await page.locator("#status.error").filter(has_text="rule not met").wait_for()
    await page.locator("#field-total").fill("12")
    await page.keyboard.press("Tab")
    await page.wait_for_selector("#status:empty", state="attached")
    assert await _status(page) == ("", "")

    # A submit refused: its errors on the field, what it says about them in the status line,
    # until the field is fixed.
    await page.locator("#field-tax").fill("two")
    await page.keyboard.press("Control+Enter")
    await page.locator("#status.error").filter(has_text="breaks the job's rules").wait_for()
    assert "not a number" in await page.inner_text("#field-tax-error")
    await page.locator("#field-tax").fill("2")
    await page.keyboard.press("Tab")
    await page.wait_for_selector("#status:empty", state="attached")
    assert await _status(page) == ("", "")
    assert await page.inner_text("#field-tax-error") == ""
    await page.context.close()

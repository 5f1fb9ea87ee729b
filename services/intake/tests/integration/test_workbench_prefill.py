"""/work with machine pre-fill, in Chromium: the form comes filled, sure and unsure values told
apart; the field in focus shows where its value was read; the page's words can be shown and
clicked into a field; and what the keyer was shown goes to validation with the entry."""

import io
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pypdfium2 as pdfium
from PIL import Image
from playwright.async_api import Browser, Page
from sqlalchemy import update

from bpo_common.auth import Role
from bpo_common.contracts import validation
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, eventually, outbox_events
from bpo_intake.models import Item
from bpo_intake.service import decisions

from .browsing import SCREENSHOTS, Served, http_api, signed_in
from .conftest import opened_events
from .invoices import FIELDS, extracted_invoices, invoice_pdf, invoices, learned

DUE = "1990-01-02T00:00:00Z"
SKILL = f"prefill-{new_id().hex[-8:]}"
LABELLED = [field | {"label": field["name"].replace("_", " ").capitalize()} for field in FIELDS]


async def a_learned_layout_and_a_task(
    served: Served, tokens: Tokens, pages: int = 1
) -> dict[str, Any]:
    """Three of a supplier's invoices keyed and accepted (in a job nobody can claim), then a
    fourth in a job for this test's keyers (its page `pages` times over): its item, and the
    client's headers."""
    training, fresh = invoices(3, seed=11), invoices(1, seed=12)[0]
    async with await http_api(served) as api:
        registered = await api.post("/v1/clients", json={"name": "Acme"}, headers=tokens.manager())
        client_id = UUID(registered.json()["id"])
        client = tokens.client(client_id)
        jobs = []
        # The training job is due in a day; the keyer's before every other test's work, so
        # that `N` claims its task (and only this test's keyers have its skill).
        for skill, due in ((f"nobody-{new_id()}", {"sla_hours": 24}), (SKILL, {"due_at": DUE})):
            body = {"work_type": "invoice", "fields": LABELLED, "qc": {"mode": "single"},
                    "required_skills": [skill], **due}  # fmt: skip
            jobs.append((await api.post("/v1/jobs", json=body, headers=client)).json())
        files = {f"t{n}.pdf": invoice_pdf("Brandt", invoice) for n, invoice in enumerate(training)}
        done = await extracted_invoices(
            api, served.sessions, tokens, client_id, jobs[0]["id"], files
        )
        async with served.sessions() as session, session.begin():
            await decisions.decide_items(
                session,
                [
                    validation.ItemAccepted(
                        item_id=item.id,
                        job_id=item.job_id,
                        client_id=client_id,
                        result=invoice.keyed,
                        decided_at=datetime.now(UTC),
                    )
                    for item, invoice in zip(done, training, strict=True)
                ],
                served.keys,
            )
        await learned(served.sessions, [item.id for item in done])
        (item,) = await extracted_invoices(
            api,
            served.sessions,
            tokens,
            client_id,
            jobs[1]["id"],
            {"new.pdf": repeated(invoice_pdf("Brandt", fresh), pages)},
        )
    return {"item": item, "invoice": fresh, "client": client}


def repeated(pdf: bytes, pages: int) -> bytes:
    """The one-page PDF's page `pages` times over."""
    source, copy = pdfium.PdfDocument(pdf), pdfium.PdfDocument.new()
    try:
        for _ in range(pages):
            copy.import_pages(source)
        out = io.BytesIO()
        copy.save(out)
    finally:
        copy.close()
        source.close()
    return out.getvalue()


async def keyer(served: Served, tokens: Tokens) -> tuple[UUID, str]:
    async with await http_api(served) as api:
        response = await api.post(
            "/v1/contractors",
            json={"name": f"keyer {new_id()}", "skills": [SKILL]},
            headers=tokens.manager(),
        )
    contractor_id = UUID(response.json()["id"])
    return contractor_id, tokens.token(Role.CONTRACTOR, str(contractor_id))


def highlighted(png: bytes, box: list[float]) -> float:
    """The share of the box's pixels tinted the highlight's yellow."""
    picture = Image.open(io.BytesIO(png)).convert("RGB")
    x0, y0, x1, y1 = box
    region = picture.crop(
        (
            int(x0 * picture.width),
            int(y0 * picture.height),
            int(x1 * picture.width) + 1,
            int(y1 * picture.height) + 1,
        )
    )
    raw = region.tobytes()
    pixels = list(zip(raw[0::3], raw[1::3], raw[2::3], strict=True))
    yellow = [(r, g, b) for r, g, b in pixels if r > 220 and g > 190 and b < r - 40]
    return len(yellow) / max(1, len(pixels))


async def word_centre(page: Page, served: Served, words_url: str, text: str) -> tuple[float, float]:
    """Where on the screen the page's word is drawn."""
    async with httpx.AsyncClient(base_url=served.url, trust_env=False) as plain:
        words = (await plain.get(words_url)).json()["words"]
    (x0, y0, x1, y1) = next(word["box"] for word in words if word["text"] == text)
    canvas = await page.locator("#page-canvas").bounding_box()
    assert canvas is not None
    return (
        canvas["x"] + (x0 + x1) / 2 * canvas["width"],
        canvas["y"] + (y0 + y1) / 2 * canvas["height"],
    )


async def test_the_form_comes_pre_filled_and_the_focused_field_shows_where_it_was_read(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await a_learned_layout_and_a_task(served, tokens)
    item, invoice = made["item"], made["invoice"]
    keyer_id, token = await keyer(served, tokens)
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{item.documents[0]}:1"]')

    for name, value in invoice.keyed.items():
        field = page.locator(f'.field[data-field="{name}"]')
        # The total as its field reads what is typed: its point is ','.
        written = value.replace(".", ",") if name == "total" else value
        assert await page.input_value(f"#field-{name}") == written
        assert await field.get_attribute("class") == "field suggested"
        assert "% sure" in await field.locator(".suggestion").inner_text()

    # The total in focus: its box is drawn in yellow where the total is printed.
    await page.focus("#field-total")
    total = (item.suggestions or {})["total"]
    canvas = await page.locator("#page-canvas").screenshot()
    assert highlighted(canvas, total["boxes"][0]) > 0.3
    assert highlighted(canvas, (item.suggestions or {})["invoice_date"]["boxes"][0]) < 0.05
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "workbench-prefill.png")

    # The keyer corrects the number from the page's words: cleared, then the word clicked.
    await page.focus("#field-invoice_number")
    await page.fill("#field-invoice_number", "")
    await page.keyboard.press("Alt+W")
    assert await page.get_attribute("#words", "aria-pressed") == "true"
    async with httpx.AsyncClient(base_url=served.url, trust_env=False) as plain:
        document = await plain.get(f"/v1/documents/{item.documents[0]}", headers=made["client"])
    x, y = await word_centre(page, served, document.json()["pages"][0]["words_url"], "Net")
    await page.mouse.click(x, y)
    assert await page.input_value("#field-invoice_number") == "Net"
    assert await page.get_attribute('.field[data-field="invoice_number"]', "class") == "field"
    await page.screenshot(path=SCREENSHOTS / "workbench-words.png")
    # A word that is no date, clicked into the date, is said and leaves it as it was.
    await page.focus("#field-invoice_date")
    await page.mouse.click(x, y)
    assert await page.input_value("#field-invoice_date") == invoice.keyed["invoice_date"]
    assert await page.inner_text("#status") == '"Net" is not a value this field takes: key it.'
    await page.fill("#field-invoice_number", invoice.number)

    await page.keyboard.press("Control+Enter")

    async def sent() -> bool:
        found = await outbox_events(served.sessions, TaskSubmitted.event_type, item_id=str(item.id))
        return bool(found)

    # (The page then claims the next task: whatever other tests left in the queue.)
    await eventually(sent, what="the entry submitted")
    (event,) = await opened_events(
        served.sessions, served.keys, TaskSubmitted.event_type, item_id=str(item.id)
    )
    assert event.data["contractor_id"] == str(keyer_id)
    assert event.data["data"] == invoice.keyed
    assert set(event.data["suggestions"]) == set(invoice.keyed)
    assert event.data["suggestions"]["total"]["value"] == invoice.keyed["total"]
    assert event.data["layout_id"] == str(item.layout_id)


async def test_a_first_field_read_on_a_later_page_opens_the_document_there_highlighted(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await a_learned_layout_and_a_task(served, tokens, pages=2)
    item = made["item"]
    # Every value read on the second page (the first is the same invoice).
    later = {
        name: suggestion | {"page": 2} for name, suggestion in (item.suggestions or {}).items()
    }
    async with served.sessions() as session, session.begin():
        await session.execute(update(Item).where(Item.id == item.id).values(suggestions=later))
    _, token = await keyer(served, tokens)
    page = await signed_in(browser, served, token)

    await page.keyboard.press("n")

    await page.wait_for_selector(f'body[data-painted="{item.documents[0]}:2"]')
    assert await page.evaluate("document.activeElement.id") == "field-invoice_number"
    assert await page.inner_text("#page-label") == "Page 2 of 2"
    canvas = await page.locator("#page-canvas").screenshot()
    assert highlighted(canvas, later["invoice_number"]["boxes"][0]) > 0.3

"""/work on a review, in Chromium: the reviewer is told why validation asked for it, above the
keyings, the reason shown as text (it may quote a keyed value, markup and all)."""

from datetime import UTC, datetime
from uuid import UUID

from playwright.async_api import Browser

from bpo_common.contracts import validation
from bpo_common.contracts.intake import Entry
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.service import decisions

from .browsing import Served, contractor, http_api, signed_in
from .documents import a_job_with_a_document, invoice_pdf

DUE = "1990-01-04T00:00:00Z"
SKILL = f"review-{new_id().hex[-8:]}"
FIELDS = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number"},
    {"name": "total", "type": "decimal", "label": "Total"},
]
KEYED = {"invoice_number": "<b>INV-999</b>", "total": "12.5"}
REASON = "reference check: invoice_number <b>INV-999</b> is not in invoices"


async def test_a_reviewer_is_told_why_the_item_is_under_review_above_the_keyings(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    body = {"work_type": "invoice", "fields": FIELDS, "qc": {"mode": "single"},
            "due_at": DUE, "required_skills": [SKILL]}  # fmt: skip
    made = await a_job_with_a_document(served, tokens, body, "inv-7.pdf", invoice_pdf("INV-7"))
    job = made["job"]
    keyer_id, first = await contractor(served, tokens, SKILL)
    async with await http_api(served) as api:
        keyer = {"Authorization": f"Bearer {first}"}
        claimed = await api.post("/v1/tasks/claim", json={"job_id": job["id"]}, headers=keyer)
        (entry,) = claimed.json()["tasks"]
        done = await api.post(
            f"/v1/tasks/{entry['id']}/submit", json={"data": KEYED}, headers=keyer
        )
        assert done.status_code == 202, done.text
    keyed = Entry(task_id=UUID(entry["id"]), contractor_id=keyer_id, data=KEYED)
    review = validation.ReviewRequired(
        item_id=UUID(made["item_id"]), job_id=UUID(job["id"]), client_id=UUID(job["client_id"]),
        kind="review", entries=[keyed], reason=REASON, decided_at=datetime.now(UTC),
    )  # fmt: skip
    async with served.sessions() as session, session.begin():
        await decisions.decide_items(session, [review], served.keys)

    _, token = await contractor(served, tokens, SKILL, "qc")
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')

    why = page.locator("#review-reason")
    assert await why.inner_text() == f"Why this review: {REASON}"
    assert await why.locator("b").count() == 0  # the keyed markup stays text
    above, keyings = await why.bounding_box(), await page.locator("#entries").bounding_box()
    assert above is not None
    assert keyings is not None
    assert above["y"] + above["height"] <= keyings["y"]
    await page.context.close()

"""/work on a partial second keying, in Chromium: the form has only the fields adaptive QC
asked to key again, says so, and submits only them."""

from datetime import UTC, datetime
from uuid import UUID

from playwright.async_api import Browser
from sqlalchemy import select

from bpo_common.contracts import validation
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, eventually
from bpo_intake.models import Task
from bpo_intake.service import decisions

from .browsing import SCREENSHOTS, Served, contractor, http_api, signed_in
from .documents import a_job_with_a_document, invoice_pdf

DUE = "1990-01-03T00:00:00Z"
SKILL = f"rekey-{new_id().hex[-8:]}"
FIELDS = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number"},
    {"name": "total", "type": "decimal", "label": "Total", "help": "With tax"},
    {"name": "issued_on", "type": "date", "label": "Issued on", "required": False},
]


async def test_a_partial_second_keying_shows_and_submits_only_the_fields_to_key_again(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    body = {"work_type": "invoice", "fields": FIELDS, "qc": {"mode": "adaptive"},
            "due_at": DUE, "required_skills": [SKILL]}  # fmt: skip
    made = await a_job_with_a_document(served, tokens, body, "inv-7.pdf", invoice_pdf("INV-7"))
    job, item_id = made["job"], UUID(made["item_id"])
    _, first = await contractor(served, tokens, SKILL)
    async with await http_api(served) as api:
        keyer = {"Authorization": f"Bearer {first}"}
        claimed = await api.post("/v1/tasks/claim", json={"job_id": job["id"]}, headers=keyer)
        (entry,) = claimed.json()["tasks"]
        keyed = {"invoice_number": "INV-7", "total": "125", "issued_on": None}
        done = await api.post(
            f"/v1/tasks/{entry['id']}/submit", json={"data": keyed}, headers=keyer
        )
        assert done.status_code == 202, done.text
    async with served.sessions() as session, session.begin():
        await decisions.decide_items(
            session,
            [
                validation.SecondKeyingRequired(
                    item_id=item_id,
                    job_id=UUID(job["id"]),
                    client_id=UUID(job["client_id"]),
                    reason="keyed again: only total",
                    fields=["total"],
                    decided_at=datetime.now(UTC),
                )
            ],
            served.keys,
        )

    _, token = await contractor(served, tokens, SKILL)
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')
    shown = await page.locator("#fields .field").evaluate_all(
        "rows => rows.map(r => r.dataset.field)"
    )
    assert shown == ["total"]
    assert await page.inner_text("#keyed-note") == (
        "Second keying of Total only: the first keying's other fields stand."
    )
    assert await page.evaluate("document.activeElement.id") == "field-total"
    await page.screenshot(path=SCREENSHOTS / "workbench-partial-rekey.png")
    await page.keyboard.type("12.50")
    await page.keyboard.press("Control+Enter")

    query = select(Task).where(Task.item_id == item_id, Task.keyed_fields.is_not(None))

    async def submitted() -> bool:
        async with served.sessions() as session:
            return (await session.scalars(query)).one().status == "submitted"

    await eventually(submitted, what="the second keying submitted")
    async with served.sessions() as session:
        again = (await session.scalars(query)).one()
    assert (again.keyed_fields, again.data) == (["total"], {"total": "12.5"})
    # The next task, if any, has no note of a partial keying about it.
    await page.wait_for_selector("body[data-submitted='1']")
    assert await page.is_hidden("#keyed-note")
    await page.context.close()

"""/work on a second adjudication, in Chromium: the first adjudicator's answer, which a second
adjudicator decides on when it agrees with no keying, is shown beside the keyings as what it
is, not as one keying more."""

from datetime import UTC, datetime
from uuid import UUID

from playwright.async_api import Browser

from bpo_common.contracts import TaskKind, validation
from bpo_common.contracts.intake import Entry
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_intake.service import decisions

from .browsing import Served, adjudicating, contractor, signed_in, submitted
from .documents import a_job_with_a_document, invoice_pdf

SKILL = f"second-{new_id().hex[-8:]}"
FIELDS = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number"},
    {"name": "total", "type": "decimal", "label": "Total"},
]


async def test_a_second_adjudicator_sees_the_first_adjudication_named_as_such(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    body = {"work_type": "invoice", "fields": FIELDS, "qc": {"mode": "single"},
            "due_at": "1990-01-04T00:00:00Z", "required_skills": [SKILL]}  # fmt: skip
    made = await a_job_with_a_document(served, tokens, body, "inv-9.pdf", invoice_pdf("INV-9"))
    keyed = [{"invoice_number": "INV-9", "total": total} for total in ("12.5", "125")]
    first = await adjudicating(served, browser, tokens, SKILL, made, keyed, ["total"])
    await first.keyboard.type("1250")
    await first.keyboard.press("Control+Enter")
    answered = await submitted(served, made["item_id"], "adjudication")
    await first.context.close()

    # The adjudicator's total agrees with no keying: validation asks a second adjudicator.
    assert answered.entries is not None
    assert answered.submitted_by is not None
    entries = [Entry.model_validate(entry) for entry in answered.entries]
    entries.append(Entry(task_id=answered.id, contractor_id=answered.submitted_by,
                         data=answered.data or {}))  # fmt: skip
    job = made["job"]
    again = validation.ReviewRequired(
        item_id=UUID(made["item_id"]), job_id=UUID(job["id"]), client_id=UUID(job["client_id"]),
        kind=TaskKind.ADJUDICATION, entries=entries, differing=["total"],
        reason="the adjudicator's total agrees with no keying; a second adjudicator decides",
        decided_at=datetime.now(UTC),
    )  # fmt: skip
    async with served.sessions() as session, session.begin():
        await decisions.decide_items(session, [again], served.keys)

    _, token = await contractor(served, tokens, SKILL, "qc")
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-kind=adjudication]", state="attached")
    heads = await page.locator("#entries thead th").all_inner_texts()
    assert heads == ["Field", "Keying 1", "Keying 2", "First adjudication"]
    total = page.locator('#entries tr[data-field="total"] td')
    assert await total.all_inner_texts() == ["12.5", "125", "1250"]
    await page.context.close()

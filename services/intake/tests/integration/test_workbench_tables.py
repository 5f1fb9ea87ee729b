"""/work with a table field, in Chromium: an invoice's lines keyed as a grid with the keyboard
alone; rows added, moved and removed by key; the server's errors shown on the cell and the row
they name; the rows sent in the order shown; and an adjudication starting from the rows its
keyings agree on, or, where they differ, from the first keying's, the cells that differ marked."""

from typing import Any

from fpdf import FPDF
from playwright.async_api import Browser, Locator, Page

from bpo_common.contracts import TaskKind
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, eventually, outbox_events

from .browsing import (
    SCREENSHOTS,
    Served,
    adjudicating,
    contractor,
    signed_in,
    submitted,
)
from .conftest import opened_events
from .documents import a_job_with_a_document

# Before every other test's deadline, so that `N` claims these tasks first; and for this
# module's contractors only (the only ones with its skill).
DUE = "1990-01-03T00:00:00Z"
SKILL = f"tables-{new_id().hex[-8:]}"
COLUMNS = [
    {"name": "sku", "type": "string", "label": "SKU"},
    {"name": "qty", "type": "integer", "label": "Qty"},
    {"name": "unit_price", "type": "decimal", "label": "Unit price"},
    {"name": "amount", "type": "decimal", "label": "Amount"},
]
FIELDS: list[dict[str, Any]] = [
    {"name": "invoice_number", "type": "string", "label": "Invoice number"},
    {"name": "lines", "type": "table", "label": "Lines", "columns": COLUMNS, "min_rows": 1,
     "max_rows": 3, "help": "One row per printed line, in the printed order"},
    {"name": "net", "type": "decimal", "label": "Net"},
]  # fmt: skip
RULES = ["lines.qty * lines.unit_price == lines.amount", "sum(lines.amount) == net"]
PRINTED = [("B-2", "3", "5.00", "15.00"), ("A-1", "2", "10.00", "20.00")]
# The printed lines in canonical form.
PRINTED_LINES = [
    {"sku": "B-2", "qty": 3, "unit_price": "5", "amount": "15"},
    {"sku": "A-1", "qty": 2, "unit_price": "10", "amount": "20"},
]


def invoice_pdf() -> bytes:
    """An invoice with two lines and their net, as a text layer on one A4 page."""
    pdf = FPDF(format="A4")
    pdf.add_page()
    pdf.set_font("helvetica", size=16)
    pdf.cell(text="Invoice INV-31")
    pdf.ln(16)
    pdf.set_font("helvetica", size=12)
    for row in [("SKU", "Qty", "Unit price", "Amount"), *PRINTED]:
        for text in row:
            pdf.cell(40, 9, text)
        pdf.ln(9)
    pdf.ln(6)
    pdf.cell(120, 9, "Net")
    pdf.cell(40, 9, "35.00")
    return bytes(pdf.output())


async def a_job_with_lines(
    served: Served, tokens: Tokens, skill: str = SKILL, **lines: Any
) -> dict[str, Any]:
    """A job whose one item is keyed from an invoice with lines (`lines`: more of their spec),
    by keyers with `skill`."""
    fields = [{**field, **lines} if field["name"] == "lines" else field for field in FIELDS]
    body = {"work_type": "invoice", "fields": fields, "rules": RULES,
            "qc": {"mode": "single"}, "due_at": DUE, "required_skills": [skill]}  # fmt: skip
    return await a_job_with_a_document(served, tokens, body, "inv-31.pdf", invoice_pdf())


def cell(page: Page, row: int, column: str) -> Locator:
    """A cell's input, by its label as a screen reader reads it (rows counted from 1)."""
    return page.get_by_label(f"Lines row {row} {column}", exact=True)


async def focused(page: Page) -> str:
    """The label of the input in focus."""
    label: str = await page.evaluate("document.activeElement.getAttribute('aria-label')")
    return label


async def grid(page: Page) -> list[list[str]]:
    """The grid's rows as shown: each cell's value."""
    rows: list[list[str]] = await page.eval_on_selector_all(
        ".table-field tbody tr",
        "rows => rows.map(row => [...row.querySelectorAll('input')].map(input => input.value))",
    )
    return rows


async def key_row(page: Page, *cells: str) -> None:
    """Type a row's cells, from the cell in focus, Tab between them."""
    for n, text in enumerate(cells):
        if n:
            await page.keyboard.press("Tab")
        await page.keyboard.type(text)


async def test_a_keyer_keys_an_invoices_lines_as_rows_with_the_keyboard_alone(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await a_job_with_lines(served, tokens)
    keyer_id, token = await contractor(served, tokens, SKILL)
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')
    headers = await page.locator(".table-field thead th").all_inner_texts()
    assert [text.strip() for text in headers] == ["#", "SKU *", "Qty *", "Unit price *",
                                                   "Amount *", "Row actions"]  # fmt: skip
    assert await grid(page) == [["", "", "", ""]], "min_rows 1: one empty row to key into"

    # Tab goes from the invoice number into the grid, cell by cell; a row is added below.
    assert await page.evaluate("document.activeElement.id") == "field-invoice_number"
    await page.keyboard.type("INV-31")
    await page.keyboard.press("Tab")
    assert await focused(page) == "Lines row 1 SKU"
    await key_row(page, "A-1", "2", "10.00", "20.00")
    await page.keyboard.press("Alt+Insert")
    assert await focused(page) == "Lines row 2 Amount", "the new row, in the same column"
    for _ in range(3):
        await page.keyboard.press("Shift+Tab")
    await key_row(page, "B-2", "3x")
    await page.keyboard.press("Tab")

    # The server's error on the cell it names (lines[1].qty), and on no other.
    qty = page.locator(".table-field tbody tr:nth-child(2) td[data-column=qty]")
    await qty.locator(".cell-error").filter(has_text="not a number").wait_for()
    assert await qty.get_attribute("class") == "invalid"
    assert await cell(page, 2, "Qty").get_attribute("aria-invalid") == "true"
    assert await page.locator(".table-field td.invalid").count() == 1
    await page.screenshot(path=SCREENSHOTS / "workbench-table-error.png")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("3")
    await key_row(page, "", "5.00", "16.00")
    await page.keyboard.press("Tab")  # into the next field: the row is checked whole

    # A rule on the rows marks the row it is not met on, and says so below the grid.
    row_two = page.locator(".table-field tbody tr:nth-child(2)")
    await page.locator(".table-field tbody tr.invalid").wait_for()
    assert await row_two.get_attribute("class") == "invalid"
    assert await page.locator(".table-field td.invalid").count() == 0
    note = await page.inner_text("#field-lines-error")
    assert note.startswith("Row 2: rule not met on lines[1]: lines.qty * lines.unit_price")
    await page.keyboard.press("Shift+Tab")
    await page.keyboard.press("Control+A")
    await page.keyboard.type("15.00")
    await page.keyboard.press("Tab")
    await page.locator(".table-field tbody tr.invalid").wait_for(state="detached")
    assert await page.inner_text("#field-lines-error") == ""

    # The printed order has B-2 first: the row moves up, and the focus with it.
    await cell(page, 2, "Qty").focus()
    await page.keyboard.press("Alt+Shift+ArrowUp")
    assert await focused(page) == "Lines row 1 Qty"
    assert await page.evaluate("document.activeElement.value") == "3"
    await page.keyboard.press("Alt+Shift+ArrowDown")
    await page.keyboard.press("Alt+Shift+ArrowUp")
    assert await grid(page) == [["B-2", "3", "5.00", "15.00"], ["A-1", "2", "10.00", "20.00"]]

    # A third row, then no fourth (max_rows 3): the page says why. The third row goes again.
    await cell(page, 2, "SKU").focus()
    await page.keyboard.press("Alt+I")
    assert await focused(page) == "Lines row 3 SKU"
    await page.keyboard.type("C-3")
    await page.keyboard.press("Alt+Insert")
    full = "Lines has at most 3 rows: no row can be added."
    await page.locator("#status.error").filter(has_text=full).wait_for()
    assert await page.locator(".table-field tbody tr").count() == 3
    assert await page.get_attribute('[aria-label="Add a row below row 1"]', "disabled") == ""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=SCREENSHOTS / "workbench-table.png")
    await page.keyboard.press("Alt+Delete")
    assert await focused(page) == "Lines row 2 SKU", "the row above, in the same column"
    assert await grid(page) == [list(PRINTED[0]), list(PRINTED[1])]

    await page.focus("#field-net")  # pre-filled if extraction was quicker than the claim
    await page.keyboard.press("Control+A")
    await page.keyboard.type("35.00")
    await page.keyboard.press("Control+Enter")

    async def sent() -> bool:
        found = await outbox_events(
            served.sessions, TaskSubmitted.event_type, item_id=made["item_id"]
        )
        return bool(found)

    await eventually(sent, what="the entry submitted")
    (event,) = await opened_events(
        served.sessions, served.keys, TaskSubmitted.event_type, item_id=made["item_id"]
    )
    assert event.data["contractor_id"] == str(keyer_id)
    assert event.data["data"] == {"invoice_number": "INV-31", "lines": PRINTED_LINES, "net": "35"}
    assert "lines" not in event.data["suggestions"]
    await page.context.close()


async def adjudicated(served: Served, item_id: str) -> dict[str, Any]:
    """The data of the adjudication submitted for the item, once it is."""

    async def sent() -> bool:
        found = await outbox_events(
            served.sessions, TaskSubmitted.event_type, item_id=item_id, kind="adjudication"
        )
        return bool(found)

    await eventually(sent, what="the adjudication submitted")
    (event,) = await opened_events(
        served.sessions, served.keys, TaskSubmitted.event_type, item_id=item_id, kind="adjudication"
    )
    data: dict[str, Any] = event.data["data"]
    return data


async def test_an_adjudication_starts_from_the_rows_both_keyings_agree_on(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await a_job_with_lines(served, tokens)
    keyed = [{"invoice_number": "INV-31", "lines": PRINTED_LINES, "net": n} for n in ("35", "53")]
    page = await adjudicating(served, browser, tokens, SKILL, made, keyed, ["net"])
    shown = page.locator('#entries tr[data-field="lines"] td')
    assert await shown.all_inner_texts() == ["B-2 · 3 · 5 · 15\nA-1 · 2 · 10 · 20"] * 2
    assert await page.locator("#entries tr.differs").get_attribute("data-field") == "net"
    assert await grid(page) == [["B-2", "3", "5", "15"], ["A-1", "2", "10", "20"]]
    assert await page.locator(".table-field td.differs").count() == 0
    assert await page.evaluate("document.activeElement.id") == "field-net"
    await page.keyboard.type("35")
    await page.keyboard.press("Control+Enter")
    assert await adjudicated(served, made["item_id"]) == keyed[0]
    await page.context.close()


async def test_lines_keyed_in_another_order_are_agreed_when_their_key_is_what_counts(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    # Compared by their SKU, as validation does for a table with a key column, the lines agree:
    # the adjudication is on the net alone.
    made = await a_job_with_lines(served, tokens, key="sku")
    keyed = [{"invoice_number": "INV-31", "lines": lines, "net": net}
             for lines, net in ((PRINTED_LINES, "35"), (PRINTED_LINES[::-1], "53"))]  # fmt: skip
    page = await adjudicating(served, browser, tokens, SKILL, made, keyed, ["net"])
    differing = page.locator("#entries tr.differs")
    assert [await row.get_attribute("data-field") for row in await differing.all()] == ["net"]
    assert await grid(page) == [["B-2", "3", "5", "15"], ["A-1", "2", "10", "20"]]
    assert await page.locator(".table-field.differs, .table-field td.differs").count() == 0
    assert await page.evaluate("document.activeElement.id") == "field-net"
    await page.keyboard.type("35")
    await page.keyboard.press("Control+Enter")
    assert await adjudicated(served, made["item_id"]) == keyed[0]
    await page.context.close()


async def test_a_review_of_lines_keyed_in_another_order_starts_from_them_unmarked(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    # Keyings validation found to agree (by their SKU) and sent to review all the same (its
    # sample, a reference check): the lines are no difference to decide.
    made = await a_job_with_lines(served, tokens, key="sku")
    keyed = [{"invoice_number": "INV-31", "lines": lines, "net": "35"}
             for lines in (PRINTED_LINES, PRINTED_LINES[::-1])]  # fmt: skip
    page = await adjudicating(served, browser, tokens, SKILL, made, keyed, [], kind=TaskKind.REVIEW)
    assert await page.locator("#entries tr.differs").count() == 0
    assert await grid(page) == [["B-2", "3", "5", "15"], ["A-1", "2", "10", "20"]]
    assert await page.locator(".table-field.differs, .table-field td.differs").count() == 0
    await page.keyboard.press("Control+Enter")
    assert (await submitted(served, made["item_id"], "review")).data == keyed[0]
    await page.context.close()


async def test_an_adjudication_of_differing_lines_starts_from_the_first_keying_marked(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await a_job_with_lines(served, tokens)
    # The first keyer missed line A-1; the second typed B-2's quantity wrong. The places are
    # validation's comparison of the two (its test_tables holds it to the reason).
    first = PRINTED_LINES[:1]
    second = [{**first[0], "qty": 4}, PRINTED_LINES[1]]
    keyed = [{"invoice_number": "INV-31", "lines": lines, "net": "35"} for lines in (first, second)]
    only = [f"lines[1 of keying 2].{column['name']}" for column in COLUMNS]
    page = await adjudicating(served, browser, tokens, SKILL, made, keyed, ["lines[0].qty", *only])

    # The grid holds the first keying's rows, and marks the one cell of them that differs.
    assert await grid(page) == [["B-2", "3", "5", "15"]]
    marked = await page.eval_on_selector_all(
        ".table-field td.differs",
        "cells => cells.map(c => [c.parentElement.rowIndex, c.dataset.column, c.title])",
    )
    assert marked == [[1, "qty", "the keyings differ here"]]
    described = await cell(page, 1, "Qty").get_attribute("aria-describedby") or ""
    assert "field-lines-differs" in described.split()
    assert await page.inner_text("#field-lines-differs") == "the keyings differ here"
    assert "field-lines-differs" not in (
        await cell(page, 1, "SKU").get_attribute("aria-describedby") or ""
    )
    assert await page.locator(".table-field.differs, .grid tr.differs").count() == 0
    assert await focused(page) == "Lines row 1 Qty", "the first place the keyings differ"
    # The comparison marks the differing cell and the row only the second keying has.
    shown = page.locator('#entries tr[data-field="lines"] td')
    assert await shown.all_inner_texts() == [
        "B-2 · 3 · 5 · 15",
        "B-2 · 4 · 5 · 15\nA-1 · 2 · 10 · 20 (only keying 2 has this row)",
    ]
    assert await page.locator("#entries mark").all_inner_texts() == ["3"]
    assert await page.locator("#entries .only").count() == 1
    assert "keying 2's row 2" in await page.inner_text("#field-lines-differs-rows")
    assert await page.locator("#entries tr.differs").get_attribute("data-field") == "lines"
    await page.screenshot(path=SCREENSHOTS / "workbench-table-adjudication.png")

    # The adjudicator keeps the quantity, adds the missing line, and submits.
    await page.keyboard.press("Alt+Insert")
    assert await focused(page) == "Lines row 2 Qty"
    await page.keyboard.press("Shift+Tab")
    await key_row(page, "A-1", "2", "10", "20")
    await page.keyboard.press("Control+Enter")
    assert await adjudicated(served, made["item_id"]) == {**keyed[0], "lines": PRINTED_LINES}
    await page.context.close()


async def test_a_block_of_cells_pasted_fills_the_table_and_says_what_it_could_not_take(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    made = await a_job_with_lines(served, tokens)
    _, token = await contractor(served, tokens, SKILL)
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector(f'body[data-painted="{made["document_id"]}:1"]')
    await cell(page, 1, "Qty").focus()
    await page.keyboard.type("8")
    # Copied from a spreadsheet from its Qty column on: a tab between cells, a line a row;
    # a cell past the last column, a row past the table's 3, and blank lines at the end.
    block = "3\t5.00\t15.00\r\n2\t10.00\t20.00\textra\r\n1\t1\t1\r\n9\t9\t9\r\n\r\n"
    await page.evaluate(
        """text => {
            const data = new DataTransfer();
            data.setData("text/plain", text);
            document.activeElement.dispatchEvent(new ClipboardEvent(
                "paste", { clipboardData: data, bubbles: true, cancelable: true }));
        }""",
        block,
    )
    assert await grid(page) == [
        ["", "3", "5.00", "15.00"],
        ["", "2", "10.00", "20.00"],
        ["", "1", "1", "1"],
    ]
    said = await page.inner_text("#status.error")
    assert "row 2: 1 cell(s) past the last column" in said
    assert "1 row(s) past the table's 3" in said
    assert "(1 cell(s) that held something replaced)" in said, "row 1's Qty held 8"
    assert await focused(page) == "Lines row 1 Qty", "the focus stays where the block went"
    await page.context.close()


async def test_a_table_short_of_its_rows_is_said_so_once_the_keyer_leaves_it(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    skill = f"short-{new_id().hex[-8:]}"  # this task alone: others' may wait with SKILL
    await a_job_with_lines(served, tokens, skill, min_rows=2)
    _, token = await contractor(served, tokens, skill)
    page = await signed_in(browser, served, token)
    await page.keyboard.press("n")
    await page.wait_for_selector("body[data-state=working]")
    lines = page.locator(".table-field[data-field=lines]")

    # Keying the first row, a check says its cell's error, and not yet that rows are missing.
    await cell(page, 1, "SKU").fill("B-2")
    await cell(page, 1, "Qty").focus()
    await page.keyboard.type("x")
    await page.keyboard.press("Tab")
    await cell(page, 1, "Qty").and_(page.locator('[aria-invalid="true"]')).wait_for()
    assert "invalid" not in (await lines.get_attribute("class") or "")
    assert "needs at least" not in await lines.inner_text()

    # Leaving the table with one row keyed, it is said.
    await page.locator("#field-net").focus()
    await page.locator(".table-field.invalid[data-field=lines]").wait_for()
    assert "needs at least 2 rows, has 1" in await lines.inner_text()
    await page.context.close()

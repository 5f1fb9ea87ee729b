"""/work in Chromium: values that come canonical (keyings an adjudication starts from, machine
suggestions, the client's source) are shown as the field reads them, so that a value left as it
is goes back unchanged: with its comma in a field whose decimal point is ',', and a whole number
with every digit, however long."""

from typing import Any
from uuid import UUID

import httpx
from playwright.async_api import Browser

from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens

from .browsing import Served, adjudicating, http_api, submitted
from .conftest import opened_events

DUE = "1990-01-01T00:00:00Z"
SKILL = f"commas-{new_id().hex[-8:]}"
FIELDS: list[dict[str, Any]] = [
    {"name": "invoice_number", "type": "string"},
    {"name": "total", "type": "decimal", "decimal_places": 3, "decimal_separator": ","},
    {"name": "lines", "type": "table", "columns": [
        {"name": "sku", "type": "string"},
        {"name": "qty", "type": "decimal", "decimal_separator": ","},
    ]},
]  # fmt: skip


# More digits than a double holds: read as a JSON number, the browser would show ...568 and
# ...992.
LONG = 12345678901234567
LONGER = 9007199254740993


async def an_item(
    api: httpx.AsyncClient, tokens: Tokens, fields: list[dict[str, Any]], source: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A single-keyed job of these fields, for this module's contractors, and its one item."""
    registered = await api.post("/v1/clients", json={"name": "Acme"}, headers=tokens.manager())
    client = tokens.client(UUID(registered.json()["id"]))
    body = {"work_type": "invoice", "fields": fields, "qc": {"mode": "single"},
            "due_at": DUE, "required_skills": [SKILL]}  # fmt: skip
    job = (await api.post("/v1/jobs", json=body, headers=client)).json()
    items = {"items": [{"external_id": "inv-1", "source": source}]}
    await api.post(f"/v1/jobs/{job['id']}/items", json=items, headers=client)
    (item,) = (await api.get(f"/v1/jobs/{job['id']}/items", headers=client)).json()["data"]
    return job, item


async def test_an_agreed_value_of_a_comma_field_is_shown_with_its_comma_and_sent_unchanged(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    async with await http_api(served) as api:
        job, item = await an_item(api, tokens, FIELDS, {"scan": "inv-1"})
    agreed = {"total": "1.759", "lines": [{"sku": "A", "qty": "2.125"}]}
    keyed = [{"invoice_number": number} | agreed for number in ("INV-7", "INV-1")]
    made = {"job": job, "item_id": item["id"]}
    page = await adjudicating(served, browser, tokens, SKILL, made, keyed, ["invoice_number"])

    total = page.locator('#entries tr[data-field="total"] td')
    assert await total.all_inner_texts() == ["1,759", "1,759"]
    assert await page.input_value("#field-total") == "1,759"
    assert await page.locator('td[data-column="qty"] input').input_value() == "2,125"
    await page.focus("#field-invoice_number")
    await page.keyboard.type("INV-7")
    await page.keyboard.press("Control+Enter")
    task = await submitted(served, item["id"], "adjudication")
    assert task.data == {"invoice_number": "INV-7"} | agreed
    await page.context.close()


async def test_a_long_whole_number_is_shown_with_every_digit_and_sent_unchanged(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    fields: list[dict[str, Any]] = [
        {"name": "invoice_number", "type": "string"},
        {"name": "ref", "type": "integer"},
        {"name": "lines", "type": "table", "columns": [
            {"name": "sku", "type": "string"},
            {"name": "qty", "type": "integer"},
        ]},
    ]  # fmt: skip
    async with await http_api(served) as api:
        source = {"scan": "inv-2", "ref": LONG, "acct": LONG, "meta": {"id": LONGER}}
        job, item = await an_item(api, tokens, fields, source)
    agreed = {"ref": LONG, "lines": [{"sku": "A", "qty": LONGER}]}
    keyed = [{"invoice_number": number} | agreed for number in ("INV-7", "INV-1")]
    made = {"job": job, "item_id": item["id"]}
    page = await adjudicating(served, browser, tokens, SKILL, made, keyed, ["invoice_number"])

    # Whatever the key, a field's or the client's own, and however deep.
    shown = await page.locator("#source tr").evaluate_all(
        "rows => rows.map(row => [row.cells[0].textContent, row.cells[1].textContent])"
    )
    assert dict(shown) == {
        "scan": "inv-2", "ref": str(LONG), "acct": str(LONG), "meta": f'{{"id":{LONGER}}}'
    }  # fmt: skip
    ref = page.locator('#entries tr[data-field="ref"] td')
    assert await ref.all_inner_texts() == [str(LONG)] * 2
    assert await page.input_value("#field-ref") == str(LONG)
    assert await page.locator('td[data-column="qty"] input').input_value() == str(LONGER)
    await page.focus("#field-invoice_number")
    await page.keyboard.type("INV-7")
    await page.keyboard.press("Control+Enter")
    task = await submitted(served, item["id"], "adjudication")
    assert task.data == {"invoice_number": "INV-7"} | agreed
    (event,) = await opened_events(
        served.sessions, served.keys, TaskSubmitted.event_type, item_id=item["id"],
        kind="adjudication",
    )  # fmt: skip
    assert event.data["data"] == task.data
    await page.context.close()

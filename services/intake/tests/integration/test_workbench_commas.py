"""/work with fields whose decimal point is ',': values that come canonical (keyings an
adjudication starts from, machine suggestions) are shown as the field reads them, so that a
value left as it is goes back unchanged, in Chromium."""

from uuid import UUID

from playwright.async_api import Browser

from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens

from .browsing import Served, adjudicating, http_api, submitted

DUE = "1990-01-01T00:00:00Z"
SKILL = f"commas-{new_id().hex[-8:]}"
FIELDS = [
    {"name": "invoice_number", "type": "string"},
    {"name": "total", "type": "decimal", "decimal_places": 3, "decimal_separator": ","},
    {"name": "lines", "type": "table", "columns": [
        {"name": "sku", "type": "string"},
        {"name": "qty", "type": "decimal", "decimal_separator": ","},
    ]},
]  # fmt: skip


async def test_an_agreed_value_of_a_comma_field_is_shown_with_its_comma_and_sent_unchanged(
    served: Served, browser: Browser, tokens: Tokens
) -> None:
    async with await http_api(served) as api:
        registered = await api.post("/v1/clients", json={"name": "Acme"}, headers=tokens.manager())
        client = tokens.client(UUID(registered.json()["id"]))
        body = {"work_type": "invoice", "fields": FIELDS, "qc": {"mode": "single"},
                "due_at": DUE, "required_skills": [SKILL]}  # fmt: skip
        job = (await api.post("/v1/jobs", json=body, headers=client)).json()
        items = {"items": [{"external_id": "inv-1", "source": {"scan": "inv-1"}}]}
        await api.post(f"/v1/jobs/{job['id']}/items", json=items, headers=client)
        (item,) = (await api.get(f"/v1/jobs/{job['id']}/items", headers=client)).json()["data"]
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

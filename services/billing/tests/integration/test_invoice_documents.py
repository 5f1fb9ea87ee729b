"""An invoice as CSV and PDF: the same figures as its JSON."""

import csv
import io
import re
import threading
from datetime import timedelta

import httpx
import pypdfium2
import pytest

from bpo_billing.routes import invoices as invoice_routes
from bpo_billing.routes.invoice_pdf import invoice_pdf
from bpo_billing.schemas import InvoiceOut
from bpo_devtools.testing import Tokens, assert_problem

from .conftest import MONTH_START, Feed, client_below_target, draft, finalized_invoice, new_client


async def test_an_invoice_as_csv_and_pdf_says_what_the_json_says(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    rates = {"invoice": {"per_item": "0.5"}, "forms": {"per_item": "1"}}
    client_id = await new_client(billing, tokens, rates=rates)
    await feed.items(await feed.job(client_id, work_type="invoice", external_ref="=HYPERLINK()"), 2)
    # Beyond what the PDF's font can show: it still renders.
    await feed.items(await feed.job(client_id, work_type="forms", external_ref="請求書"), 1)
    invoice = await finalized_invoice(billing, tokens, client_id)
    url, number = f"/v1/invoices/{invoice['id']}", invoice["number"]
    as_csv = await billing.get(url, headers={**tokens.client(client_id), "Accept": "text/csv"})
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.headers["content-disposition"] == f'attachment; filename="invoice-{number}.csv"'
    assert as_csv.headers["vary"] == "Accept"
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(row["description"], row["amount"]) for row in rows[:2]] == [
        (line["description"], line["amount"]) for line in invoice["lines"]
    ]
    assert {row["description"] for row in rows[:2]} == {
        "invoice items, job =HYPERLINK()",
        "forms items, job 請求書",
    }
    totals = {row["kind"]: row["amount"] for row in rows[2:]}
    assert totals["total"] == invoice["total"]
    assert totals["amount_due"] == invoice["amount_due"]
    assert all(row["number"] == invoice["number"] for row in rows)

    as_pdf = await billing.get(url, headers={**tokens.manager(), "Accept": "application/pdf"})
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.headers["content-disposition"] == f'inline; filename="invoice-{number}.pdf"'
    assert as_pdf.content.startswith(b"%PDF-")
    assert pdf_lines(as_pdf.content) == [
        f"Invoice {number}",
        f"Client: {client_id}",
        f"Period: {invoice['period_start']} to {invoice['period_end']}",
        "Status: finalized",
        f"Due on: {invoice['due_on']}",
        "Description Qty Unit price Amount",
        *(
            f"{shown(line['description'])} {line['quantity']} {line['unit_price']} {line['amount']}"
            for line in invoice["lines"]
        ),
        f"Subtotal {invoice['subtotal']} EUR",
        f"Tax (21%) {invoice['tax']} EUR",
        f"Total {invoice['total']} EUR",
        f"Amount due {invoice['amount_due']} EUR",
    ]
    assert_problem(await billing.get(url, headers={**tokens.manager(), "Accept": "image/png"}), 406)


async def test_a_void_invoice_says_so_in_its_csv_with_the_reason(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, rates={"invoice": {"per_item": "10"}})
    await feed.items(await feed.job(client_id), 1)
    invoice = await finalized_invoice(billing, tokens, client_id)
    url = f"/v1/invoices/{invoice['id']}"
    csv_of_it = {**tokens.client(client_id), "Accept": "text/csv"}

    issued = list(csv.DictReader(io.StringIO((await billing.get(url, headers=csv_of_it)).text)))
    assert [row["description"] for row in issued if row["kind"] == "status"] == ["finalized"]
    assert "void" not in {row["kind"] for row in issued}

    reason = "issued to the wrong entity"
    voided = await billing.post(f"{url}/void", json={"reason": reason}, headers=tokens.manager())
    assert voided.status_code == 200, voided.text
    rows = list(csv.DictReader(io.StringIO((await billing.get(url, headers=csv_of_it)).text)))
    by_kind = {row["kind"]: row for row in rows}
    assert by_kind["status"]["description"] == "void"
    assert by_kind["void"]["description"] == reason
    assert (by_kind["total"]["amount"], by_kind["amount_due"]["amount"]) == ("12.10", "0.00")
    assert all(row["number"] == invoice["number"] for row in rows)


async def test_the_pdf_shows_job_refs_and_credit_note_reasons_beyond_latin_1_as_written(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, rates={"invoice": {"per_item": "10"}})
    for ref in ("Łódź – 10 €", "Müller’s batch", "Σπίτι Дом", "請求書-7"):
        await feed.items(await feed.job(client_id, external_ref=ref), 1)
    invoice = await finalized_invoice(billing, tokens, client_id)
    url = f"/v1/invoices/{invoice['id']}"
    reason = "Rabat za opóźnienie – zwrot 10 €, Müller’s"
    noted = await billing.post(
        f"{url}/credit-notes", json={"amount": "5.00", "reason": reason}, headers=tokens.manager()
    )
    assert noted.status_code == 201, noted.text
    (note,) = noted.json()["credit_notes"]

    as_pdf = await billing.get(
        url, headers={**tokens.client(client_id), "Accept": "application/pdf"}
    )

    text = pdf_lines(as_pdf.content)
    for ref in ("Łódź – 10 €", "Müller’s batch", "Σπίτι Дом"):
        assert f"invoice items, job {ref} 1 10.00 10.00" in text
    # CJK is beyond the font: a mark for each character, where the PDF would leave a blank.
    assert "invoice items, job \ufffd\ufffd\ufffd-7 1 10.00 10.00" in text
    assert f"Credit note {note['number']}: 5.00 EUR, {reason}" in text


async def test_a_credit_line_is_a_negative_number_in_csv_and_pdf(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id = await new_client(billing, tokens, rates={"invoice": {"per_item": "10"}})
    late = await feed.job(client_id, due_at=MONTH_START + timedelta(days=1), external_ref="late")
    await feed.items(late, 3)
    await feed.job_completed(late, MONTH_START + timedelta(days=1, hours=6))
    invoice = await draft(billing, tokens, client_id)
    invoice_id = invoice["id"]
    url = f"/v1/invoices/{invoice_id}"

    as_csv = await billing.get(url, headers={**tokens.manager(), "Accept": "text/csv"})
    assert (
        as_csv.headers["content-disposition"] == f'attachment; filename="invoice-{invoice_id}.csv"'
    )
    rows = {row["kind"]: row for row in csv.DictReader(io.StringIO(as_csv.text))}
    assert rows["usage"]["number"] == "draft"
    # A number as it is: the minus sign is not text a spreadsheet could run.
    assert (rows["sla_credit"]["unit_price"], rows["sla_credit"]["amount"]) == ("-3.00", "-3.00")
    assert rows["subtotal"]["amount"] == invoice["subtotal"] == "27.00"

    as_pdf = await billing.get(url, headers={**tokens.manager(), "Accept": "application/pdf"})
    text = pdf_lines(as_pdf.content)
    assert text[0] == "Invoice (draft)"
    assert "SLA credit 10%: job late completed 6.0 h late 1 -3.00 -3.00" in text
    assert f"Amount due {invoice['amount_due']} EUR" in text


async def test_an_accuracy_credit_shows_in_full_in_csv_and_pdf(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed
) -> None:
    client_id, job = await client_below_target(billing, tokens, feed)
    invoice = await draft(billing, tokens, client_id)
    url = f"/v1/invoices/{invoice['id']}"
    description = (
        "Accuracy credit 10%: job below delivered 98.91% against its 99.50% target "
        "(95 % lower bound 98.70%)"
    )

    as_csv = await billing.get(url, headers={**tokens.manager(), "Accept": "text/csv"})
    rows = {row["kind"]: row for row in csv.DictReader(io.StringIO(as_csv.text))}
    credit = rows["accuracy_credit"]
    assert (credit["job_id"], credit["description"]) == (str(job.job_id), description)
    assert (credit["quantity"], credit["unit_price"], credit["amount"]) == ("1", "-3.00", "-3.00")

    as_pdf = await billing.get(url, headers={**tokens.manager(), "Accept": "application/pdf"})
    text = pdf_lines(as_pdf.content)
    # Too long for its column: it goes on under the figures, cut nowhere.
    at = text.index("Accuracy credit 10%: job below delivered 98.91% against its 1 -3.00 -3.00")
    assert text[at + 1] == "99.50% target (95 % lower bound 98.70%)"
    assert f"Amount due {invoice['amount_due']} EUR" in text


async def test_the_pdf_is_drawn_beside_the_event_loop_not_on_it(
    billing: httpx.AsyncClient, tokens: Tokens, feed: Feed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long invoice takes seconds to draw: meanwhile the replica serves its other requests.
    drawn_in: list[threading.Thread] = []

    def drawing(view: InvoiceOut) -> bytes:
        drawn_in.append(threading.current_thread())
        return invoice_pdf(view)

    monkeypatch.setattr(invoice_routes, "invoice_pdf", drawing)
    client_id = await new_client(billing, tokens, rates={"invoice": {"per_item": "1"}})
    await feed.items(await feed.job(client_id), 1)
    invoice = await draft(billing, tokens, client_id)

    as_pdf = await billing.get(
        f"/v1/invoices/{invoice['id']}", headers={**tokens.manager(), "Accept": "application/pdf"}
    )

    assert pdf_lines(as_pdf.content)[0] == "Invoice (draft)"
    assert len(drawn_in) == 1
    assert drawn_in[0] is not threading.main_thread()


def pdf_lines(content: bytes) -> list[str]:
    """The text of a PDF, line by line, as a reader would copy it."""
    document = pypdfium2.PdfDocument(content)
    text = "".join(page.get_textpage().get_text_range() for page in document)
    return text.splitlines()


def shown(text: str) -> str:
    """Text as the PDF shows it: the CJK characters its font lacks as U+FFFD."""
    return re.sub(r"[\u4e00-\u9fff]", "\ufffd", text)

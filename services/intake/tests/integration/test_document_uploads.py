"""Uploads as clients' tools send them: a PDF with bytes before its header, names a CSV could
not name again, a zip however it comes, and names the job already has."""

import httpx

from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens

from .documents import invoice_pdf, open_job, rendered, upload


async def test_a_pdf_with_a_byte_order_mark_before_its_header_is_stored_and_rendered(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf = b"\xef\xbb\xbf" + invoice_pdf("BOM-1")
    response = await upload(documents_api, tokens, client_id, job["id"], pdf, filename="bom.pdf")
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["media_type"], body["pages"]) == ("application/pdf", 2)
    await rendered(documents_db, body["id"])
    view = await documents_api.get(f"/v1/documents/{body['id']}", headers=tokens.manager())
    picture = await documents_api.get(view.json()["pages"][0]["image_url"])
    assert picture.status_code == 200, picture.text
    assert picture.content[8:12] == b"WEBP"

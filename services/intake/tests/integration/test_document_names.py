"""Document names as clients' tools write them: a zip's names not flagged as UTF-8 (macOS's
"Compress", Windows' "Compressed folder"), and accents sent as one character or as two,
stored in NFC and named by items in either form."""

import io
import unicodedata
import zipfile
from uuid import UUID

import httpx
import pytest
from sqlalchemy import update

from bpo_common.db import SessionFactory
from bpo_devtools.testing import Tokens, assert_problem, error_fields
from bpo_intake.models import Document

from .documents import documents_of, image, invoice_pdf, open_job, upload

NAME = "Rechnung Müller.png"
COMPOSED, DECOMPOSED = unicodedata.normalize("NFC", NAME), unicodedata.normalize("NFD", NAME)


class NamedInBytes(zipfile.ZipInfo):
    """A member whose name is written as these bytes, not flagged as UTF-8 (zipfile's own
    `_encodeFilenameFlags` flags every name that is not ASCII)."""

    def __init__(self, name: bytes) -> None:
        super().__init__(name.decode("cp437"))
        self.raw = name

    def _encodeFilenameFlags(self) -> tuple[bytes, int]:
        return self.raw, self.flag_bits & ~0x800


def zip_of(member: zipfile.ZipInfo | str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(member, image("PNG"))
    return out.getvalue()


@pytest.mark.parametrize(
    "member",
    [
        NamedInBytes(DECOMPOSED.encode()),  # macOS: UTF-8, accents apart, not flagged
        NamedInBytes(COMPOSED.encode("cp850")),  # Windows: the OEM code page, not flagged
        DECOMPOSED,  # flagged as UTF-8, accents apart
    ],
    ids=["macos", "windows", "flagged-nfd"],
)
async def test_a_zipped_name_is_stored_as_its_tool_meant_it_and_items_name_it_either_way(
    documents_api: httpx.AsyncClient,
    tokens: Tokens,
    documents_db: SessionFactory,
    member: zipfile.ZipInfo | str,
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    client = tokens.client(client_id)
    response = await upload(
        documents_api, tokens, client_id, job["id"], zip_of(member), content_type="application/zip"
    )
    assert response.status_code == 201, response.text
    (document,) = response.json()["documents"]
    assert document["filename"] == COMPOSED
    assert [stored.filename for stored in await documents_of(documents_db, job["id"])] == [COMPOSED]

    url = f"/v1/jobs/{job['id']}/items"
    items = [{"external_id": n, "source": {}, "documents": [n]} for n in (COMPOSED, DECOMPOSED)]
    appended = await documents_api.post(url, json={"items": items}, headers=client)
    assert appended.status_code == 202, appended.text
    listed = (await documents_api.get(url, headers=client)).json()["data"]
    assert [item["documents"] for item in listed] == [
        [{"id": document["id"], "filename": COMPOSED}]
    ] * 2


async def test_a_name_sent_with_its_accents_apart_is_the_same_name_as_with_them_composed(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    pdf = invoice_pdf("1")
    made = await upload(documents_api, tokens, client_id, job["id"], pdf, filename=DECOMPOSED)
    assert made.status_code == 201, made.text
    assert made.json()["filename"] == COMPOSED
    again = await upload(documents_api, tokens, client_id, job["id"], pdf, filename=COMPOSED)
    problem = assert_problem(again, 409)
    assert error_fields(problem) == [COMPOSED]
    assert (
        problem["detail"] == f"nothing was stored: the job already has a document named {COMPOSED}"
    )
    assert [stored.filename for stored in await documents_of(documents_db, job["id"])] == [COMPOSED]


async def test_a_name_stored_before_names_were_composed_is_still_named_as_written(
    documents_api: httpx.AsyncClient, tokens: Tokens, documents_db: SessionFactory
) -> None:
    client_id, job = await open_job(documents_api, tokens)
    made = await upload(documents_api, tokens, client_id, job["id"], image(), filename=NAME)
    assert made.status_code == 201, made.text
    async with documents_db() as session, session.begin():
        stored = update(Document).where(Document.id == UUID(made.json()["id"]))
        await session.execute(stored.values(filename=DECOMPOSED))

    url = f"/v1/jobs/{job['id']}/items"
    items = [{"external_id": "x", "source": {}, "documents": [DECOMPOSED]}]
    appended = await documents_api.post(
        url, json={"items": items}, headers=tokens.client(client_id)
    )
    assert appended.status_code == 202, appended.text
    (item,) = (await documents_api.get(url, headers=tokens.client(client_id))).json()["data"]
    assert item["documents"] == [{"id": made.json()["id"], "filename": DECOMPOSED}]

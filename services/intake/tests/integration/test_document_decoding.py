"""Uploaded files are read by PDFium and Pillow in a process apart, within a time and a memory
limit: a file past the memory is refused naming it (a zip's member too), a page past the time
is left without an image, and the files after them are read all the same (the process is
replaced, as it is when something else kills it); a large image page is drawn within a
gigabyte."""

import io
import multiprocessing
import os
import random
import signal
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fpdf import FPDF
from PIL import Image

from bpo_common.db import SessionFactory
from bpo_devtools.testing import TestStack, Tokens, assert_problem, eventually
from bpo_intake.app import create_app
from bpo_intake.domain.documents import MediaType
from bpo_intake.service.decoding import decoder
from bpo_intake.settings import Settings

from .documents import documents_of, image, invoice_pdf, open_job, rendered, upload, zipped


@pytest.fixture(scope="module")
def intake_app(stack: TestStack, store_dir: Path) -> FastAPI:
    """Intake with 3 s of reading a page and 512 MiB to read in: a file past the memory is
    refused in a fifth of a second on an idle machine, the tangled page takes some 20 s."""
    settings = stack.settings(
        Settings,
        "intake",
        document_store_url=store_dir.as_uri(),
        document_decode_timeout_s=3.0,
        document_decode_memory_mb=512,
        document_max_pixels=150_000_000,
    )
    return create_app(settings)


def stored(store: Path) -> list[str]:
    return sorted(path.name for path in store.rglob("*") if path.is_file())


def tangled_pdf(lines: int = 120_000) -> bytes:
    """One A4 page of `lines` strokes from edge to edge: small, and many seconds of PDFium's
    time to draw."""
    draw = random.Random(7)
    pdf = FPDF(format="A4")
    pdf.add_page()
    for _ in range(lines):
        pdf.line(draw.uniform(0, 210), 0, draw.uniform(0, 210), 297)
    return bytes(pdf.output())


def huge_png() -> bytes:
    """12,000 x 12,000 white pixels with alpha: 576 MB once decoded, from a file of some
    500 KB."""
    out = io.BytesIO()
    Image.new("RGBA", (12_000, 12_000), "white").save(out, "PNG")
    return out.getvalue()


async def test_a_file_past_the_readers_memory_is_refused_naming_it_and_the_next_is_read(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(intake, tokens)
    big = huge_png()

    refused = await upload(intake, tokens, client_id, job["id"], big, filename="big.png")
    problem = assert_problem(refused, 422)
    assert problem["errors"][0]["field"] == "big.png"
    assert "more than the 512 MiB of memory" in problem["detail"]
    in_a_zip = zipped({"small.png": image(), "scans/big.png": big})
    refused = await upload(
        intake, tokens, client_id, job["id"], in_a_zip, content_type="application/zip"
    )
    assert assert_problem(refused, 422)["errors"][0]["field"] == "scans/big.png"
    assert await documents_of(intake_db, job["id"]) == []
    assert not (store_dir / str(client_id)).exists(), "no byte stored"

    small = await upload(intake, tokens, client_id, job["id"], image(), filename="small.png")
    assert small.status_code == 201, small.text
    assert small.json()["pages"] == 1


async def test_a_reader_killed_while_idle_is_replaced(
    intake: httpx.AsyncClient, tokens: Tokens
) -> None:
    client_id, job = await open_job(intake, tokens)
    readers = [
        process
        for process in multiprocessing.active_children()
        if process.name == "pebble_pool_worker"
    ]
    assert readers, "the decoding processes, started with the app"
    for process in readers:
        assert process.pid is not None
        os.kill(process.pid, signal.SIGKILL)

    async def gone() -> bool:
        return not any(process.is_alive() for process in readers)

    await eventually(gone, what="the decoding processes killed")
    uploaded = await upload(intake, tokens, client_id, job["id"], image(), filename="after.png")
    assert uploaded.status_code == 201, uploaded.text


async def test_a_page_past_the_readers_time_is_left_without_an_image_and_the_next_is_drawn(
    intake: httpx.AsyncClient, tokens: Tokens, intake_db: SessionFactory, store_dir: Path
) -> None:
    client_id, job = await open_job(intake, tokens)
    tangled = await upload(intake, tokens, client_id, job["id"], tangled_pdf(), filename="t.pdf")
    assert tangled.status_code == 201, tangled.text
    plain = await upload(intake, tokens, client_id, job["id"], invoice_pdf("P-1"), filename="p.pdf")
    assert plain.status_code == 201, plain.text

    await rendered(intake_db, plain.json()["id"])
    await rendered(intake_db, tangled.json()["id"])
    tangled_sha, plain_sha = tangled.json()["sha256"], plain.json()["sha256"]
    assert stored(store_dir / str(client_id) / tangled_sha) == ["original"]
    assert stored(store_dir / str(client_id) / plain_sha) == [
        "original",
        "page-1.webp",
        "page-2.webp",
    ]


async def test_a_large_image_page_is_drawn_small_first_within_a_gigabyte() -> None:
    # 100 million pixels (the default limit): 300 MB decoded, and no full-size copy after.
    out = io.BytesIO()
    Image.new("RGB", (10_000, 10_000), "white").save(out, "PNG")

    (page,) = await decoder(30.0, 1024).render(MediaType.PNG, out.getvalue(), pages=1)

    assert Image.open(io.BytesIO(page.image)).size == (2400, 2400)

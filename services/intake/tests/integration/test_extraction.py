"""Machine pre-fill: pages read (text layer or OCR), fields suggested, learned per client and
layout from accepted results, and shown on tasks and items."""

import io
import threading
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import httpx
import pytest
from fastapi import FastAPI
from nats.js import JetStreamContext
from PIL import Image
from sqlalchemy import select

from bpo_common.contracts import validation
from bpo_common.contracts.intake import TaskSubmitted
from bpo_common.crypto import DataKeys
from bpo_common.db import SessionFactory
from bpo_common.events import wrap
from bpo_common.ids import new_id
from bpo_devtools.testing import TestStack, Tokens, eventually
from bpo_intake.app import create_app
from bpo_intake.domain import suggestions
from bpo_intake.models import DocumentPage, Item
from bpo_intake.settings import Settings

from .conftest import create_job, opened_events, register_client
from .invoices import FIELDS, extracted_invoices, invoice_pdf, invoices, learned, scanned
from .keying import claim_tasks, new_contractor


@pytest.fixture(scope="module")
def app(stack: TestStack, tmp_path_factory: pytest.TempPathFactory) -> FastAPI:
    store = tmp_path_factory.mktemp("extraction-documents")
    return create_app(stack.settings(Settings, "intake", document_store_url=store.as_uri()))


@pytest.fixture(scope="module")
def db(app: FastAPI, api: httpx.AsyncClient) -> SessionFactory:
    factory: SessionFactory = app.state.runtime.sessions
    return factory


async def invoice_job(
    api: httpx.AsyncClient, tokens: Tokens, client_id: UUID, skill: str, **qc: Any
) -> dict[str, Any]:
    return await create_job(
        api,
        tokens,
        client_id,
        fields=FIELDS,
        qc={"mode": "single", **qc},
        # Due in a day (job_body's SLA): after the overdue jobs other modules' reports look
        # for in a shared database. Claims here name the job.
        required_skills=[skill],
    )


async def accept(js: JetStreamContext, item: Item, result: dict[str, str]) -> None:
    """Validation's word that the item was accepted with `result`, as it publishes it."""
    decision = wrap(
        validation.ItemAccepted(
            item_id=item.id,
            job_id=item.job_id,
            client_id=item.client_id,
            result=result,
            decided_at=datetime.now(UTC),
        ),
        source="validation",
        client_id=item.client_id,
    )
    await js.publish(decision.subject, decision.model_dump_json().encode())


async def test_a_pdf_and_a_scan_get_suggestions_placed_by_the_fields_hints(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory
) -> None:
    client_id = await register_client(api, tokens)
    skill = f"x-{new_id()}"
    job = await invoice_job(api, tokens, client_id, skill)
    first, second = invoices(2, seed=1)
    items = await extracted_invoices(
        api,
        db,
        tokens,
        client_id,
        job["id"],
        {
            "a.pdf": invoice_pdf("Brandt", first),
            "b.png": scanned(invoice_pdf("Brandt", second)),
        },
    )
    pdf_item, scan_item = items
    ids = [item.id for item in items]

    async with db() as session:
        query = select(DocumentPage).where(DocumentPage.document_id.in_(scan_item.documents))
        pages = list(await session.scalars(query))
    assert pages
    assert all(page.read_at is not None for page in pages)
    scan_words = [word for page in pages for word in page.words or []]
    assert any(word["text"] == second.number for word in scan_words), "OCR read the number"
    assert all(0 < word["confidence"] <= 1 for word in scan_words)

    for item, invoice in ((pdf_item, first), (scan_item, second)):
        suggestions = item.suggestions or {}
        # Labelled by the hints: the number and the total (not the net amount); the date has
        # no hint, and "Date" is not its field's label: nothing is guessed for it.
        assert suggestions["invoice_number"]["value"] == invoice.number
        assert suggestions["total"]["value"] == invoice.keyed["total"]
        assert "invoice_date" not in suggestions
        total = suggestions["total"]
        assert 0 < total["confidence"] < 0.8, "a hint alone is not trusted"
        assert total["page"] == 1
        assert total["document_id"] == str(item.documents[0])
        (x0, y0, x1, y1), *_ = total["boxes"]
        assert 0.2 < x0 < x1 < 0.6, "right of 'Total due'"
        assert 0.3 < y0 < y1 < 0.45, "on the line of 'Total due'"

    # The keyer sees them on the task; the manager on the item.
    _, keyer = await new_contractor(api, tokens, skill)
    tasks = await claim_tasks(api, keyer, limit=2, job_id=job["id"])
    assert {task["item_id"] for task in tasks} == {str(i) for i in ids}
    for task in tasks:
        shown = task["suggestions"]
        assert set(shown) == {"invoice_number", "total"}
        assert set(shown["total"]) == {"value", "confidence", "document_id", "page", "boxes"}
    listed = await api.get(f"/v1/jobs/{job['id']}/items", headers=tokens.manager())
    assert listed.status_code == 200, listed.text
    shown = next(i for i in listed.json()["data"] if i["id"] == str(ids[0]))
    assert shown["suggestions"]["invoice_number"]["value"] == first.number
    assert shown["layout_id"] == str(pdf_item.layout_id)
    assert scan_item.layout_id == pdf_item.layout_id, "one supplier, one layout"


async def test_accepted_results_teach_the_clients_layout_and_no_other_clients(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, js: JetStreamContext
) -> None:
    client_id = await register_client(api, tokens)
    job = await invoice_job(api, tokens, client_id, f"x-{new_id()}")
    batch = invoices(4, seed=2)
    items = await extracted_invoices(
        api,
        db,
        tokens,
        client_id,
        job["id"],
        {f"{n}.pdf": invoice_pdf("Cobalt", invoice) for n, invoice in enumerate(batch[:3])},
    )
    for item, invoice in zip(items, batch, strict=False):
        await accept(js, item, invoice.keyed)
    await learned(db, [item.id for item in items])

    (later,) = await extracted_invoices(
        api, db, tokens, client_id, job["id"], {"3.pdf": invoice_pdf("Cobalt", batch[3])}
    )
    suggestions = later.suggestions or {}
    for name, value in batch[3].keyed.items():
        assert suggestions[name]["value"] == value, name
        assert suggestions[name]["confidence"] >= 0.8, "three accepted documents make it sure"

    # The same supplier's invoice at another client starts from the hints.
    other = await register_client(api, tokens)
    other_job = await invoice_job(api, tokens, other, f"x-{new_id()}")
    (theirs,) = await extracted_invoices(
        api, db, tokens, other, other_job["id"], {"3.pdf": invoice_pdf("Cobalt", batch[3])}
    )
    assert theirs.layout_id != later.layout_id
    assert "invoice_date" not in (theirs.suggestions or {})
    assert all(s["confidence"] < 0.8 for s in (theirs.suggestions or {}).values())


async def test_a_control_item_may_carry_a_planted_wrong_suggestion_the_keyer_cannot_tell(
    api: httpx.AsyncClient,
    tokens: Tokens,
    db: SessionFactory,
    data_keys: DataKeys,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Drawn beside the event loop the consumers share: failing a suggestion, it reads words.
    drawn_in: list[threading.Thread] = []
    plant = suggestions.planted

    def planting(*args: Any) -> Any:
        drawn_in.append(threading.current_thread())
        return plant(*args)

    monkeypatch.setattr(suggestions, "planted", planting)
    client_id = await register_client(api, tokens)
    skill = f"x-{new_id()}"
    job = await invoice_job(api, tokens, client_id, skill, wrong_suggestion_rate="1")
    (invoice,) = invoices(1, seed=3)
    golden = invoice.keyed
    (item,) = await extracted_invoices(
        api,
        db,
        tokens,
        client_id,
        job["id"],
        {"g.pdf": invoice_pdf("Dufour", invoice)},
        golden={"g.pdf": golden},
    )
    # On one of the fields the machine suggested (by their hints, nothing learned yet), as
    # that suggestion: where the value is printed, as sure as a hint.
    suggested = item.suggestions or {}
    assert set(suggested) == {"invoice_number", "total"}
    ((name, planted),) = [(n, s) for n, s in suggested.items() if s.get("planted")]
    assert planted["value"] != golden[name]
    assert planted["confidence"] == 0.6
    assert planted["boxes"]
    assert planted["document_id"] == str(item.documents[0])
    assert drawn_in
    assert threading.main_thread() not in drawn_in

    keyer_id, keyer = await new_contractor(api, tokens, skill)
    (task,) = await claim_tasks(api, keyer, job_id=job["id"])
    assert task["suggestions"][name]["value"] == planted["value"]
    assert "planted" not in task["suggestions"][name]
    data = golden | {name: planted["value"]}
    submitted = await api.post(f"/v1/tasks/{task['id']}/submit", json={"data": data}, headers=keyer)
    assert submitted.status_code == 202, submitted.text
    (event,) = await opened_events(db, data_keys, TaskSubmitted.event_type, task_id=task["id"])
    assert event.data["suggestions"][name] == {
        "value": planted["value"],
        "confidence": planted["confidence"],
        "planted": True,
    }
    assert event.data["layout_id"] == str(item.layout_id)
    assert event.data["contractor_id"] == str(keyer_id)


async def test_a_page_without_words_does_not_hold_up_its_item(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory
) -> None:
    client_id = await register_client(api, tokens)
    skill = f"x-{new_id()}"
    job = await invoice_job(api, tokens, client_id, skill)
    # A blank page: OCR finds no words, and the item is extracted with nothing to suggest.
    out = io.BytesIO()
    Image.new("L", (1240, 1754), 255).save(out, "PNG")
    (item,) = await extracted_invoices(
        api, db, tokens, client_id, job["id"], {"blank.png": out.getvalue()}
    )
    assert item.suggestions == {}
    assert item.layout_id is None, "no layout made of a page that nothing tells apart"
    _, keyer = await new_contractor(api, tokens, skill)
    (task,) = await claim_tasks(api, keyer, job_id=job["id"])
    assert task["item_id"] == str(item.id)
    assert task["suggestions"] == {}


async def test_items_nobody_started_are_read_again_as_their_layout_learns(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, js: JetStreamContext
) -> None:
    client_id = await register_client(api, tokens)
    job = await invoice_job(api, tokens, client_id, f"x-{new_id()}")
    batch = invoices(5, seed=4)
    files = {f"{n}.pdf": invoice_pdf("Fjord", invoice) for n, invoice in enumerate(batch)}
    items = await extracted_invoices(api, db, tokens, client_id, job["id"], files)
    waiting = items[4]
    assert all(s["confidence"] < 0.8 for s in (waiting.suggestions or {}).values())
    for item, invoice in zip(items[:4], batch, strict=False):
        await accept(js, item, invoice.keyed)
    await learned(db, [item.id for item in items[:4]])

    async def sure() -> bool:
        async with db() as session:
            item = await session.get(Item, waiting.id)
            shown = (item.suggestions or {}) if item and item.extracted_at else {}
            return len(shown) == 3 and all(s["confidence"] >= 0.8 for s in shown.values())

    await eventually(sure, what="the waiting item read again with what its layout learned")
    async with db() as session:
        again = await session.get(Item, waiting.id)
    assert again is not None
    assert {name: s["value"] for name, s in (again.suggestions or {}).items()} == batch[4].keyed
    assert again.layout_id == waiting.layout_id


async def test_only_a_first_keying_outside_double_and_verify_modes_shows_the_pre_fill(
    api: httpx.AsyncClient, tokens: Tokens, db: SessionFactory, js: JetStreamContext
) -> None:
    client_id = await register_client(api, tokens)
    (invoice,) = invoices(1, seed=5)
    shown: dict[str, list[dict[str, Any]]] = {}
    for mode in ("double", "assisted"):
        skill = f"x-{new_id()}"
        job = await invoice_job(api, tokens, client_id, skill, mode=mode)
        (item,) = await extracted_invoices(
            api, db, tokens, client_id, job["id"], {"i.pdf": invoice_pdf("Gale", invoice)}
        )
        assert item.suggestions, "extraction ran in either mode"
        tasks: list[dict[str, Any]] = []
        for _ in range(2):
            if mode == "assisted" and tasks:
                # Validation asks for a second keying: a person's own, without pre-fill.
                await js.publish(*second_keying(item))
            _, keyer = await new_contractor(api, tokens, skill)
            tasks.append(await claim_when_queued(api, keyer, job["id"]))
        shown[mode] = [task["suggestions"] for task in tasks]
    assert shown["double"] == [{}, {}], "two independent keyings"
    first, second = shown["assisted"]
    assert set(first) == {"invoice_number", "total"}
    assert second == {}


async def claim_when_queued(
    api: httpx.AsyncClient, keyer: dict[str, str], job_id: str
) -> dict[str, Any]:
    found: list[dict[str, Any]] = []

    async def claimed() -> bool:
        found.extend(await claim_tasks(api, keyer, job_id=job_id))
        return bool(found)

    await eventually(claimed, what=f"a task of job {job_id} to claim")
    return found[0]


def second_keying(item: Item) -> tuple[str, bytes]:
    decision = wrap(
        validation.SecondKeyingRequired(
            item_id=item.id,
            job_id=item.job_id,
            client_id=item.client_id,
            reason="assisted: the machine's values were not confirmed on total",
            decided_at=datetime.now(UTC),
        ),
        source="validation",
        client_id=item.client_id,
    )
    return decision.subject, decision.model_dump_json().encode()

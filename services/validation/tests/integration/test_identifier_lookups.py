"""Lookups of identifiers (an IBAN, a VAT number) find the client's row however its data
writes them: with spaces, dots or hyphens between their characters."""

from typing import Any

import httpx
import pytest
from sqlalchemy import text

from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem
from bpo_validation.repository import reference
from bpo_validation.settings import Settings

from .submissions import new_job, submit

# The client's vendor master, as its accounts department writes it.
VENDORS = (
    "iban,vat,name,code\n"
    "DE89 3704 0044 0532 0130 00,DE 136.695.976,ACME,A-1\n"
    "GB29-NWBK-6016-1331-9268-19,GB 980 7806 84,Globex,G 2\n"
)


@pytest.mark.parametrize(
    ("field", "keyed", "outcome"),
    [
        ({"name": "iban", "type": "iban"}, {"iban": "DE89370400440532013000"}, "accepted"),
        ({"name": "iban", "type": "iban"}, {"iban": "GB29NWBK60161331926819"}, "accepted"),
        ({"name": "iban", "type": "iban"}, {"iban": "GB82WEST12345698765432"}, "review"),
        # A string is not an identifier: its separators count.
        ({"name": "iban", "type": "string"}, {"iban": "DE89370400440532013000"}, "review"),
    ],
    ids=["spaces", "hyphens", "unknown", "string"],
)
async def test_an_identifier_finds_its_row_written_with_separators(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    field: dict[str, Any],
    keyed: dict[str, str],
    outcome: str,
) -> None:
    lookup = {"dataset": "vendors", "checks": [{"field": "vendor", "column": "name"}]}
    fields = [field | {"lookup": lookup}, {"name": "vendor", "type": "string", "case": "upper"}]
    job = await new_job(validation_db, fields=fields)
    uploaded = await validation.put(
        "/v1/reference-datasets/vendors?key=iban",
        content=VENDORS,
        headers={**tokens.client(job.client_id), "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    item = new_id()
    vendor = "ACME" if keyed["iban"].startswith("DE") else "GLOBEX"
    await submit(validation_db, validation_settings, job, item, keyed | {"vendor": vendor})
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == outcome, decision["reason"]
    if outcome == "review":
        assert decision["reason"].endswith("is not in vendors"), decision["reason"]


async def test_a_vat_number_found_without_its_dots_and_the_lookup_uses_the_index(
    validation_db: SessionFactory, validation: httpx.AsyncClient, tokens: Tokens
) -> None:
    job = await new_job(validation_db)
    uploaded = await validation.put(
        "/v1/reference-datasets/vat-master?key=vat",
        content=VENDORS,
        headers={**tokens.client(job.client_id), "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    async with validation_db() as session:
        found = await reference.look_up(
            session, job.client_id, "vat-master", "de136695976", identifier=True
        )
        assert found.row is not None
        assert found.row["name"] == "ACME"
        exact = await reference.look_up(session, job.client_id, "vat-master", "de136695976")
        assert exact.dataset_exists
        assert exact.row is None, "only an identifier's separators go"
        # The query writes the index's expression as the migration does: the planner can use it.
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        query = reference.row_without_separators(new_id(), "de136695976")
        sql = query.compile(session.bind, compile_kwargs={"literal_binds": True})
        plan = await session.execute(text(f"EXPLAIN {sql}"))
        assert "ix_reference_row_compact_key" in "\n".join(row[0] for row in plan)


@pytest.mark.parametrize(
    ("type_", "written", "keyed"),
    [
        ("bic", "DEUTDEFFXXX", "DEUTDEFFXXX"),  # the head office, canonically DEUTDEFF
        ("isbn", "3-16-148410-X", "978-3-16-148410-0"),  # the book's ISBN-10
        ("vat", "GR 094259216", "EL094259216"),  # Greece's ISO code
    ],
)
async def test_an_identifier_finds_its_row_written_in_another_spelling_of_it(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    type_: str,
    written: str,
    keyed: str,
) -> None:
    lookup = {"dataset": "master", "checks": [{"field": "vendor", "column": "name"}]}
    fields: list[dict[str, Any]] = [
        {"name": "id", "type": type_, "lookup": lookup},
        {"name": "vendor", "type": "string", "case": "upper"},
    ]
    job = await new_job(validation_db, fields=fields)
    uploaded = await validation.put(
        "/v1/reference-datasets/master?key=id",
        content=f"id,name\n{written},ACME\n",
        headers={**tokens.client(job.client_id), "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    item = new_id()
    await submit(validation_db, validation_settings, job, item, {"id": keyed, "vendor": "ACME"})
    decision = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    assert decision["decision"] == "accepted", decision["reason"]


@pytest.mark.parametrize(
    ("written", "asked"),
    [
        ("DE89 3704 0044 0532 0130 00", "DE89370400440532013000"),  # as a lookup keyed it
        ("DE89370400440532013000", "de89 3704 0044 0532 0130 00"),  # as a bank prints it
        ("DEUTDEFFXXX", "DEUTDEFF"),
        ("3-16-148410-X", "978-3-16-148410-0"),
        ("GR 094259216", "EL094259216"),
    ],
)
async def test_a_row_asked_for_by_an_identifier_is_the_row_a_lookup_finds(
    validation_db: SessionFactory,
    validation: httpx.AsyncClient,
    tokens: Tokens,
    written: str,
    asked: str,
) -> None:
    client = tokens.client(new_id())
    uploaded = await validation.put(
        "/v1/reference-datasets/master?key=id",
        content=f'id,name\n"{written}",ACME\nV-1,Globex\n',
        headers={**client, "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    found = await validation.get(f"/v1/reference-datasets/master/rows/{asked}", headers=client)
    assert (found.status_code, found.json()) == (200, {"id": written, "name": "ACME"})
    # A key that is no identifier matches as written, separators and all.
    missed = await validation.get("/v1/reference-datasets/master/rows/V 1", headers=client)
    assert "master has no row with key V 1" in assert_problem(missed, 404)["detail"]

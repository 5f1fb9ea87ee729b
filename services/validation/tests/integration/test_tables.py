"""Tables keyed twice: compared after aligning their rows, adjudicated on the cells that
differ, and judged cell by cell."""

from typing import Any

import httpx

from bpo_common.contracts import TaskKind
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.settings import Settings

from .submissions import new_item, new_job, published, scored, submit

FIELDS: list[dict[str, Any]] = [
    {"name": "number", "type": "string"},
    {
        "name": "lines",
        "type": "table",
        "columns": [
            {"name": "sku", "type": "string", "case": "upper"},
            {"name": "qty", "type": "integer"},
        ],
    },
]
RIGHT = [{"sku": "A", "qty": 1}, {"sku": "B", "qty": 2}, {"sku": "C", "qty": 3}]


async def test_two_keyings_of_a_table_agree_after_normalizing_every_cell(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    job = await new_job(validation_db, fields=FIELDS, mode="double")
    item = new_item("0", sampled=False)
    await submit(
        validation_db, validation_settings, job, item, {"number": "1", "lines": RIGHT}, expected=2
    )
    same = [{"sku": "a", "qty": "1"}, {"sku": " b", "qty": 2.0}, {"sku": "c", "qty": "3"}]
    await submit(
        validation_db, validation_settings, job, item, {"number": "1", "lines": same}, expected=2
    )
    (accepted,) = await published(validation_db, item)
    assert accepted.type == "bpo.validation.item.accepted"
    assert accepted.data["result"]["lines"] == RIGHT
    # Two keyings of two fields and three rows of two cells: 7 judged each, all right.
    assert sorted(v[2:] for v in (await scored(validation_db, item)).values()) == [(7, 7), (7, 7)]


async def test_cells_of_a_table_and_column_with_the_longest_names_are_judged(
    validation_db: SessionFactory, validation_settings: Settings
) -> None:
    table, column = "t" * 63, "c" * 63
    fields = [{"name": table, "type": "table", "columns": [{"name": column, "type": "string"}]}]
    job = await new_job(validation_db, fields=fields, mode="double")
    item = new_item("0", sampled=False)
    for _ in range(2):
        await submit(
            validation_db, validation_settings, job, item, {table: [{column: "A"}]}, expected=2
        )
    (accepted,) = await published(validation_db, item)
    assert accepted.type == "bpo.validation.item.accepted"
    assert sorted(v[2:] for v in (await scored(validation_db, item)).values()) == [(1, 1), (1, 1)]


async def test_differing_tables_go_to_adjudication_on_the_cells_that_differ(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db, fields=FIELDS, mode="double")
    item = new_item("0", sampled=False)
    right_keyer, wrong_keyer = new_id(), new_id()
    await submit(
        validation_db, validation_settings, job, item, {"number": "1", "lines": RIGHT},
        expected=2, contractor_id=right_keyer,
    )  # fmt: skip
    # The second keyer missed row B and typed C's quantity wrong.
    wrong = [{"sku": "A", "qty": 1}, {"sku": "C", "qty": 4}]
    await submit(
        validation_db, validation_settings, job, item, {"number": "1", "lines": wrong},
        expected=2, contractor_id=wrong_keyer,
    )  # fmt: skip
    (review,) = await published(validation_db, item)
    assert review.data["reason"] == ("keyings differ on lines[1].sku, lines[1].qty, lines[2].qty")
    # The same places, for the adjudicator's workbench to mark.
    assert review.data["differing"] == ["lines[1].sku", "lines[1].qty", "lines[2].qty"]
    shown = (await validation.get(f"/v1/items/{item}/decision", headers=tokens.manager())).json()
    (table,) = [row for row in shown["comparison"] if row["field"] == "lines"]
    assert table["cells"] == [
        {"cell": "lines[1].sku", "rows": [1, None], "values": ["B", None]},
        {"cell": "lines[1].qty", "rows": [1, None], "values": [2, None]},
        {"cell": "lines[2].qty", "rows": [2, 1], "values": [3, 4]},
    ]
    await submit(
        validation_db, validation_settings, job, item, {"number": "1", "lines": RIGHT},
        kind=TaskKind.ADJUDICATION,
    )  # fmt: skip
    outcomes = {v[0:1] + v[2:]: v[1] for v in (await scored(validation_db, item)).values()}
    # The wrong keying: number right; A's two cells right; B missing (two wrong); C's sku
    # right and its qty wrong.
    assert outcomes == {
        ("entry", 7, 7): "accepted",
        ("entry", 7, 4): "overturned",
        ("adjudication", 0, 0): "accepted",
    }
    quality = (
        await validation.get(f"/v1/contractors/{wrong_keyer}/quality", headers=tokens.manager())
    ).json()
    per_field = {score["key"]: score["judged"] - score["correct"] for score in quality["per_field"]}
    assert per_field == {"number": 0, "lines.sku": 1, "lines.qty": 2}


async def test_a_column_looks_up_each_cell_and_checks_its_row_against_the_reference(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    priced: list[dict[str, Any]] = [
        {"name": "currency", "type": "string"},
        {
            "name": "lines",
            "type": "table",
            "columns": [
                {
                    "name": "sku",
                    "type": "string",
                    "case": "upper",
                    "lookup": {
                        "dataset": "products",
                        "checks": [
                            {"field": "price", "column": "price", "tolerance": "0.01"},
                            {"field": "currency", "column": "currency"},
                        ],
                    },
                },
                {"name": "price", "type": "decimal"},
            ],
        },
    ]
    job = await new_job(validation_db, fields=priced, mode="single")
    uploaded = await validation.put(
        "/v1/reference-datasets/products?key=sku",
        content="sku,price,currency\nA,5.00,EUR\nB,7.50,EUR\n",
        headers={**tokens.client(job.client_id), "Content-Type": "text/csv"},
    )
    assert uploaded.status_code == 200, uploaded.text
    right = {"currency": "EUR", "lines": [{"sku": "a", "price": "5"}, {"sku": "B", "price": "7.5"}]}
    accepted = new_item("0", sampled=False)
    await submit(validation_db, validation_settings, job, accepted, right)
    (decided,) = await published(validation_db, accepted)
    assert decided.type == "bpo.validation.item.accepted"

    wrong = {
        "currency": "USD",
        "lines": [{"sku": "A", "price": "5.02"}, {"sku": "C", "price": "1"}],
    }
    reviewed = new_item("0", sampled=False)
    await submit(validation_db, validation_settings, job, reviewed, wrong)
    (review,) = await published(validation_db, reviewed)
    assert review.data["reason"] == (
        "reference check: lines[0].price 5.02 differs from price 5.00 by more than 0.01; "
        "currency USD is not currency EUR; lines[1].sku C is not in products"
    )

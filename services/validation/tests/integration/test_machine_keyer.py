"""The machine as a keyer: assisted QC on real entries, its judged fields by layout, and
keyers' record of keeping wrong pre-fills, as managers see them."""

from typing import Any
from uuid import UUID

import httpx

from bpo_common.contracts import MACHINE_CONTRACTOR_ID
from bpo_common.contracts.intake import Suggested
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens
from bpo_validation.settings import Settings

from .submissions import new_job, published, scored, submit


def confident(number: str, total: str, *, planted: bool = False) -> dict[str, Suggested]:
    return {
        "number": Suggested(value=number, confidence=0.9),
        "total": Suggested(value=total, confidence=0.95, planted=planted),
    }


async def test_the_machine_is_judged_by_layout_and_keyers_on_the_wrong_pre_fills_they_keep(
    validation_db: SessionFactory,
    validation_settings: Settings,
    validation: httpx.AsyncClient,
    tokens: Tokens,
) -> None:
    job = await new_job(validation_db, mode="assisted")
    layout, keyer, second = new_id(), new_id(), new_id()

    async def key(item: UUID, number: str, total: str, **facts: Any) -> None:
        data = {"number": number, "total": total}
        await submit(validation_db, validation_settings, job, item, data, layout_id=layout, **facts)

    # Confirmed on every field: accepted from one person.
    confirmed = new_id()
    await key(confirmed, "A-1", "10", suggestions=confident("A-1", "10"), contractor_id=keyer)
    (accepted,) = await published(validation_db, confirmed)
    assert accepted.type == "bpo.validation.item.accepted"
    assert accepted.data["result"]["total"] == "10"
    # The decision shows the machine's keying beside the person's.
    view = await validation.get(f"/v1/items/{confirmed}/decision", headers=tokens.manager())
    assert view.status_code == 200, view.text
    machine_entry, person = view.json()["entries"]
    assert machine_entry["contractor_id"] == str(MACHINE_CONTRACTOR_ID)
    assert machine_entry["data"] == {"number": "A-1", "total": "10"}
    assert person["contractor_id"] == str(keyer)

    # The machine's total is wrong: the keyer corrects it, a second keyer agrees.
    corrected = new_id()
    wrong = confident("B-2", "99")
    await key(corrected, "B-2", "20", suggestions=wrong, contractor_id=keyer)
    (again,) = await published(validation_db, corrected)
    assert again.type == "bpo.validation.keying.required"
    assert again.data["reason"] == "assisted: the machine's values were not confirmed on total"
    await key(corrected, "B-2", "20", suggestions=wrong, contractor_id=second, expected=2)
    decisions = await published(validation_db, corrected)
    assert decisions[-1].type == "bpo.validation.item.accepted"
    # Neither keyer is held to the machine's mistake: both are right on both fields.
    outcomes = await scored(validation_db, corrected)
    assert sorted(tally[2:] for tally in outcomes.values()) == [(2, 2), (2, 2)]

    # A control item with a planted wrong total: the keyer keeps it.
    control = new_id()
    golden = {"number": "C-3", "total": "30"}
    planted = confident("C-3", "31", planted=True)
    await key(control, "C-3", "31", suggestions=planted, golden=golden, contractor_id=keyer)

    machine = await validation.get(
        f"/v1/contractors/{MACHINE_CONTRACTOR_ID}/quality", headers=tokens.manager()
    )
    assert machine.status_code == 200, machine.text
    by_layout = {
        (row["layout_id"], row["field"]): (row["judged"], row["correct"])
        for row in machine.json()["per_layout"]
    }
    assert by_layout[(str(layout), "number")] == (3, 3)
    # The planted total is not the machine's: judged on the two it suggested itself.
    assert by_layout[(str(layout), "total")] == (2, 1)

    mine = await validation.get(f"/v1/contractors/{keyer}/quality", headers=tokens.manager())
    # Shown a wrong pre-fill twice: corrected one, kept the planted one.
    assert mine.json()["wrong_prefills"] == {"shown": 2, "accepted": 1, "rate": 0.5}
    assert mine.json()["per_layout"] == []

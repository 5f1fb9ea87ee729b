"""What the tests of control items share: the fields of their jobs, a control item with a known
answer, and a keyer's submission of a task."""

from typing import Any

import httpx

FIELDS: list[dict[str, Any]] = [
    {"name": "holder", "type": "string", "pii": True},
    {"name": "total", "type": "decimal"},
]
# Known answers' totals start with this, which nothing else a task shows has.
KNOWN_TOTAL = "98765"


def known_item(n: int) -> dict[str, Any]:
    """The n-th control item: its source, and its known answer."""
    return {
        "external_id": f"known-{n}",
        "source": {"holder": f"Known Holder {n}", "scan": f"known-{n}.png"},
        "golden": {"holder": f"Known Holder {n}", "total": f"{KNOWN_TOTAL}.{n}1"},
    }


async def submit_typed(intake: httpx.AsyncClient, keyer: dict[str, str], task_id: str) -> None:
    """The keyer submits the task with values of their own."""
    data = {"data": {"holder": "Typed Holder", "total": "1.00"}}
    response = await intake.post(f"/v1/tasks/{task_id}/submit", json=data, headers=keyer)
    assert response.status_code == 202, response.text

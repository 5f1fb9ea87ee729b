"""Items walked through the pure decision, one submission at a time, as the use case does."""

from collections.abc import Mapping, Sequence
from typing import Any
from uuid import UUID

from bpo_common.contracts import QcPolicy, TaskKind
from bpo_common.ids import new_id
from bpo_common.rules import JobSpec
from bpo_validation.domain import decision
from bpo_validation.domain.accuracy import KeyerAccuracy
from bpo_validation.domain.crew import Crew
from bpo_validation.domain.entries import Item, Submission
from bpo_validation.domain.reference import LookupResult, Wanted
from bpo_validation.domain.verdicts import Verdict

SPEC = JobSpec.model_validate(
    {
        "fields": [
            {
                "name": "number",
                "type": "string",
                "case": "upper",
                "lookup": {"dataset": "orders", "checks": [{"field": "total", "column": "amount"}]},
            },
            {"name": "total", "type": "decimal", "decimal_places": 2},
        ]
    }
)
ORDERS: dict[Wanted, LookupResult] = {
    Wanted("orders", "po-1"): LookupResult(True, {"po": "PO-1", "amount": "10.00"})
}
# No item is in a sample at rate 0, and this one is in none below 0.995
# (bpo_common.ids.share_of).
ITEM = UUID(int=67)
REVIEWER = new_id()


def walk(
    spec: JobSpec,
    policy: QcPolicy,
    steps: Sequence[Submission],
    *,
    found: Mapping[Wanted, LookupResult] = ORDERS,
    keyer: KeyerAccuracy = KeyerAccuracy({}, Crew({})),
    item_id: UUID = ITEM,
    confirm_adjudications: bool = True,
) -> list[Verdict]:
    """Each submission in turn, as the use case hands it to `decide` with what `needs` asks
    for (a lookup it asks for and `found` lacks fails the test): the verdicts."""
    verdicts = []
    for n, submitted in enumerate(steps, 1):
        item = Item(item_id, "invoice", steps[:n], submitted)
        needs = decision.needs(spec, policy, item)
        verdicts.append(
            decision.decide(
                spec,
                policy,
                item,
                lookups={wanted: found[wanted] for wanted in needs.lookups},
                keyer=keyer if needs.keyer_accuracy else None,
                confirm_adjudications=confirm_adjudications,
            )
        )
    return verdicts


def keying(data: dict[str, Any], expected: int = 1, **facts: Any) -> Submission:
    return Submission(new_id(), TaskKind.ENTRY, new_id(), data, entries_expected=expected, **facts)


def review(
    data: dict[str, Any],
    kind: TaskKind = TaskKind.REVIEW,
    contractor_id: UUID = REVIEWER,
    **facts: Any,
) -> Submission:
    return Submission(new_id(), kind, contractor_id, data, **facts)

"""The work type a qualification is put on: one that is no work type, or whose skill would be
the reviewers', is refused naming it, and nothing is stored."""

import httpx
import pytest

from bpo_common.ids import new_id
from bpo_devtools.testing import Tokens, assert_problem, error_fields


@pytest.mark.parametrize(
    ("work_type", "says"),
    [
        ("Not%20One", ""),
        # Passing a work type's set gives a skill named after it: "qc" would let its keyers
        # review and adjudicate every client's work.
        ("qc", "reviewers' skill"),
    ],
)
async def test_a_work_type_that_is_no_work_type_or_the_reviewers_skill_is_refused(
    intake: httpx.AsyncClient, tokens: Tokens, work_type: str, says: str
) -> None:
    response = await intake.put(
        f"/v1/work-types/{work_type}/qualification",
        json={"job_id": str(new_id())},
        headers=tokens.manager(),
    )

    problem = assert_problem(response, 422)
    assert error_fields(problem) == ["work_type"]
    assert says in problem["detail"]
    missing = await intake.get("/v1/work-types/qc/qualification", headers=tokens.manager())
    assert_problem(missing, 404)

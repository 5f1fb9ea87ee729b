"""What each event adds to the rollups: in the UTC hour of its moment, once per fact."""

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bpo_common.contracts import TaskKind, TaskOutcome, billing, intake, validation
from bpo_common.ids import new_id
from bpo_reporting.domain import projections
from bpo_reporting.domain.projections import (
    ContractorKey,
    EarnerKey,
    HourlyKey,
    Increment,
    MoneyKey,
    Settled,
    TurnaroundKey,
)
from bpo_reporting.domain.turnaround import turnaround_bin

CLIENT, JOB, ITEM, TASK, CONTRACTOR = (new_id() for _ in range(5))
NINE = datetime(2030, 1, 1, 9, tzinfo=UTC)
# 10:30 at UTC+2: 08:30 UTC, in the 08:00 hour.
HALF_PAST_TEN_AT_PLUS_TWO = datetime(2030, 1, 1, 10, 30, tzinfo=timezone(timedelta(hours=2)))
EIGHT = datetime(2030, 1, 1, 8, tzinfo=UTC)
OF_THE_JOB = {"job_id": JOB, "client_id": CLIENT, "work_type": "invoice"}
OF_THE_TASK = {"task_id": TASK, "item_id": ITEM, "contractor_id": CONTRACTOR, **OF_THE_JOB}


def _at(minutes: int) -> datetime:
    return NINE + timedelta(minutes=minutes)


def _hourly(hour: datetime = NINE, work_type: str = "invoice") -> HourlyKey:
    return HourlyKey(CLIENT, work_type, hour)


def _received(count: int, received_at: datetime = NINE) -> intake.ItemsReceived:
    return intake.ItemsReceived(
        job_id=JOB,
        client_id=CLIENT,
        work_type="invoice",
        items=[
            intake.ReceivedItem(item_id=new_id(), external_id=None, golden=False)
            for _ in range(count)
        ],
        received_at=received_at,
    )


def test_items_received_count_only_the_items_not_received_before() -> None:
    event = _received(5, HALF_PAST_TEN_AT_PLUS_TWO)

    assert projections.items_received(event, received=3) == [
        Increment(_hourly(EIGHT), {"items_received": 3})
    ]
    assert projections.items_received(event, received=0) == []


def test_an_item_completed_or_rejected_counts_the_first_time_only() -> None:
    completed = intake.ItemCompleted(
        item_id=ITEM,
        job_id=JOB,
        client_id=CLIENT,
        work_type="claim",
        golden=False,
        fields=3,
        completed_at=_at(59),
    )
    rejected = intake.ItemRejected(
        item_id=ITEM,
        job_id=JOB,
        client_id=CLIENT,
        work_type="claim",
        reason="unreadable",
        rejected_at=_at(60),
    )

    assert projections.item_completed(completed, first=True) == [
        Increment(_hourly(work_type="claim"), {"items_completed": 1})
    ]
    assert projections.item_rejected(rejected, first=True) == [
        Increment(_hourly(NINE + timedelta(hours=1), "claim"), {"items_rejected": 1})
    ]
    assert projections.item_completed(completed, first=False) == []
    assert projections.item_rejected(rejected, first=False) == []
    # An item closed by its data's erasure is no rejection.
    erased = rejected.model_copy(update={"erased": True})
    assert projections.item_rejected(erased, first=True) == []


def test_a_settled_turnaround_goes_to_its_bin_in_the_hour_of_completion() -> None:
    settled = [
        Settled(CLIENT, "invoice", _at(40), 1800.0),
        Settled(CLIENT, "invoice", HALF_PAST_TEN_AT_PLUS_TWO, 0.0),
    ]

    assert projections.turnarounds(settled) == [
        Increment(TurnaroundKey(CLIENT, "invoice", NINE, turnaround_bin(1800)), {"items": 1}),
        Increment(TurnaroundKey(CLIENT, "invoice", EIGHT, 0), {"items": 1}),
    ]
    assert projections.turnarounds([]) == []


def _job_completed(due_at: datetime | None) -> intake.JobCompleted:
    return intake.JobCompleted(
        job_id=JOB,
        client_id=CLIENT,
        work_type="invoice",
        due_at=due_at,
        items_completed=2,
        items_rejected=0,
        completed_at=_at(15),
    )


@pytest.mark.parametrize(
    ("due_at", "met", "missed"),
    [
        pytest.param(_at(15), 1, 0, id="on-the-minute"),
        pytest.param(_at(14), 0, 1, id="late"),
    ],
)
def test_a_job_due_counts_as_met_or_missed_when_it_completes(
    due_at: datetime, met: int, missed: int
) -> None:
    assert projections.job_completed(_job_completed(due_at), first=True) == [
        Increment(_hourly(), {"jobs_sla_met": met, "jobs_sla_missed": missed})
    ]
    assert projections.job_completed(_job_completed(due_at), first=False) == []


def test_a_job_without_a_due_time_counts_for_no_sla() -> None:
    assert projections.job_completed(_job_completed(None), first=True) == []


def _submitted(claimed_at: datetime, submitted_at: datetime) -> intake.TaskSubmitted:
    return intake.TaskSubmitted(
        **OF_THE_TASK,
        kind=TaskKind.ENTRY,
        data={},
        golden=None,
        entries_expected=1,
        claimed_at=claimed_at,
        submitted_at=submitted_at,
    )


def test_a_submission_counts_its_task_and_the_seconds_since_the_claim() -> None:
    assert projections.task_submitted(_submitted(_at(-20), _at(10)), first=True) == [
        Increment(ContractorKey(CONTRACTOR, NINE), {"tasks_submitted": 1, "submit_seconds": 1800.0})
    ]
    # A clock that ran backwards between claim and submit counts no negative time.
    assert projections.task_submitted(_submitted(_at(11), _at(10)), first=True) == [
        Increment(ContractorKey(CONTRACTOR, NINE), {"tasks_submitted": 1, "submit_seconds": 0.0})
    ]
    assert projections.task_submitted(_submitted(_at(-20), _at(10)), first=False) == []


def test_an_expiry_counts_once_for_the_contractor() -> None:
    expired = intake.TaskExpired(
        task_id=TASK,
        job_id=JOB,
        item_id=ITEM,
        client_id=CLIENT,
        contractor_id=CONTRACTOR,
        attempts=1,
        requeued=True,
        expired_at=HALF_PAST_TEN_AT_PLUS_TWO,
    )

    assert projections.task_expired(expired, first=True) == [
        Increment(ContractorKey(CONTRACTOR, EIGHT), {"tasks_expired": 1})
    ]
    assert projections.task_expired(expired, first=False) == []
    # The task's next lease that runs out is another expiry.
    again = expired.model_copy(update={"attempts": 2})
    assert projections.expiry(expired) == (TASK, 1)
    assert projections.expiry(again) == (TASK, 2)


@pytest.mark.parametrize("outcome", list(TaskOutcome))
def test_a_score_counts_its_outcome_and_fields_for_the_client_and_the_contractor(
    outcome: TaskOutcome,
) -> None:
    scored = validation.ContractorScored(
        **OF_THE_TASK,
        kind=TaskKind.REVIEW,
        outcome=outcome,
        golden=False,
        fields_judged=3,
        fields_correct=2,
        submitted_at=_at(5),
        decided_at=_at(30),
    )
    deltas: dict[str, int] = {"fields_judged": 3, "fields_correct": 2}
    if outcome is not TaskOutcome.UNJUDGED:  # work a cancel left undecided: no outcome counts
        deltas[f"entries_{outcome.value}"] = 1

    assert projections.contractor_scored(scored, first=True) == [
        Increment(_hourly(), deltas),
        Increment(ContractorKey(CONTRACTOR, NINE), deltas),
    ]
    assert projections.contractor_scored(scored, first=False) == []
    # A control copied into the job is the keyer's work, none of the client's.
    copy = scored.model_copy(update={"control_copy": True})
    assert projections.contractor_scored(copy, first=True) == [
        Increment(ContractorKey(CONTRACTOR, NINE), deltas)
    ]


def test_usage_is_revenue_in_the_hour_the_item_completed() -> None:
    usage = billing.UsageRecorded(
        usage_id=new_id(),
        item_id=ITEM,
        **OF_THE_JOB,
        amount=Decimal("1.50"),
        currency="EUR",
        completed_at=_at(40),
        recorded_at=_at(90),
    )

    assert projections.usage_recorded(usage, first=True) == [
        Increment(
            MoneyKey(CLIENT, "invoice", NINE, "EUR"),
            {"revenue": Decimal("1.50"), "contractor_cost": Decimal(0)},
        )
    ]
    assert projections.usage_recorded(usage, first=False) == []


def test_an_earning_is_the_clients_cost_and_the_contractors_earnings() -> None:
    earning = billing.EarningRecorded(
        earning_id=new_id(),
        task_id=TASK,
        contractor_id=CONTRACTOR,
        **OF_THE_JOB,
        kind=TaskKind.ENTRY,
        amount=Decimal("0.40"),
        currency="USD",
        earned_at=HALF_PAST_TEN_AT_PLUS_TWO,
    )

    assert projections.earning_recorded(earning, first=True) == [
        Increment(
            MoneyKey(CLIENT, "invoice", EIGHT, "USD"),
            {"revenue": Decimal(0), "contractor_cost": Decimal("0.40")},
        ),
        Increment(EarnerKey(CONTRACTOR, EIGHT, "USD"), {"amount": Decimal("0.40")}),
    ]
    assert projections.earning_recorded(earning, first=False) == []


def test_items_finished_in_a_run_add_up_per_job() -> None:
    other_job = {**OF_THE_JOB, "job_id": new_id()}
    events = [
        intake.ItemRejected(item_id=new_id(), **job, reason="blank", rejected_at=NINE)
        for job in (OF_THE_JOB, OF_THE_JOB, other_job)
    ]

    erased = intake.ItemRejected(
        item_id=new_id(), **OF_THE_JOB, reason="erased", rejected_at=NINE, erased=True
    )

    counts = projections.finished_per_job([*events, erased])

    assert [(c.job_id, c.completed, c.rejected, c.erased) for c in counts] == [
        (JOB, 0, 2, 1),
        (other_job["job_id"], 0, 1, 0),
    ]

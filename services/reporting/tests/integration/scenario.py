"""A day of work at one client, as the events intake, validation and billing publish.

Figures for the day (hours UTC; a..i are items, T1..T5 tasks, K1 and K2 contractors):

job 1 (invoice, due 12:00, stays open): a b c d received 08:10, e f 09:30
    a completed 08:40 (1800 s), b 09:00 (3000 s), c 10:10 (7200 s), e 10:30 (3600 s),
    d rejected 09:10, f open: 1 item of backlog
job 2 (claim, due 10:00): g h received 08:15, g completed 08:45 (1800 s), h 09:15 (3600 s),
    closed 08:50, completed 09:15: SLA met
job 3 (invoice, due 09:00): i received 08:05, completed 09:30 (5100 s), job completed 09:30:
    SLA missed
tasks: T1 K1 a claimed 08:20 submitted 08:30, accepted 3/3 fields at 08:40
       T2 K1 b 08:30-08:50, overturned 2/3 at 09:00
       T3 K2 c 08:40-09:40, accepted 3/3 at 10:10
       T4 K2 d 09:00-09:05, rejected 0/3 at 09:10
       T5 K1 e 09:40-09:50, accepted 3/3 at 10:30
       K2 let a lease expire at 08:55
money (EUR): usage 1.50 for a b c e i, 2.00 for g h: revenue 11.50;
       earnings 0.40 for T1 T2 T3 T5: cost 1.60 (K1 1.20, K2 0.40); margin 9.90
accuracy: jobs 2 and 3 are adaptive; validation says what they delivered a minute after each
    completed: job 2 met its target 0.98 (09:16), job 3 missed its 0.95 (09:31): flagged
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from nats.js import JetStreamContext

from bpo_common.contracts import (
    FieldSpec,
    QcMode,
    QcPolicy,
    TaskKind,
    TaskOutcome,
    billing,
    intake,
    validation,
)
from bpo_common.events import Envelope, Event, wrap
from bpo_common.ids import new_id
from bpo_common.rules import FieldType
from bpo_devtools.testing import consumer_drained, eventually


@dataclass
class Scenario:
    day: datetime
    client_id: UUID = field(default_factory=new_id)
    k1: UUID = field(default_factory=new_id)
    k2: UUID = field(default_factory=new_id)
    jobs: dict[int, UUID] = field(default_factory=lambda: {n: new_id() for n in (1, 2, 3)})
    items: dict[str, UUID] = field(default_factory=lambda: {n: new_id() for n in "abcdefghi"})
    tasks: dict[str, UUID] = field(default_factory=lambda: {f"T{n}": new_id() for n in range(1, 6)})

    def at(self, hhmm: str) -> datetime:
        hours, minutes = hhmm.split(":")
        return self.day + timedelta(hours=int(hours), minutes=int(minutes))

    def events(self) -> list[Event]:
        job_of = {**dict.fromkeys("abcdef", 1), "g": 2, "h": 2, "i": 3}
        work_type = {1: "invoice", 2: "claim", 3: "invoice"}
        due = {1: "12:00", 2: "10:00", 3: "09:00"}
        c = self.client_id
        target = {2: Decimal("0.98"), 3: Decimal("0.95")}
        events: list[Event] = []
        for n in (1, 2, 3):
            adaptive = QcPolicy(mode=QcMode.ADAPTIVE, target_accuracy=target[n]) if n > 1 else None
            events.append(
                intake.JobCreated(
                    job_id=self.jobs[n],
                    client_id=c,
                    work_type=work_type[n],
                    fields=[FieldSpec(name="total", type=FieldType.DECIMAL)],
                    qc=adaptive or QcPolicy(),
                    priority=50,
                    due_at=self.at(due[n]),
                    sla_hours=None,
                    external_ref=None,
                    created_at=self.at("08:00"),
                )
            )
        for names, when in [("abcd", "08:10"), ("ef", "09:30"), ("gh", "08:15"), ("i", "08:05")]:
            job = job_of[names[0]]
            events.append(
                intake.ItemsReceived(
                    job_id=self.jobs[job],
                    client_id=c,
                    work_type=work_type[job],
                    items=[
                        intake.ReceivedItem(item_id=self.items[n], external_id=n, golden=False)
                        for n in names
                    ],
                    received_at=self.at(when),
                )
            )
        for name, when in [("a", "08:40"), ("b", "09:00"), ("c", "10:10"), ("e", "10:30"),
                           ("g", "08:45"), ("h", "09:15"), ("i", "09:30")]:  # fmt: skip
            job = job_of[name]
            events.append(
                intake.ItemCompleted(
                    item_id=self.items[name],
                    job_id=self.jobs[job],
                    client_id=c,
                    work_type=work_type[job],
                    golden=False,
                    fields=3,
                    completed_at=self.at(when),
                )
            )
            # As billing sends an amount: without trailing zeros.
            amount = Decimal("2") if job == 2 else Decimal("1.5")
            events.append(
                billing.UsageRecorded(
                    usage_id=new_id(),
                    item_id=self.items[name],
                    job_id=self.jobs[job],
                    client_id=c,
                    work_type=work_type[job],
                    amount=amount,
                    currency="EUR",
                    completed_at=self.at(when),
                    recorded_at=self.at(when),
                )
            )
        events.append(
            intake.ItemRejected(
                item_id=self.items["d"],
                job_id=self.jobs[1],
                client_id=c,
                work_type="invoice",
                reason="unreadable",
                rejected_at=self.at("09:10"),
            )
        )
        events.append(
            intake.JobClosed(job_id=self.jobs[2], client_id=c, closed_at=self.at("08:50"))
        )
        for job, when in [(2, "09:15"), (3, "09:30")]:
            events.append(
                intake.JobCompleted(
                    job_id=self.jobs[job],
                    client_id=c,
                    work_type=work_type[job],
                    due_at=self.at(due[job]),
                    items_completed=2 if job == 2 else 1,
                    items_rejected=0,
                    completed_at=self.at(when),
                )
            )
        # Items, single keyed, keyed twice; estimate, lower, upper, assured; met; when.
        delivered = [
            (2, 2, 1, 1, 0.995, 0.9812, 1.0, 0.9843, True, "09:16"),
            (3, 1, 1, 0, 0.962, 0.8905, 1.0, 0.9118, False, "09:31"),
        ]
        for job, items, single, twice, estimate, lower, upper, assured, met, when in delivered:
            events.append(
                validation.JobAccuracyDelivered(
                    job_id=self.jobs[job],
                    client_id=c,
                    work_type=work_type[job],
                    target=target[job],
                    items=items,
                    single_keyed=single,
                    keyed_twice=twice,
                    estimate=estimate,
                    lower=lower,
                    upper=upper,
                    assured=assured,
                    met=met,
                    decided_at=self.at(when),
                )
            )
        accepted, overturned = TaskOutcome.ACCEPTED, TaskOutcome.OVERTURNED
        rejected = TaskOutcome.REJECTED
        # The last figure: seconds active on the task, where the workbench measured them.
        tasks = [
            ("T1", self.k1, "a", "08:20", "08:30", accepted, 3, "08:40", 90.0),
            ("T2", self.k1, "b", "08:30", "08:50", overturned, 2, "09:00", None),
            ("T3", self.k2, "c", "08:40", "09:40", accepted, 3, "10:10", 120.0),
            ("T4", self.k2, "d", "09:00", "09:05", rejected, 0, "09:10", None),
            ("T5", self.k1, "e", "09:40", "09:50", accepted, 3, "10:30", 60.0),
        ]
        for task, who, item, claimed, submitted, outcome, correct, decided, active in tasks:
            identity = {
                "task_id": self.tasks[task],
                "item_id": self.items[item],
                "job_id": self.jobs[1],
                "client_id": c,
                "contractor_id": who,
                "work_type": "invoice",
                "kind": TaskKind.ENTRY,
            }
            events.append(
                intake.TaskSubmitted(
                    **identity,
                    data={"total": "1"},
                    golden=None,
                    entries_expected=1,
                    active_seconds=active,
                    claimed_at=self.at(claimed),
                    submitted_at=self.at(submitted),
                )
            )
            events.append(
                validation.ContractorScored(
                    **identity,
                    outcome=outcome,
                    golden=False,
                    fields_judged=3,
                    fields_correct=correct,
                    submitted_at=self.at(submitted),
                    decided_at=self.at(decided),
                )
            )
            if outcome is not TaskOutcome.REJECTED:
                events.append(
                    billing.EarningRecorded(
                        earning_id=new_id(),
                        task_id=self.tasks[task],
                        contractor_id=who,
                        job_id=self.jobs[1],
                        client_id=c,
                        work_type="invoice",
                        kind=TaskKind.ENTRY,
                        amount=Decimal("0.4"),
                        currency="EUR",
                        earned_at=self.at(decided),
                    )
                )
        events.append(
            intake.TaskExpired(
                task_id=new_id(),
                job_id=self.jobs[1],
                item_id=self.items["f"],
                client_id=c,
                contractor_id=self.k2,
                attempts=1,
                requeued=True,
                expired_at=self.at("08:55"),
            )
        )
        return events

    def envelopes(self) -> list[Envelope]:
        # The publishing service is the subject's second part: bpo.<service>.<entity>.<verb>.
        return [
            wrap(event, source=event.event_type.split(".")[1], client_id=self.client_id)
            for event in self.events()
        ]


async def publish(js: JetStreamContext, envelopes: list[Envelope]) -> None:
    """Put envelopes on the stream as the relays would, and wait until reporting took them."""
    for envelope in envelopes:
        await js.publish(envelope.subject, envelope.model_dump_json().encode())
    await eventually(
        lambda: consumer_drained(js, "reporting"), what="reporting to take every event"
    )


async def published(js: JetStreamContext, day: datetime) -> Scenario:
    """The day of work of `day`, on the stream and taken by reporting."""
    scenario = Scenario(day)
    await publish(js, scenario.envelopes())
    return scenario

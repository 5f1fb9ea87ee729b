"""Adaptive QC as an accuracy contract, measured with a ground truth, against single and double
keying on the same crews.

    .venv/bin/python bench/qc_simulator.py [--items 3000] [--baseline-items 1000]
        [--document-items 500] [--keyers 8] [--qc-keyers 2] [--warm-items 0]
        [--only TEXT ...] [--plot bench/qc_accuracy.png] [--quick]

Starts the whole product (bench/harness.py) and runs simulated contractors
(bpo_cli.simulation) through the real HTTP API: each item's source is the true invoice (5
fields), each keyer mistypes fields at a rate that makes their share of items exactly right
what the crew says, and `--qc-keyers` reviewers and adjudicators (97 %) re-read the fields the
keyings disagree on. 5 % of the items are control items. A job in adaptive mode promises
`target_accuracy` of its items exactly right with 95 % confidence (see
services/validation/src/bpo_validation/domain/accuracy.py); the issue's measurement points:

- crew "mixed" (half at 99.8 %, half at 95 % per item), target 99.5 %: delivered >= 99.5 % at
  <= 1.45 entry keyings per item;
- crew "all at 97 %", target 99.0 %: delivered >= 99.0 % at <= 1.8 keyings per item;
- crew "all at 97 %", target 99.9 %: delivered >= 99.9 % at <= 2.0 keyings per item;
- crew "one bad apple" (seven at 99.5 %, one at 80 %), target 99.5 %: the bad keyer is held to
  second keyings (none of their first keyings accepted alone after their first 100 items) or
  suspended within those 100 items, and delivered >= 99.5 %;
- the same crew "after another crew": a first crew of that make-up keys a job of 1,000 items
  of the work type and stops, its bad keyer doubted; then a crew of new keyers of the same
  make-up keys the measured job (a crew joining where a doubted keyer is no longer at work):
  delivered >= 99.5 %, and their bad keyer held as above;
- the 95 % interval of validation's `GET /v1/jobs/{id}/accuracy` contains the true delivered
  accuracy in every adaptive scenario; no adaptive scenario delivers less than its target;
- a plot of delivered accuracy against keyings per item for single, double and adaptive on
  these crews (`--plot`, drawn with Pillow).

Adaptive runs `--items` items a scenario; single and double keying, the baselines, each crew
once, `--baseline-items`. Every scenario's job has a work type of its own: adaptive QC and the
quality floor know keyers by work type, so no scenario starts from another's records (each
adaptive job starts cold: its first items are keyed twice; "after another crew" starts from
its first crew's). Entry keyings per item count entry keyings of the scored items only
(control items, reviews and adjudications apart; those are printed too). `--only` runs the
scenarios whose label (as printed) contains the text, a scenario's figures then without the
baselines it lacks.

With `--warm-items N`, each adaptive scenario starts warm, as in production, where the same
contractors key job after job of a work type: a warm-up job of N items of its work type is
keyed first by the same keyers (the same contractors, at the same accuracies),
then the measured job. The scenario's figures are the measured job's; the warm-up's line is
printed too (", warm-up"), and, for both jobs, each entry keyer's first keyings (those
accepted alone among them: how many of those were wrong, and how many adaptive QC's ledger
expects wrong, as it last valued them) and second keyings, and the share of their judged
fields on the work type judged wrong (on control items, on the others) against their true
rate. A keyer the warm-up suspended keys nothing of the measured job.

Assisted keying (machine pre-fill) on the crew all at 97 %, `--document-items` items with
their invoices as PDFs: intake reads each PDF's words and suggests the fields, and a keyer
keeps a right suggestion, types over a wrong one (keeping it unnoticed 5 % of the time) and
types the fields with none; when the keyer confirms what the machine was sure of on every
field, one person settles the item. It is measured on its client's second job, after a first
of 50 items from which the client's layout learned (see Scenario.first_batch; the first job's
line is printed too), against double keying on the same crew (whose keyers type every field:
a double keying shows no pre-fill). Figures as before: assisted vs double accuracy; fields
typed per item over the fields an item has (double types 2.0; target: assisted types no more
than single keying's 1.0); assisted entry keyings per item (<= 1.5); and, for information,
the share of items settled by one person. The last line is the RESULT of bench/README.md.
"""

import argparse
import asyncio
import json
import math
import os
import re
import signal
import sys
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
from harness import REPO_ROOT, FullStack, full_stack, interrupted
from PIL import Image, ImageDraw, ImageFont

from bpo_cli.signing import Signer
from bpo_cli.simulation import BLIND, FIELDS, WORK_TYPE, Endpoints, Keyer, Outcome, Simulation
from bpo_common.auth import Role

# Reviewers' and adjudicators' share of items exactly right (they re-read only the fields the
# keyings disagree on).
QC_ACCURACY = 0.97
# The bad keyer must be held to second keyings, or suspended, within their first so many items.
BAD_APPLE_ITEMS = 100
PLOT = REPO_ROOT / "bench" / "qc_accuracy.png"
# No item wrong counts as this share wrong in the ratios "share wrong allowed / delivered".
WRONG_FLOOR = 1e-5
# Assisted keying should type no more than single keying (1.0 of an item's fields): double
# keying's 2.0 over assisted's; and take at most 1.5 entry keyings per item.
TYPING_TARGET = 2.0
ASSISTED_KEYINGS_TARGET = 1.5
# Items of the assisted client's first job (see Scenario.first_batch).
FIRST_BATCH = 50
# Items of the first crew's job where a second crew joins (see Scenario.after_crew).
AFTER_CREW_ITEMS = 1000
# The modes the plot shows.
PLOTTED = ("single", "double", "adaptive")


@dataclass(frozen=True)
class Crew:
    """The entry keyers of a scenario (the reviewers come on top); `bad`: the index of the
    bad apple among them."""

    name: str
    keyers: tuple[Keyer, ...]
    bad: int | None = None

    def with_qc(self, qc_keyers: int) -> list[Keyer]:
        return [*self.keyers, *[Keyer(QC_ACCURACY, qc=True)] * qc_keyers]


def crews(keyers: int) -> list[Crew]:
    return [
        Crew("mixed", tuple(Keyer(0.95 if n % 2 else 0.998) for n in range(keyers))),
        Crew("all at 97%", (Keyer(0.97),) * keyers),
        Crew("one bad apple", (Keyer(0.995),) * (keyers - 1) + (Keyer(0.80),), bad=keyers - 1),
    ]


@dataclass(frozen=True)
class Scenario:
    crew: Crew
    mode: str
    # Adaptive: the job's target_accuracy, and the most entry keyings per item it may take.
    target: str | None = None
    keyings_bound: float | None = None
    # Each item's invoice as a PDF, which intake reads for pre-fill.
    documents: bool = False
    # Items of a first job of the same client, keyed before the measured one: its layout has
    # learned from them. Within one job, the layout learns nothing in time: every task of a
    # job is claimed in the order created, so no item is accepted (and learned from) before
    # every item's first keying has been claimed, and only items nobody started are read again.
    first_batch: int = 0
    # Items of a job of the same work type keyed first by another crew of the same make-up,
    # who then stop: the measured crew joins a work type where adaptive QC doubts a keyer
    # who is no longer at work.
    after_crew: int = 0

    @property
    def crew_label(self) -> str:
        return self.crew.name + (", after another crew" if self.after_crew else "")

    @property
    def label(self) -> str:
        if self.target is None:
            return f"{self.mode}, {self.crew_label}"
        return f"{self.mode} {float(self.target):.1%}, {self.crew_label}"

    @property
    def work_type(self) -> str:
        return f"{WORK_TYPE}.{re.sub(r'[^a-z0-9]+', '-', self.label.lower()).strip('-')}"


def plan(keyers: int) -> list[Scenario]:
    mixed, even, apple = crews(keyers)
    return [
        Scenario(mixed, "adaptive", "0.995", 1.45),
        Scenario(even, "adaptive", "0.990", 1.8),
        Scenario(even, "adaptive", "0.999", 2.0),
        Scenario(apple, "adaptive", "0.995"),
        Scenario(apple, "adaptive", "0.995", after_crew=AFTER_CREW_ITEMS),
        *(Scenario(crew, mode) for crew in (mixed, even, apple) for mode in ("single", "double")),
        Scenario(even, "assisted", documents=True, first_batch=FIRST_BATCH),
    ]


@dataclass(frozen=True)
class BadApple:
    """What became of the bad keyer's work: their entry keyings, the first keyings among them
    (control items aside) and those accepted alone, within their first BAD_APPLE_ITEMS items
    and after; when they were refused work as suspended, if they were (their entry keyings by
    then, seconds into the run), and validation's `suspended_at` for them after the run."""

    keyings: int
    first_early: int
    alone_early: int
    first_late: int
    alone_late: int
    suspended_after: int | None
    suspended_s: float | None
    suspended_at: str | None = None

    @property
    def suspended_early(self) -> bool:
        return self.suspended_after is not None and self.suspended_after <= BAD_APPLE_ITEMS

    @property
    def held(self) -> float | None:
        """The share of their first keyings after their first BAD_APPLE_ITEMS items that were
        keyed again (1.0 once suspended within those); over all their first keyings if they
        keyed no more."""
        if self.suspended_early:
            return 1.0
        first, alone = self.first_late, self.alone_late
        if not first:
            first, alone = self.first_early, self.alone_early
        return 1 - alone / first if first else None


def bad_apple(outcome: Outcome, contractor: str) -> BadApple:
    seen: set[str] = set()
    keyings = 0
    first = [0, 0]  # within their first BAD_APPLE_ITEMS items, after
    alone = [0, 0]
    for item, who in outcome.entries:
        is_first = item not in seen
        seen.add(item)
        if who != contractor:
            continue
        keyings += 1
        if is_first and item not in outcome.controls:
            late = keyings > BAD_APPLE_ITEMS
            first[late] += 1
            alone[late] += item in outcome.alone
    suspension = next((s for s in outcome.suspensions if s.contractor_id == contractor), None)
    return BadApple(
        keyings,
        first[0],
        alone[0],
        first[1],
        alone[1],
        suspension.entries if suspension else None,
        suspension.seconds if suspension else None,
    )


@dataclass(frozen=True)
class Measured:
    scenario: Scenario
    outcome: Outcome
    # Validation's GET /v1/jobs/{id}/accuracy once the job was completed (adaptive only).
    accuracy: dict[str, Any] | None
    bad: BadApple | None
    # A job keyed before the scenario's measured one (not a figure), as what it was for: the
    # assisted client's "first batch", which its layout learned from, or an adaptive
    # scenario's "warm-up", which its keyers' records grew on.
    prelude: str | None = None
    # Adaptive QC's ledger of the job: by keyer, the items they carried alone and the sum of
    # those items' chances of being right, as it last valued them.
    valued: dict[str, tuple[int, float]] = field(default_factory=dict)
    # Validation's judged fields of the entry keyers on the work type so far (the warm-up's
    # too), as (fields, wrong): on control items, and on the others.
    judged: dict[bool, tuple[int, int]] = field(default_factory=dict)

    @property
    def label(self) -> str:
        return self.scenario.label + (f", {self.prelude}" if self.prelude else "")

    @property
    def delivered(self) -> float:
        return self.outcome.item_accuracy

    @property
    def interval(self) -> tuple[float, float] | None:
        """The endpoint's two-sided 95 % interval (`lower`, `upper`; `low`, `high` before)."""
        answer = self.accuracy or {}
        low, high = answer.get("lower", answer.get("low")), answer.get("upper", answer.get("high"))
        return None if low is None or high is None else (float(low), float(high))

    @property
    def contains_truth(self) -> bool | None:
        if self.interval is None:
            return None
        low, high = self.interval
        return low <= self.delivered <= high

    def wrong(self) -> float:
        """The share of items wrong, at least 0.001 % (so that a ratio over it is finite: a
        lower bound when no item was wrong)."""
        return max(1 - self.delivered, WRONG_FLOOR)


@dataclass(frozen=True)
class Sizes:
    items: int  # adaptive
    baseline_items: int  # single and double
    document_items: int  # assisted
    qc_keyers: int
    warm_items: int  # each adaptive scenario's warm-up job (0: none)

    def of(self, scenario: Scenario) -> int:
        if scenario.documents:
            return self.document_items
        return self.items if scenario.mode == "adaptive" else self.baseline_items


async def measure(stack: FullStack, scenarios: Sequence[Scenario], sizes: Sizes) -> list[Measured]:
    endpoints = Endpoints(intake=stack.url("intake"), signer=Signer(stack.private_key_pem))
    manager = stack.headers(Role.MANAGER)
    measured = []
    async with httpx.AsyncClient(timeout=60) as http:
        simulation = Simulation(http, endpoints)
        for scenario in scenarios:
            crew = scenario.crew
            client_id = await simulation.client(f"QC bench {scenario.label}")
            warm = sizes.warm_items if scenario.mode == "adaptive" else 0
            jobs = [
                ("first batch", scenario.first_batch),
                ("first crew", scenario.after_crew),
                ("warm-up", warm),
            ]
            # A warm-up's keyers key the measured job too.
            returning = None
            for prelude, items in [*((p, n) for p, n in jobs if n), (None, sizes.of(scenario))]:
                outcome = await simulation.run(
                    client_id,
                    items=items,
                    keyers=crew.with_qc(sizes.qc_keyers),
                    mode=scenario.mode,
                    target_accuracy=scenario.target or "0.995",
                    documents=scenario.documents,
                    work_type=scenario.work_type,
                    returning=returning,
                )
                returning = outcome if prelude == "warm-up" else None
                accuracy, valued, judged = None, {}, {}
                if scenario.mode == "adaptive":
                    response = await http.get(
                        f"{stack.url('validation')}/v1/jobs/{outcome.job_id}/accuracy",
                        headers=manager,
                    )
                    response.raise_for_status()
                    accuracy = response.json()
                    valued = await ledger(stack, outcome.job_id)
                    keyers = [UUID(c) for c in outcome.contractors[: len(crew.keyers)]]
                    judged = await judged_fields(stack, scenario.work_type, keyers)
                bad = None
                if crew.bad is not None:
                    contractor = outcome.contractors[crew.bad]
                    response = await http.get(
                        f"{stack.url('validation')}/v1/contractors/{contractor}/quality",
                        headers=manager,
                    )
                    response.raise_for_status()
                    suspended_at = response.json()["suspended_at"]
                    bad = replace(bad_apple(outcome, contractor), suspended_at=suspended_at)
                result = Measured(scenario, outcome, accuracy, bad, prelude, valued, judged)
                measured.append(result)
                print(report(result), flush=True)
                if warm:
                    print(by_keyer(result), flush=True)
    return measured


async def ledger(stack: FullStack, job_id: UUID) -> dict[str, tuple[int, float]]:
    """What adaptive QC's ledger of the job holds of each keyer's items carried alone (read
    from validation's database: no endpoint shows it keyer by keyer)."""
    rows = await stack.fetch(
        "bpo_validation", "SELECT carried FROM job_accuracy WHERE job_id = $1", job_id
    )
    shares = json.loads(rows[0]["carried"]) if rows else {}
    return {keyer: (int(share[0]), float(share[1])) for keyer, share in shares.items()}


async def judged_fields(
    stack: FullStack, work_type: str, keyers: list[UUID]
) -> dict[bool, tuple[int, int]]:
    """Validation's judged fields of `keyers` on the work type, as (fields, wrong), on control
    items (True) and on the others (False), final judgements only (adaptive QC's figures
    also count keyings that differ while their item awaits adjudication)."""
    rows = await stack.fetch(
        "bpo_validation",
        "SELECT golden, count(*), count(*) FILTER (WHERE NOT correct) FROM judgement"
        " WHERE work_type = $1 AND contractor_id = ANY($2::uuid[]) GROUP BY golden",
        work_type,
        keyers,
    )
    return {row[0]: (int(row[1]), int(row[2])) for row in rows}


def by_keyer(measured: Measured) -> str:
    """Each entry keyer's keyings of the job's scored items: first keyings (and those accepted
    alone among them), and keyings of items someone keyed before (second keyings, a partial
    one too)."""
    o = measured.outcome
    first: Counter[str] = Counter()
    alone: Counter[str] = Counter()
    alone_wrong: Counter[str] = Counter()
    again: Counter[str] = Counter()
    seen: set[str] = set()
    for item, who in o.entries:
        if item in o.controls:
            continue
        if item in seen:
            again[who] += 1
        else:
            first[who] += 1
            alone[who] += item in o.alone
            alone_wrong[who] += item in o.alone and item in o.wrong
        seen.add(item)
    keyers = measured.scenario.crew.keyers
    lines = [
        f"{'':<26} entry keyers (control items aside): first keyings (accepted alone: how many "
        "of those wrong, and how many the ledger expects wrong), second"
    ]
    entry = o.contractors[: len(keyers)]  # the reviewers come after
    for n, (contractor, keyer) in enumerate(zip(entry, keyers, strict=True), start=1):
        items, right = measured.valued.get(contractor, (0, 0.0))
        lines.append(
            f"{'':<28} keyer {n} at {keyer.item_accuracy:6.1%}: {first[contractor]:5d} first "
            f"({alone[contractor]:5d} alone: {alone_wrong[contractor]:3d} wrong, "
            f"{items - right:5.1f} expected), {again[contractor]:5d} second"
        )
    true_rate = sum(keyer.field_error() for keyer in keyers) / len(keyers)
    shares = []
    for golden, what in ((True, "on control items"), (False, "on the others")):
        n, wrong = measured.judged.get(golden, (0, 0))
        if n:
            shares.append(f"{what} {n:,} ({wrong / n:.3%} wrong)")
    lines.append(
        f"{'':<28} their judged fields on the work type so far: {', '.join(shares) or 'none'}; "
        f"the keyers' true rate {true_rate:.3%} wrong a field"
    )
    return "\n".join(lines)


def report(measured: Measured) -> str:
    o = measured.outcome
    scored = o.scored_items
    lines = [
        f"{measured.label:<26} delivered {o.item_accuracy:8.4%} "
        f"({o.exactly_right}/{scored} right)  entry keyings/item {o.entry_keyings_per_item:5.3f}  "
        f"adjudications/item {o.adjudications / scored if scored else 0:6.4f} "
        f"({o.adjudications})  reviews {o.reviews - o.adjudications}  "
        f"control items {o.golden} ({o.control_keyings} keyings)  "
        f"settled by one {o.settled_by_one_share:6.2%}  {o.seconds:6.1f} s"
    ]
    if measured.scenario.documents:
        lines.append(
            f"{'':<26} with documents: read in {o.extraction_wait_s:.1f} s; "
            f"{o.prefilled_keyings} of {o.keyings} keyings came with pre-fill, "
            f"{o.fields_kept} fields kept ({o.wrong_kept} wrong), {o.fields_typed} typed, "
            f"typed/item {o.typed_per_item:.3f}"
        )
    answer = measured.accuracy
    if answer is not None:
        if measured.interval is None:
            lines.append(f"{'':<26} accuracy endpoint: no estimate ({json.dumps(answer)})")
        else:
            low, high = measured.interval
            lines.append(
                f"{'':<26} accuracy endpoint: estimate {float(answer['estimate']):.4%} "
                f"[{low:.4%}, {high:.4%}] over {answer.get('items')} items "
                f"({answer.get('single_keyed')} single, {answer.get('keyed_twice')} twice), "
                + (
                    f"assured {float(answer['assured']):.4%}, "
                    if answer.get("assured") is not None
                    else ""
                )
                + f"meets_target {answer.get('meets_target')}; contains the truth "
                f"{'yes' if measured.contains_truth else 'NO'}"
            )
    if measured.bad is not None:
        b = measured.bad
        suspended = (
            f"suspended after {b.suspended_after} of their items ({b.suspended_s:.1f} s)"
            if b.suspended_after is not None
            else "not refused work as suspended"
        )
        suspended += f"; validation's suspended_at: {b.suspended_at}"
        lines.append(
            f"{'':<26} bad keyer: {b.keyings} entry keyings; first keyings accepted alone: "
            f"{b.alone_early} of {b.first_early} within their first {BAD_APPLE_ITEMS} items, "
            f"{b.alone_late} of {b.first_late} after; {suspended}"
        )
    return "\n".join(lines)


def figures(measured: Sequence[Measured]) -> list[dict[str, Any]]:
    by_label = {m.label: m for m in measured}
    adaptive = [m for m in measured if m.scenario.mode == "adaptive" and not m.prelude]
    result: list[dict[str, Any]] = []
    for m in adaptive:
        scenario = m.scenario
        assert scenario.target is not None
        target = float(scenario.target)
        double = by_label.get(f"double, {scenario.crew.name}")
        name = f"adaptive, {scenario.crew_label}, target {target:.1%}"
        result.append(
            {
                "figure": f"{name}: items exactly right (ratio: share wrong allowed / delivered)",
                "product": round(100 * m.delivered, 3),
                "baseline": None if double is None else round(100 * double.delivered, 3),
                "unit": "% (baseline: double keying, same crew)",
                "ratio": round((1 - target) / m.wrong(), 3),
                "target": 1.0,
            }
        )
        keyings = m.outcome.entry_keyings_per_item
        double_keyings = None if double is None else double.outcome.entry_keyings_per_item
        bound = scenario.keyings_bound
        result.append(
            {
                "figure": f"{name}: entry keyings per item"
                + (f" (ratio: {bound} / product)" if bound else " (informational)"),
                "product": round(keyings, 3),
                "baseline": None if double_keyings is None else round(double_keyings, 3),
                "unit": "keyings/item (baseline: double keying)",
                "ratio": round(bound / keyings, 3) if bound and keyings else None,
                "target": 1.0 if bound else None,
            }
        )
        if m.bad is not None:
            held = m.bad.held
            result.append(
                {
                    "figure": f"{name}: the bad keyer's first keyings after their first "
                    f"{BAD_APPLE_ITEMS} items accepted alone (ratio: share keyed again; "
                    f"1 if suspended within {BAD_APPLE_ITEMS})",
                    "product": m.bad.alone_late,
                    "baseline": m.bad.first_late,
                    "unit": "keyings (baseline: their first keyings then)",
                    "ratio": None if held is None else round(held, 4),
                    "target": 1.0,
                }
            )
    for m in adaptive:
        scenario = m.scenario
        assert scenario.target is not None
        interval = m.interval
        result.append(
            {
                "figure": f"adaptive, {scenario.crew_label}, "
                f"target {float(scenario.target):.1%}: "
                "accuracy endpoint's 95 % interval contains the true delivered accuracy "
                "(ratio: 1 yes, 0 no)",
                "product": None if m.accuracy is None else _percent(m.accuracy["estimate"]),
                "baseline": round(100 * m.delivered, 3),
                "unit": "% (product: the estimate; baseline: the truth)"
                + (
                    f"; interval {100 * interval[0]:.3f}-{100 * interval[1]:.3f} %"
                    if interval
                    else ""
                ),
                "ratio": 1.0 if m.contains_truth else 0.0,
                "target": 1.0,
            }
        )
    if adaptive:
        worst = min(adaptive, key=lambda m: (1 - float(m.scenario.target or 0)) / m.wrong())
        target = float(worst.scenario.target or 0)
        result.append(
            {
                "figure": "no adaptive scenario below its target: the worst, delivered against "
                "its target (ratio: share wrong allowed / delivered)",
                "product": round(100 * worst.delivered, 3),
                "baseline": round(100 * target, 3),
                "unit": f"% ({worst.scenario.label}; baseline: its target)",
                "ratio": round((1 - target) / worst.wrong(), 3),
                "target": 1.0,
            }
        )
    assisted = by_label.get("assisted, all at 97%")
    paired = by_label.get("double, all at 97%")
    routed = by_label.get("adaptive 99.0%, all at 97%")
    routed_share = None if routed is None else round(routed.outcome.settled_by_one_share, 4)
    if assisted is not None and paired is not None:
        a, d = assisted.outcome, paired.outcome
        # Nothing typed at all counts as one field typed, so the ratio is then a lower bound.
        typed = max(a.typed_per_item, 1 / (a.items * len(FIELDS)))
        result += [
            {
                "figure": "assisted vs double, items exactly right (all 97% keyers, documents)",
                "product": round(a.item_accuracy, 5),
                "baseline": round(d.item_accuracy, 5),
                "unit": "share",
                "ratio": round(a.item_accuracy / d.item_accuracy, 4) if d.item_accuracy else None,
                "target": 1.0,
            },
            {
                "figure": "fields people typed per item over fields per item, double / assisted",
                "product": round(a.typed_per_item, 4),
                "baseline": round(d.typed_per_item, 4),
                "unit": "typed/fields (baseline: double, which shows no pre-fill)",
                "ratio": round(d.typed_per_item / typed, 1),
                "target": TYPING_TARGET,
            },
            {
                "figure": f"assisted entry keyings per item, {ASSISTED_KEYINGS_TARGET} / product "
                "(all 97% keyers)",
                "product": round(a.entry_keyings_per_item, 3),
                "baseline": round(d.entry_keyings_per_item, 3),
                "unit": "keyings/item (baseline: double)",
                "ratio": round(ASSISTED_KEYINGS_TARGET / a.entry_keyings_per_item, 3)
                if a.entry_keyings_per_item
                else None,
                "target": 1.0,
            },
            {
                "figure": "items settled by one person, assisted, control items aside "
                "(informational)",
                "product": round(a.settled_by_one_share, 4),
                "baseline": routed_share,
                "unit": "share (baseline: adaptive 99.0%, all at 97%)",
                "ratio": None,
                "target": None,
            },
        ]
    return result


def _percent(value: object) -> float | None:
    return None if value is None else round(100 * float(str(value)), 3)


# The plot: delivered accuracy (a log scale of the share wrong) against entry keyings per item.

COLOURS = {"single": (214, 39, 40), "double": (31, 119, 180), "adaptive": (44, 160, 44)}
SHAPES = {"mixed": "circle", "all at 97%": "square", "one bad apple": "triangle"}
# The best accuracy the plot tells apart (a share wrong of 1 in 10,000); better is drawn there.
FLOOR = 1e-4
SCALE = 2  # drawn at twice the size, then scaled down: smooth edges


def plot(every: Sequence[Measured], path: Path, sizes: Sizes) -> None:
    measured = [m for m in every if m.scenario.mode in PLOTTED and not m.prelude]
    width, height = 1200 * SCALE, 760 * SCALE
    left, right, top, bottom = 130 * SCALE, 880 * SCALE, 80 * SCALE, 680 * SCALE
    image = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=15 * SCALE)
    small = ImageFont.load_default(size=13 * SCALE)
    title = ImageFont.load_default(size=18 * SCALE)

    keyings = [m.outcome.entry_keyings_per_item for m in measured]
    x_low = min(0.9, math.floor(10 * min(keyings, default=1.0)) / 10)
    x_high = max(2.2, math.ceil(10 * max(keyings, default=2.0) + 1) / 10)
    lows = [m.delivered for m in measured] + [m.interval[0] for m in measured if m.interval]
    worst = 1 - min(lows, default=0.95)
    y_low = -math.log10(max(0.05, min(0.5, 1.25 * worst)))
    y_high = -math.log10(FLOOR)

    def x_at(value: float) -> float:
        return left + (value - x_low) / (x_high - x_low) * (right - left)

    def y_at(accuracy: float) -> float:
        level = max(y_low, -math.log10(max(FLOOR, 1 - accuracy)))  # within the box
        return bottom - (level - y_low) / (y_high - y_low) * (bottom - top)

    draw.text(
        (left, 24 * SCALE),
        "Delivered accuracy against entry keyings per item: single, double and adaptive QC",
        fill="black",
        font=title,
    )
    draw.text(
        (left, 50 * SCALE),
        f"simulated crews through the product; adaptive {sizes.items} items a scenario"
        + (f" (after a warm-up of {sizes.warm_items})" if sizes.warm_items else "")
        + f", single and double {sizes.baseline_items}; control items aside",
        fill=(90, 90, 90),
        font=small,
    )
    # Axes, grid and ticks.
    draw.rectangle((left, top, right, bottom), outline="black", width=SCALE)
    tick = x_low
    while tick <= x_high + 1e-9:
        x = x_at(tick)
        draw.line((x, top, x, bottom), fill=(230, 230, 230), width=SCALE)
        draw.line((x, bottom, x, bottom + 6 * SCALE), fill="black", width=SCALE)
        _centred(draw, (x, bottom + 18 * SCALE), f"{tick:.1f}", small)
        tick = round(tick + 0.1, 10)
    _centred(draw, ((left + right) / 2, bottom + 45 * SCALE), "entry keyings per item", font)
    for accuracy in (0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998, 0.999, 0.9995, 0.9999):
        level = -math.log10(1 - accuracy)
        if not y_low - 1e-9 <= level <= y_high + 1e-9:
            continue
        y = y_at(accuracy)
        draw.line((left, y, right, y), fill=(230, 230, 230), width=SCALE)
        draw.line((left - 6 * SCALE, y, left, y), fill="black", width=SCALE)
        label = f"{100 * accuracy:g} %" + (" or more" if accuracy == 1 - FLOOR else "")
        box = draw.textbbox((0, 0), label, font=small)
        draw.text(
            (left - 10 * SCALE - (box[2] - box[0]), y - (box[3] - box[1]) / 2 - box[1]),
            label,
            fill="black",
            font=small,
        )
    axis = "items exactly right (a log scale of the share wrong)"
    box = draw.textbbox((0, 0), axis, font=font)
    sideways = Image.new("RGB", (int(box[2]) + 4, int(box[3]) + 4), "white")
    ImageDraw.Draw(sideways).text((2, 2), axis, fill="black", font=font)
    turned = sideways.rotate(90, expand=True)
    image.paste(turned, (14 * SCALE, int((top + bottom) / 2 - turned.height / 2)))
    # Labels already drawn, so that later ones go where they overlap none.
    taken: list[tuple[float, float, float, float]] = []

    def place(
        text: str, at: tuple[float, float], colour: tuple[int, int, int], *, above: bool = False
    ) -> None:
        box = draw.textbbox((0, 0), text, font=small)
        w, h = box[2] - box[0], box[3] - box[1]
        x, y = at
        gap = 12 * SCALE
        tries = [(x + gap, y - h / 2), (x - gap - w, y - h / 2), (x - w / 2, y + gap),
                 (x - w / 2, y - gap - h)]  # fmt: skip
        if above:
            tries = [(x + 6 * SCALE, y - h - 6 * SCALE), (x - w - 6 * SCALE, y - h - 6 * SCALE)]
        tries += [(tx, ty + dy * h * 1.3) for tx, ty in tries for dy in (1, -1, 2, -2, 3, -3)]
        for tx, ty in tries:
            candidate = (tx, ty, tx + w, ty + h)
            inside = left < tx and tx + w < right and top < ty and ty + h < bottom
            if inside and not any(_overlap(candidate, other) for other in taken):
                break
        else:
            tx, ty = tries[0]
        taken.append((tx, ty, tx + w, ty + h))
        draw.text((tx - box[0], ty - box[1]), text, fill=colour, font=small)

    # Each adaptive scenario's promise: at least its target, at most its keyings per item. A
    # promise is the crew's and the target's: the bad apple's is drawn once for both its
    # scenarios; its lines first, then the labels, which keep clear of each other.
    promises = sorted(
        {
            (m.scenario.crew.name, float(m.scenario.target), m.scenario.keyings_bound)
            for m in measured
            if m.scenario.target is not None
        },
        key=str,
    )
    for _, target, bound in promises:
        y, end = y_at(target), x_at(bound) if bound else right
        _dashed(draw, (left, y), (end, y), (120, 120, 120))
        if bound:
            _dashed(draw, (end, y), (end, top), (120, 120, 120))
    for name, target, bound in promises:
        place(
            f"{name}: >= {target:.1%}" + (f", <= {bound} keyings" if bound else ""),
            (x_at(bound) if bound else right - 250 * SCALE, y_at(target)),
            (110, 110, 110),
            above=True,
        )
    # The accuracy endpoint's intervals, each a little apart from the others (they may share
    # an x), with a dot at the estimate; then the points.
    bars = [(m, m.interval) for m in measured if m.interval is not None]
    places = [round(m.outcome.entry_keyings_per_item, 2) for m, _ in bars]
    for n, (m, (lower, upper)) in enumerate(bars):
        shared, rank = places.count(places[n]), places[:n].count(places[n])
        x = x_at(m.outcome.entry_keyings_per_item) + (rank - (shared - 1) / 2) * 6 * SCALE
        low, high = y_at(lower), y_at(upper)
        colour = COLOURS["adaptive"]
        draw.line((x, low, x, high), fill=colour, width=2 * SCALE)
        for y in (low, high):
            draw.line((x - 5 * SCALE, y, x + 5 * SCALE, y), fill=colour, width=2 * SCALE)
        estimate = y_at(float((m.accuracy or {}).get("estimate") or (lower + upper) / 2))
        r = 3 * SCALE
        draw.ellipse((x - r, estimate - r, x + r, estimate + r), fill="white", outline=colour,
                     width=SCALE)  # fmt: skip
    for m in measured:
        centre = (x_at(m.outcome.entry_keyings_per_item), y_at(m.delivered))
        _marker(draw, centre, SHAPES[m.scenario.crew.name], COLOURS[m.scenario.mode])
        taken.append((centre[0] - 9 * SCALE, centre[1] - 9 * SCALE,
                      centre[0] + 9 * SCALE, centre[1] + 9 * SCALE))  # fmt: skip
    for m in measured:
        if m.scenario.target is not None:
            centre = (x_at(m.outcome.entry_keyings_per_item), y_at(m.delivered))
            place(
                f"{m.scenario.crew_label}, {float(m.scenario.target):.1%}",
                centre,
                COLOURS["adaptive"],
            )
    # The legend.
    x, y = right + 30 * SCALE, top
    for mode, colour in COLOURS.items():
        _marker(draw, (x + 8 * SCALE, y + 9 * SCALE), "circle", colour)
        draw.text((x + 24 * SCALE, y), mode, fill="black", font=font)
        y += 26 * SCALE
    y += 10 * SCALE
    for name, shape in SHAPES.items():
        _marker(draw, (x + 8 * SCALE, y + 9 * SCALE), shape, (60, 60, 60))
        draw.text((x + 24 * SCALE, y), name, fill="black", font=font)
        y += 26 * SCALE
    y += 10 * SCALE
    draw.line((x + 8 * SCALE, y, x + 8 * SCALE, y + 18 * SCALE), fill=COLOURS["adaptive"], width=4)
    draw.text((x + 24 * SCALE, y), "accuracy endpoint's", fill="black", font=font)
    draw.text((x + 24 * SCALE, y + 20 * SCALE), "95 % interval, estimate o", fill="black",
              font=font)  # fmt: skip
    y += 56 * SCALE
    _dashed(draw, (x, y + 9 * SCALE), (x + 18 * SCALE, y + 9 * SCALE), (120, 120, 120))
    draw.text((x + 24 * SCALE, y), "the promise: above and", fill="black", font=font)
    draw.text((x + 24 * SCALE, y + 20 * SCALE), "left of the corner", fill="black", font=font)
    y += 56 * SCALE
    crews_seen = {m.scenario.crew.name: m.scenario.crew for m in measured}
    for crew in crews_seen.values():
        shares = sorted({keyer.item_accuracy for keyer in crew.keyers}, reverse=True)
        counts = [sum(k.item_accuracy == share for k in crew.keyers) for share in shares]
        text = ", ".join(f"{n} at {share:.1%}" for n, share in zip(counts, shares, strict=True))
        draw.text((x, y), f"{crew.name}: {text}", fill=(90, 90, 90), font=small)
        y += 20 * SCALE
    image.resize((width // SCALE, height // SCALE), Image.Resampling.LANCZOS).save(path)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _centred(
    draw: ImageDraw.ImageDraw,
    at: tuple[float, float],
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
) -> None:
    box = draw.textbbox((0, 0), text, font=font)
    draw.text(
        (at[0] - (box[2] - box[0]) / 2 - box[0], at[1] - (box[3] - box[1]) / 2 - box[1]),
        text,
        fill="black",
        font=font,
    )


def _dashed(
    draw: ImageDraw.ImageDraw,
    start: tuple[float, float],
    end: tuple[float, float],
    colour: tuple[int, int, int],
) -> None:
    length = math.dist(start, end)
    dash = 8 * SCALE
    steps = max(1, int(length // dash))
    for step in range(0, steps, 2):
        a, b = step / steps, min(1.0, (step + 1) / steps)
        draw.line(
            (
                start[0] + a * (end[0] - start[0]),
                start[1] + a * (end[1] - start[1]),
                start[0] + b * (end[0] - start[0]),
                start[1] + b * (end[1] - start[1]),
            ),
            fill=colour,
            width=SCALE,
        )


def _marker(
    draw: ImageDraw.ImageDraw, at: tuple[float, float], shape: str, colour: tuple[int, int, int]
) -> None:
    x, y = at
    r = 7 * SCALE
    if shape == "square":
        draw.rectangle((x - r, y - r, x + r, y + r), fill=colour, outline="black")
    elif shape == "triangle":
        draw.polygon([(x, y - r - 2), (x - r - 2, y + r), (x + r + 2, y + r)], fill=colour,
                     outline="black")  # fmt: skip
    else:
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour, outline="black")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=3000, help="items of each adaptive job")
    parser.add_argument(
        "--baseline-items", type=int, default=1000, help="items of each single and double job"
    )
    parser.add_argument(
        "--document-items", type=int, default=500, help="items of the assisted job (with PDFs)"
    )
    parser.add_argument("--keyers", type=int, default=8, help="entry keyers of each crew")
    parser.add_argument("--qc-keyers", type=int, default=2, help="reviewers and adjudicators")
    parser.add_argument(
        "--warm-items",
        type=int,
        default=0,
        help="items of a warm-up job before each adaptive one, keyed by the same keyers "
        "(0: none, adaptive starts cold)",
    )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="TEXT",
        help="run only the scenarios whose label contains TEXT (repeatable), "
        "e.g. 'adaptive 99.5%%, mixed' or 'bad apple'",
    )
    parser.add_argument("--plot", type=Path, default=PLOT, help="where the PNG goes")
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: 300 items, baselines and assisted 100"
    )
    arguments = parser.parse_args()
    if arguments.quick:
        arguments.items, arguments.baseline_items, arguments.document_items = 300, 100, 100
    sizes = Sizes(
        arguments.items,
        arguments.baseline_items,
        arguments.document_items,
        arguments.qc_keyers,
        arguments.warm_items,
    )
    if arguments.keyers < 2 or min(sizes.items, sizes.baseline_items, sizes.document_items) < 1:
        parser.error("--keyers must be at least 2, the item counts positive")
    if sizes.warm_items < 0:
        parser.error("--warm-items must not be negative")
    for stop in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(stop, interrupted)
    scenarios = plan(arguments.keyers)
    if arguments.only:
        labels = [scenario.label for scenario in scenarios]
        scenarios = [s for s in scenarios if any(text in s.label for text in arguments.only)]
        if not scenarios:
            parser.error(f"--only matches no scenario; the scenarios are: {'; '.join(labels)}")
    started = time.perf_counter()
    try:
        with full_stack() as stack:
            measured = asyncio.run(measure(stack, scenarios, sizes))
    except KeyboardInterrupt:
        print("interrupted: the stack is stopped", file=sys.stderr)
        return 130
    wall = time.perf_counter() - started
    plot(measured, arguments.plot, sizes)
    result = figures(measured)
    print()
    for figure in result:
        ratio, target = figure["ratio"], figure["target"]
        met = "-" if ratio is None or target is None else ("met" if ratio >= target else "NOT MET")
        print(
            f"{figure['figure']}: product {figure['product']}, baseline {figure['baseline']} "
            f"{figure['unit']}; ratio {ratio} (target {target}) {met}"
        )
    print(f"plot: {arguments.plot}; wall time {wall:.0f} s")
    notes = [
        f"adaptive {arguments.items} items a scenario, single and double "
        f"{arguments.baseline_items} each crew; {arguments.keyers} entry keyers + "
        f"{arguments.qc_keyers} reviewers at {QC_ACCURACY:.0%}; 5 fields, 5% control items "
        "(not scored); each scenario a work type of its own "
        + (
            f"(adaptive starts warm: a warm-up job of {sizes.warm_items} items of it first, "
            "keyed by the same keyers; its line says 'warm-up')"
            if sizes.warm_items
            else "(adaptive starts cold)"
        ),
        f"assisted, all at 97%: {arguments.document_items} items, each with its invoice PDF; the "
        "keyers start once intake has read them all; its keyers keep right pre-fill and "
        f"{BLIND:.0%} of wrong; measured on the client's second job, its layout learned from a "
        f"first of {FIRST_BATCH}; baseline double, all at 97% (no documents: a double keying "
        "shows no pre-fill)",
        "keyings per item: entry keyings of scored items over scored items (control items, "
        "reviews and adjudications apart)",
        *(
            f"{m.label}: delivered {m.delivered:.4%}, "
            f"{m.outcome.entry_keyings_per_item:.3f} entry keyings/item, "
            f"{m.outcome.adjudications} adjudications, "
            f"{m.outcome.reviews - m.outcome.adjudications} reviews, "
            f"{m.outcome.golden} control items ({m.outcome.control_keyings} keyings), "
            f"{m.outcome.seconds:.0f} s"
            + (
                f"; endpoint {float(m.accuracy['estimate']):.4%} "
                f"[{m.interval[0]:.4%}, {m.interval[1]:.4%}]"
                if m.accuracy is not None and m.interval is not None
                else ""
            )
            for m in measured
        ),
        *(
            f"{m.label}: {m.outcome.prefilled_keyings} of {m.outcome.keyings} keyings came with "
            f"pre-fill, {m.outcome.fields_kept} fields kept ({m.outcome.wrong_kept} wrong), "
            f"{m.outcome.fields_typed} typed, {m.outcome.settled_by_one_share:.2%} of scored "
            f"items settled by one person; documents read in {m.outcome.extraction_wait_s:.1f} s"
            for m in measured
            if m.scenario.documents
        ),
        *(
            f"bad keyer ({m.label}): first keyings accepted alone {m.bad.alone_early} of "
            f"{m.bad.first_early} within their first {BAD_APPLE_ITEMS} items, "
            f"{m.bad.alone_late} of {m.bad.first_late} after; "
            + (
                f"refused work as suspended after {m.bad.suspended_after} items"
                if m.bad.suspended_after is not None
                else "never refused work as suspended"
            )
            + f" (validation's suspended_at: {m.bad.suspended_at})"
            for m in measured
            if m.bad is not None and m.scenario.mode == "adaptive"
        ),
        f"plot: {os.path.relpath(arguments.plot, REPO_ROOT)}",
        f"wall time {wall:.0f} s; load average (1 min) at the end: {os.getloadavg()[0]:.2f}",
    ]
    http_load = "simulated contractors on httpx in the benchmark process (not pinned)"
    line = {"name": "qc_simulator", "figures": result, "notes": notes, "http_load": http_load}
    print("RESULT " + json.dumps(line))
    return 0


if __name__ == "__main__":
    sys.exit(main())

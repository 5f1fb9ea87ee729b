"""Every benchmark in bench/, one after another, each in its own process; then results.md.

    .venv/bin/python bench/run.py [--quick] [--only NAME ...] [--output PATH] [--timeout S]

`make bench` runs it. Each benchmark prints its own report and, as its last line, the
machine-readable `RESULT {...}` described in bench/README.md; this script collects those
lines into one Markdown table (product, baseline, ratio, target, met) with the machine, the
date, the Python version and the load average around each benchmark. A benchmark that fails,
times out or prints no RESULT is reported as such, and the others still run. `--quick` passes
`--quick` to every benchmark (smoke sizes; the figures mean little) and writes to
`.run/bench/results-quick.md` unless `--output` says otherwise. It exits 0 whatever the
figures, 1 when a benchmark failed.
"""

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from time import monotonic
from typing import Any

from bpo_devtools import servers

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
# In the order they run; absent ones are skipped with a note.
BENCHMARKS = (
    "bulk_intake",
    "document_upload",
    "workbench",
    "word_boxes",
    "extraction",
    "claim_submit",
    "claim_queue",
    "quality_window",
    "outbox_relay",
    "event_consumer",
    "invoice_draft",
    "report_queries",
    "qc_simulator",
    "end_to_end",
)
RESULT_PREFIX = "RESULT "


@dataclass
class Outcome:
    name: str
    status: str  # "ok", "failed", "timed out", "no RESULT line", "absent", "interrupted"
    seconds: float = 0.0
    load_before: str = ""
    load_after: str = ""
    exit_code: int | None = None
    figures: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    http_load: str | None = None
    tail: list[str] = field(default_factory=list)  # the last lines of output, when it failed


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the machine was (2.0 = both cores)."""
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def parse_result(line: str) -> dict[str, Any] | None:
    if not line.startswith(RESULT_PREFIX):
        return None
    try:
        result = json.loads(line[len(RESULT_PREFIX) :])
    except json.JSONDecodeError:
        return None
    return result if isinstance(result, dict) else None


def run_one(name: str, quick: bool, timeout_s: float) -> Outcome:
    """Run bench/<name>.py, echo its output, and read its RESULT line."""
    script = BENCH_DIR / f"{name}.py"
    if not script.exists():
        return Outcome(name, "absent")
    outcome = Outcome(name, "ok", load_before=load_average())
    command = [sys.executable, str(script), *(["--quick"] if quick else [])]
    print(f"\n=== {name}: {' '.join(command[1:])} (load {outcome.load_before})", flush=True)
    started = monotonic()
    # Its own session: a timeout or Ctrl-C here stops its whole process group, and nothing else.
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},  # its lines as they come, in order
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    timed_out = threading.Event()
    output: list[str] = []
    stopped_at: list[int] = []  # how much output there was when it was stopped

    def stop() -> None:
        timed_out.set()
        stopped_at.append(len(output))
        _stop_group(process)

    timer = threading.Timer(timeout_s, stop)
    timer.start()
    result = None
    try:
        assert process.stdout is not None
        for line in process.stdout:
            print(line, end="", flush=True)
            output.append(line.rstrip("\n"))
            result = parse_result(line.rstrip("\n")) or result
        process.wait()
    except KeyboardInterrupt:
        stopped_at.append(len(output))
        _stop_group(process)
        outcome.status = "interrupted"
    finally:
        timer.cancel()
        _clean_up_after(process.pid)
    outcome.seconds = monotonic() - started
    outcome.load_after = load_average()
    outcome.exit_code = process.returncode
    if result is not None:
        outcome.figures = [dict(figure) for figure in result.get("figures", [])]
        outcome.notes = [str(note) for note in result.get("notes", [])]
        outcome.http_load = result.get("http_load")
    if outcome.status == "interrupted":
        pass
    elif timed_out.is_set():
        outcome.status = f"timed out after {timeout_s:.0f} s"
    elif process.returncode != 0:
        outcome.status = f"failed (exit code {process.returncode})"
    elif result is None:
        outcome.status = "no RESULT line"
    if outcome.status != "ok":
        # What it was doing when stopped, rather than the traceback of the stop itself.
        outcome.tail = output[: stopped_at[0] if stopped_at else len(output)][-15:]
    return outcome


def _stop_group(process: subprocess.Popen[str]) -> None:
    """SIGINT first (the benchmarks stop their stacks on it), SIGKILL if that is not enough."""
    for sig, grace_s in ((signal.SIGINT, 60), (signal.SIGKILL, 10)):
        if process.poll() is not None:
            return
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(grace_s)
        except subprocess.TimeoutExpired:
            continue


def _clean_up_after(pid: int) -> None:
    """A benchmark killed before its own cleanup leaves PostgreSQL and NATS running under
    .run/bench/<its pid>; stop those and remove the folder."""
    root = REPO_ROOT / ".run" / "bench" / str(pid)
    if root.exists():
        servers.stop_abandoned(root)
        shutil.rmtree(root, ignore_errors=True)


# The report


def _number(value: Any, unit: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, int | float):
        text = f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.3g}"
        return f"{text} {unit}".rstrip()
    return str(value)


def _met(figure: dict[str, Any]) -> str:
    ratio, target = figure.get("ratio"), figure.get("target")
    if not isinstance(ratio, int | float) or not isinstance(target, int | float):
        return "-"
    return "yes" if ratio >= target else "**no**"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _git_revision() -> str:
    try:
        revision = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{revision}{' with uncommitted changes' if dirty else ''}"


def report(outcomes: Sequence[Outcome], *, quick: bool, started: datetime, seconds: float) -> str:
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `make bench` (`bench/run.py{' --quick' if quick else ''}`); "
        "do not edit by hand.",
        "",
        f"- date: {started.strftime('%Y-%m-%d %H:%M')} UTC, {seconds / 60:.1f} minutes in all",
        f"- machine: {os.cpu_count()} cores (`os.cpu_count()`), {platform.system()} "
        f"{platform.release()}, {platform.machine()}",
        f"- Python {platform.python_version()}; revision {_git_revision()}",
        "- sizes: "
        + (
            "**quick (smoke) sizes: the figures say the benchmarks run, not how fast**"
            if quick
            else "each benchmark's defaults"
        ),
        "- PostgreSQL durable (fsync on) and NATS JetStream on file storage (sync always), "
        "each benchmark's own, on this machine",
        "- ratio = product / baseline (a figure where lower is better gives baseline / product); "
        "met = ratio >= target",
        "",
        "## Figures",
        "",
        "| benchmark | figure | product | baseline | ratio | target | met |",
        "|---|---|--:|--:|--:|--:|:-:|",
    ]
    for outcome in outcomes:
        for figure in outcome.figures:
            unit = str(figure.get("unit", ""))
            target = figure.get("target")
            ratio = figure.get("ratio")
            lines.append(
                "| "
                + " | ".join(
                    [
                        outcome.name,
                        _cell(str(figure.get("figure", ""))),
                        _number(figure.get("product"), unit),
                        _number(figure.get("baseline"), unit),
                        f"{ratio:.3f}" if isinstance(ratio, int | float) else "-",
                        f">= {target:g}" if isinstance(target, int | float) else "-",
                        _met(figure),
                    ]
                )
                + " |"
            )
    lines += [
        "",
        "## Runs",
        "",
        "Load average (1, 5, 15 min) before and after each benchmark: on 2 cores, anything "
        "above what the benchmark itself adds means other work disturbed the figures.",
        "",
        "| benchmark | status | seconds | load before | load after |",
        "|---|---|--:|---|---|",
    ]
    for outcome in outcomes:
        if outcome.status == "absent":
            continue
        lines.append(
            f"| {outcome.name} | {outcome.status} | {outcome.seconds:.0f} | "
            f"{outcome.load_before} | {outcome.load_after} |"
        )
    absent = [outcome.name for outcome in outcomes if outcome.status == "absent"]
    if absent:
        lines += ["", f"Not present in bench/, skipped: {', '.join(absent)}."]
    lines += ["", "## How the load was generated", ""]
    lines.append(
        "Every benchmark starts its own PostgreSQL and NATS and drives the product and its "
        "baseline from Python in the same run, alternating or back to back, on this machine."
    )
    for outcome in outcomes:
        if outcome.http_load:
            lines.append(f"- {outcome.name}: {_cell(outcome.http_load)}")
    notes = [f"- {o.name}: {_cell(note)}" for o in outcomes for note in o.notes]
    if notes:
        lines += ["", "## Notes", "", *notes]
    failed = [o for o in outcomes if o.status not in ("ok", "absent")]
    if failed:
        lines += ["", "## Failures", ""]
        for outcome in failed:
            tail = outcome.tail or ["(no output)"]
            lines += [f"### {outcome.name}: {outcome.status}", "", "```", *tail, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke sizes for every benchmark")
    parser.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these")
    parser.add_argument("--output", type=Path, help="where the Markdown goes")
    parser.add_argument("--timeout", type=float, help="seconds one benchmark may take")
    args = parser.parse_args()
    quick_output = REPO_ROOT / ".run" / "bench" / "results-quick.md"
    output = args.output or (quick_output if args.quick else BENCH_DIR / "results.md")
    timeout_s = args.timeout or (300.0 if args.quick else 900.0)
    started, clock = datetime.now(UTC), monotonic()
    outcomes = []
    for name in args.only or BENCHMARKS:
        outcome = run_one(name, args.quick, timeout_s)
        outcomes.append(outcome)
        if outcome.status == "interrupted":
            break
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        report(outcomes, quick=args.quick, started=started, seconds=monotonic() - clock)
    )
    print(f"\n=== results written to {output}")
    for outcome in outcomes:
        for figure in outcome.figures:
            print(f"{outcome.name}: {figure.get('figure')}: ratio {figure.get('ratio')} "
                  f"(target {figure.get('target')}) met {_met(figure).strip('*')}")  # fmt: skip
        if outcome.status not in ("ok", "absent"):
            print(f"{outcome.name}: {outcome.status}")
    return 1 if any(o.status not in ("ok", "absent") for o in outcomes) else 0


if __name__ == "__main__":
    sys.exit(main())

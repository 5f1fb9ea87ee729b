"""Keeping score: accuracy, the quality floor, and how each task on a final item came out."""

from bpo_common.contracts import TaskKind, TaskOutcome


def accuracy(correct: int, judged: int) -> float | None:
    return correct / judged if judged else None


def suspension(
    judged: int, correct: int, *, suspended: bool, floor: float, min_judged: int
) -> str | None:
    """Why a contractor with this running tally is suspended now, or None.

    A contractor is suspended once (`suspended`: already), when their accuracy over at least
    `min_judged` judged fields is below the floor."""
    rate = accuracy(correct, judged)
    if suspended or judged < min_judged or rate is None or rate >= floor:
        return None
    return f"accuracy {rate:.1%} over {judged} judged fields, below the {floor:.0%} floor"


def task_outcome(kind: TaskKind, judged: int, correct: int, *, rejected: bool) -> TaskOutcome:
    """How a task's work on a final item came out (billing pays on it).

    A keying stands when every judged field was right, and is overturned otherwise; on a
    rejected item no keying stands. A review or adjudication is the final word: it stands.
    """
    if kind is TaskKind.ENTRY and rejected:
        return TaskOutcome.REJECTED
    if kind is TaskKind.ENTRY and correct < judged:
        return TaskOutcome.OVERTURNED
    return TaskOutcome.ACCEPTED

"""The quality floor's window: each keyer's latest judged fields on a work type, oldest first,
at most as many as asked, only those of keyings made after the instant asked (a
reactivation), in one statement for any number of keyers."""

from datetime import UTC, datetime, timedelta
from uuid import UUID

from bpo_common.contracts import TaskKind
from bpo_common.db import SessionFactory
from bpo_common.ids import new_id
from bpo_validation.models import Entry, Judgement
from bpo_validation.repository.quality import latest_judged

START = datetime(2031, 3, 1, 9, tzinfo=UTC)


def _judged(keyer: UUID, work_type: str, correct: bool, minutes: int) -> Judgement:
    return Judgement(
        id=new_id(),
        contractor_id=keyer,
        item_id=new_id(),
        work_type=work_type,
        field="total",
        correct=correct,
        judged_at=START + timedelta(minutes=minutes),
        task_id=new_id(),
        golden=False,
    )


def _keying(judged: Judgement, minutes: int) -> Entry:
    """The keying a judged field is of, submitted at that minute."""
    return Entry(
        task_id=judged.task_id,
        item_id=judged.item_id,
        job_id=new_id(),
        client_id=new_id(),
        work_type=judged.work_type,
        kind=TaskKind.ENTRY,
        contractor_id=judged.contractor_id,
        data={},
        entries_expected=1,
        submitted_at=START + timedelta(minutes=minutes),
    )


async def test_the_window_holds_each_keyers_latest_fields_oldest_first(
    validation_db: SessionFactory,
) -> None:
    work_type, other_work = f"window-{new_id()}", f"window-{new_id()}"
    steady, reactivated, idle = new_id(), new_id(), new_id()
    # steady: right, wrong, right, wrong, wrong (minutes 0 to 4); reactivated: wrong at 0 and
    # 1, right at 2 and 3; one field on another work type for each, which never counts.
    rows = [_judged(steady, work_type, correct, minute)
            for minute, correct in enumerate([True, False, True, False, False])]  # fmt: skip
    rows += [_judged(reactivated, work_type, minute >= 2, minute) for minute in range(4)]
    rows += [_judged(keyer, other_work, False, 9) for keyer in (steady, reactivated)]
    # Each keyed the minute it was judged, but for one more wrong field of `reactivated`,
    # keyed at 0 and judged at 3: of the work before the reactivation (at 1), it never counts.
    keyings = [_keying(row, int((row.judged_at - START).total_seconds() // 60)) for row in rows]
    late = _judged(reactivated, work_type, False, 3)
    async with validation_db() as session, session.begin():
        session.add_all([*rows, late, *keyings, _keying(late, 0)])

    async with validation_db() as session:
        found = await latest_judged(
            session,
            {
                (steady, work_type): (None, 3),
                (reactivated, work_type): (START + timedelta(minutes=1), 10),
                (idle, work_type): (None, 5),
            },
        )

    assert found == {
        (steady, work_type): [True, False, False],
        (reactivated, work_type): [True, True],
        (idle, work_type): [],
    }
    async with validation_db() as session:
        assert await latest_judged(session, {}) == {}

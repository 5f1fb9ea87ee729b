"""The short form of the chaos run (`make chaos` runs the long one): a 700-item double-keyed
job keyed while each service is killed once, NATS is stopped and PostgreSQL crashes, a fault
every 3 to 6 seconds, and afterwards every invariant holds."""

from bpo_cli import chaos
from bpo_devtools.testing import TestStack


async def test_nothing_is_lost_or_done_twice_while_processes_die_mid_work(stack: TestStack) -> None:
    result = await chaos.run(chaos.QUICK, stack.root / "chaos")

    failed = [f"{check.name}: {check.found}" for check in result.checks if not check.passed]
    assert failed == []
    assert {fault.what for fault in result.faults} == {
        "intake", "validation", "billing", "reporting", "nats", "postgres"
    }  # fmt: skip
    assert all(fault.back_at is not None for fault in result.faults)
    assert result.outcome.items == chaos.QUICK.items

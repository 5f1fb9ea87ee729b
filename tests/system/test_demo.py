"""`bpo demo`, the README's tour, against the four services: it runs to the end and what it
prints adds up (perfect keyers, so every figure is known in advance)."""

import asyncio
import os
import sys

from bpo_devtools.servers import Services
from bpo_devtools.testing import TestStack


async def test_the_demo_keys_a_job_and_shows_its_results_invoice_and_overview(
    services: Services, stack: TestStack
) -> None:
    env = {
        **os.environ,
        "BPO_JWT_PRIVATE_KEY_FILE": str(stack.private_key),
        "COLUMNS": "200",
        **{f"BPO_{service.upper()}_PORT": str(port) for service, port in services.ports.items()},
    }
    demo = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bpo_cli", "demo", "--items", "40", "--keyers", "4",
        "--reviewers", "1", "--accuracy", "1", "--mode", "double",
        env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    output, _ = await asyncio.wait_for(demo.communicate(), timeout=240)
    text = output.decode()
    assert demo.returncode == 0, text
    lines = {" ".join(line.replace("│", " ").split()) for line in text.splitlines()}
    # 40 items, 2 of them control items; double keying by keyers who never slip.
    assert "items exactly right (of those not control items) 100.00%" in lines, text
    assert "keyings per item 2.00" in lines, text
    # 38 billable items at 0.40 + 5 fields at 0.02 = 0.50 each; 21% tax.
    assert "subtotal 19.00" in lines, text
    assert "tax (0.21) 3.99" in lines, text
    assert "total 22.99" in lines, text
    assert "items_received 40" in lines, text
    assert "items_completed 40" in lines, text
    assert "revenue 19.00" in lines or "revenue 19.0" in lines, text
    assert f"Dashboard: http://127.0.0.1:{services.ports['reporting']}/dashboard" in text, text

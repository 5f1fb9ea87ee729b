"""Every background loop of the intake service.

The outbox relay runs for every service (bpo_common.service starts it); intake adds its
consumer of validation's decisions, the lease sweep and the webhook sender. Each loop runs
on every replica, side by side: each step takes its rows with SKIP LOCKED or a lease.
"""

import httpx

from bpo_common.clock import utcnow
from bpo_common.loops import keep_running, pause
from bpo_common.service import Runtime, Workers
from bpo_intake.consumers import subscriptions
from bpo_intake.service import tasks, webhooks
from bpo_intake.settings import Settings

WEBHOOK_IDLE_S = 1.0


async def sweep_leases(runtime: Runtime) -> None:
    """Give expired leases back to the queue, every few seconds while there are none."""
    settings = runtime.settings_as(Settings)

    async def sweep() -> bool:
        async with runtime.sessions() as session, session.begin():
            swept = await tasks.sweep_expired_leases(session, max_attempts=settings.max_attempts)
        return swept > 0

    await keep_running("lease sweep", sweep, pause(settings.sweep_interval_s))


async def deliver_webhooks(runtime: Runtime) -> None:
    """Send due webhooks for the app's lifetime."""
    settings = runtime.settings_as(Settings)
    # Straight to the checked address: a proxy from the environment would resolve it again.
    async with httpx.AsyncClient(
        timeout=settings.webhook_timeout_s, follow_redirects=False, trust_env=False
    ) as http:

        async def deliver() -> bool:
            return await webhooks.deliver_due(runtime.sessions, http, settings, utcnow()) > 0

        await keep_running("webhook sender", deliver, pause(WEBHOOK_IDLE_S))


def workers(settings: Settings) -> Workers:
    """Intake's loops and consumers; the outbox relay runs for every service besides these."""
    return Workers(subscriptions=subscriptions, loops=[sweep_leases, deliver_webhooks])

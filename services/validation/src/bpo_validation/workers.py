"""Every background loop of the validation service.

The outbox relay runs for every service (create_service_app starts it); validation adds a
durable consumer of intake's jobs and submitted tasks (which asks intake for the jobs' data
keys over the runtime's NATS connection), and the rewrapping of the data keys it keeps after a
KEK rotation.
"""

from bpo_common.loops import keep_running, pause
from bpo_common.service import Runtime, Workers
from bpo_validation.consumers import subscriptions
from bpo_validation.service import keys
from bpo_validation.service.keys import JobKeys, asking_intake
from bpo_validation.settings import Settings

REWRAP_CHECK_S = 60.0


async def rewrap_data_keys(runtime: Runtime) -> None:
    """Wrap the kept data keys an older KEK wraps by the current one, a batch at a time, then
    check again every minute."""
    ring = runtime.settings_as(Settings).key_ring()

    async def rewrap() -> bool:
        async with runtime.sessions() as session, session.begin():
            rewrapped = await keys.rewrap_keys(session, ring)
        return rewrapped == keys.REWRAP_BATCH

    await keep_running("data key rewrap", rewrap, pause(REWRAP_CHECK_S))


async def check_data_keys(runtime: Runtime) -> None:
    """At start: the KEKs given unwrap the data keys kept, or the service does not start."""
    ring = runtime.settings_as(Settings).key_ring()
    async with runtime.sessions() as session:
        await keys.check_key_ring(session, ring)


def workers(settings: Settings) -> Workers:
    return Workers(
        subscriptions=lambda runtime: subscriptions(
            settings, JobKeys(settings.data_keys(), asking_intake(runtime.nats))
        ),
        loops=[rewrap_data_keys],
    )

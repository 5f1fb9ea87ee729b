"""Every background loop of the validation service.

The outbox relay runs for every service (create_service_app starts it); validation adds a
durable consumer of intake's jobs and submitted tasks (which asks intake for the jobs' data
keys over the runtime's NATS connection), and the rewrapping of the data keys it keeps after a
KEK rotation.
"""

from bpo_common.service import Workers
from bpo_validation.consumers import subscriptions
from bpo_validation.repository.keys import KEPT_KEYS
from bpo_validation.service.keys import JobKeys, asking_intake
from bpo_validation.settings import Settings


def workers(settings: Settings) -> Workers:
    return Workers(
        subscriptions=lambda runtime: subscriptions(
            settings, JobKeys(settings.data_keys(), asking_intake(runtime.nats))
        ),
        loops=[KEPT_KEYS.rewrap_loop()],
    )

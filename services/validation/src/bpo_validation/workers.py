"""Every background loop of the validation service.

The outbox relay runs for every service (create_service_app starts it); validation adds a
durable consumer of intake's jobs and submitted tasks, and has no loops of its own.
"""

from bpo_common.service import Workers
from bpo_validation.consumers import subscriptions
from bpo_validation.settings import Settings


def workers(settings: Settings) -> Workers:
    return Workers(subscriptions=subscriptions(settings))

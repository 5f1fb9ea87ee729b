"""Every background loop of the reporting service: one consumer, folding every event it
reports on into the read models. The outbox relay runs for every service besides (the
service's lifespan starts it); reporting publishes only its answers to erasures
(bpo_common.erasure)."""

from bpo_common.service import Workers
from bpo_reporting.consumers import subscriptions
from bpo_reporting.settings import Settings


def workers(settings: Settings) -> Workers:
    return Workers(subscriptions=subscriptions)

"""Every background loop of the billing service.

The outbox relay runs for every service (bpo_common.service starts it with the app). Billing
adds one durable consumer for the events it bills and pays (`consumers.py`), and has no loop
of its own: drafts, numbers and pricing all happen inside requests and events.
"""

from bpo_billing.consumers import subscriptions
from bpo_billing.settings import Settings
from bpo_common.service import Workers


def workers(settings: Settings) -> Workers:
    return Workers(subscriptions=subscriptions(settings))

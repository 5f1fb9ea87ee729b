"""Event contracts, one module per publishing service. Importing this registers them all."""

from bpo_common.contracts import intake, messaging

__all__ = ["intake", "messaging"]

"""Event contracts, one module per publishing service. Importing this registers them all."""

from bpo_common.contracts import intake, messaging, validation

__all__ = ["intake", "messaging", "validation"]

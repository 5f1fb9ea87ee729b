"""Event contracts, one module per publishing service. Importing this registers them all."""

from bpo_common.contracts import billing, intake, messaging, validation

__all__ = ["billing", "intake", "messaging", "validation"]

"""Use cases of the billing service, one module per aggregate: each loads what it needs,
lets the domain decide, writes through the repository and adds its events to the outbox."""

"""Use cases of the validation service, one module per aggregate: load, call the domain,
write, add outbox events. The caller owns the transaction."""

"""Use cases of the intake service, one module per aggregate: load through the repository,
let the domain decide, write, add events to the outbox; in the caller's session, never
committing it."""

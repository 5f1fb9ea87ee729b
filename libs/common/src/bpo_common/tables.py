"""Tables every service has in its own database: outbox, inbox, dead letters, idempotency keys.

They live on their own metadata; each service's migrations create them with
`bpo_common.migrations.create_plumbing_tables()` and its Alembic env targets both metadatas.
"""

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from bpo_common.db import new_metadata

plumbing_metadata = new_metadata()

outbox_event = Table(
    "outbox_event",
    plumbing_metadata,
    Column("id", Uuid, primary_key=True),
    Column("subject", String(255), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True)),
    Column("publish_attempts", Integer, nullable=False, server_default=text("0")),
    Column("last_error", Text),
    Index("ix_outbox_event_unsent", "created_at", postgresql_where=text("sent_at IS NULL")),
)

inbox_event = Table(
    "inbox_event",
    plumbing_metadata,
    Column("consumer", String(100), nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("consumer", "event_id", name="pk_inbox_event"),
)

dead_letter = Table(
    "dead_letter",
    plumbing_metadata,
    Column("id", Uuid, primary_key=True),
    Column("consumer", String(100), nullable=False),
    Column("event_id", Uuid),
    Column("subject", String(255), nullable=False),
    Column("payload", LargeBinary, nullable=False),
    Column("deliveries", Integer, nullable=False),
    Column("error", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

idempotency_key = Table(
    "idempotency_key",
    plumbing_metadata,
    Column("principal", String(255), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_body", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("principal", "key", name="pk_idempotency_key"),
)

OUTBOX_CHANNEL = "outbox_event"

"""Tables every service has in its own database: outbox, inbox, dead letters, idempotency keys,
and the audit trail.

They live on metadatas of their own; each service's migrations create them with
`bpo_common.migrations.create_plumbing_tables()` and `create_audit_table()`, and its Alembic
env targets every metadata.
"""

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from bpo_common.db import enum_column, new_metadata
from bpo_common.tokens import Role

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
    # The relay's claim: unsent rows by creation, then id (tables' migrations of 2026-12-18).
    Index("ix_outbox_event_unsent", "created_at", "id", postgresql_where=text("sent_at IS NULL")),
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

# Apart from the plumbing: the first migration of each service created those, a later one
# creates this (bpo_common.migrations.create_audit_table).
audit_metadata = new_metadata()

# Who changed what, one row per call (bpo_common.audit); a trigger refuses any change to it.
audit_event = Table(
    "audit_event",
    audit_metadata,
    Column("id", Uuid, primary_key=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("actor", String(255), nullable=False),
    Column("role", enum_column(Role, name="audit_role"), nullable=False),
    Column("scopes", JSONB, nullable=False),
    Column("client_id", Uuid),
    Column("action", String(300), nullable=False),
    Column("object_id", String(255)),
    Column("status_code", SmallInteger, nullable=False),
    Column("summary", JSONB, nullable=False),
    Column("address", String(64)),
    Column("correlation_id", String(128)),
    Index("ix_audit_event_actor", "actor", "id"),
    Index("ix_audit_event_object_id", "object_id", "id"),
    Index("ix_audit_event_at", "at"),
)


# Apart as well (bpo_common.migrations.create_erasure_table): what a service erased of a job
# or of some of its items, asked by intake's DataErased (bpo_common.erasure).
erasure_metadata = new_metadata()

erasure_record = Table(
    "erasure_record",
    erasure_metadata,
    Column("erasure_id", Uuid, primary_key=True),
    Column("job_id", Uuid, nullable=False, index=True),
    # None: the whole job.
    Column("item_ids", JSONB(none_as_null=True)),
    Column("erased_at", DateTime(timezone=True), nullable=False),
)

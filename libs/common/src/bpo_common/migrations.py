"""Alembic plumbing shared by every service's migrations.

A service's `migrations/env.py` calls `run_migrations(metadata, settings_class)`; its first
revision calls `create_plumbing_tables()`, a later one `create_audit_table()`; `upgrade()`
runs them from code (the CLI, tests), and `behind()` says whether they have run.
"""

import asyncio
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import MetaData, pool, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from bpo_common.db import asyncpg_dsn, engine_url, probed_both_ways
from bpo_common.settings import ServiceSettings
from bpo_common.tables import (
    OUTBOX_CHANNEL,
    audit_metadata,
    erasure_metadata,
    plumbing_metadata,
)


def run_migrations(metadata: MetaData, settings_class: Callable[[], ServiceSettings]) -> None:
    """Body of a service's env.py: online migrations over asyncpg."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url") or (
        settings_class().database_url.get_secret_value()
    )

    def run(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=[metadata, plumbing_metadata, audit_metadata, erasure_metadata],
            compare_type=True,
            # Each migration committed on its own: an upgrade across several releases holds a
            # table's lock only while the migration that takes it runs (in one transaction,
            # every table any of them locked stayed locked until the last one committed).
            transaction_per_migration=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        address, arguments = engine_url(url)
        engine = probed_both_ways(
            create_async_engine(
                address, poolclass=pool.NullPool, connect_args=arguments, hide_parameters=True
            )
        )
        async with engine.connect() as connection:
            await connection.run_sync(run)
        await engine.dispose()

    asyncio.run(main())


def rebuild_index(
    name: str, table: str, columns: Sequence[str | sa.TextClause], **options: Any
) -> None:
    """Build index `name` on `table` (again, if it exists) as `columns` and `options`
    (`postgresql_include`, `postgresql_where`) say, concurrently: under a name of its own,
    then any old one dropped and the new one renamed, so that writes go on meanwhile and the
    table is without the index only between that drop and the rename. A run stopped anywhere
    can run again: one stopped after the drop only renames what it built."""
    building = f"{name}_next"
    with op.get_context().autocommit_block():
        if not (_index_valid(building) and _index_valid(name) is None):
            # What a run stopped earlier left under the building name goes (an invalid
            # index, if it stopped while building).
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {building}")
            op.create_index(building, table, list(columns), postgresql_concurrently=True, **options)
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
        op.execute(f"ALTER INDEX {building} RENAME TO {name}")


def _index_valid(name: str) -> bool | None:
    """Whether index `name` is valid (a concurrent build that stopped leaves it invalid);
    None when there is none."""
    query = text(
        "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relname = :name"
    )
    found = op.get_bind().execute(query, {"name": name}).scalar()
    return None if found is None else bool(found)


def index_unsent_outbox(columns: Sequence[str]) -> None:
    """(Re)build the relay's index of unsent outbox rows (ix_outbox_event_unsent) on `columns`,
    concurrently (`rebuild_index`)."""
    unsent = text("sent_at IS NULL")
    rebuild_index("ix_outbox_event_unsent", "outbox_event", columns, postgresql_where=unsent)


def create_plumbing_tables(connection: Connection | None = None) -> None:
    """Outbox, inbox, dead letters and idempotency keys, and the outbox's commit wake-up."""
    bind = connection or op.get_bind()
    plumbing_metadata.create_all(bind)
    bind.execute(
        text(
            "CREATE FUNCTION notify_outbox_event() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN PERFORM pg_notify('{OUTBOX_CHANNEL}', ''); RETURN NULL; END $$"
        )
    )
    bind.execute(
        text(
            "CREATE TRIGGER outbox_event_notify AFTER INSERT ON outbox_event "
            "FOR EACH STATEMENT EXECUTE FUNCTION notify_outbox_event()"
        )
    )


def drop_plumbing_tables() -> None:
    op.execute("DROP TRIGGER IF EXISTS outbox_event_notify ON outbox_event")
    op.execute("DROP FUNCTION IF EXISTS notify_outbox_event()")
    plumbing_metadata.drop_all(op.get_bind())


def create_audit_table() -> None:
    """The audit trail's table (bpo_common.tables.audit_event) and the trigger that makes it
    append-only: UPDATE, DELETE and TRUNCATE fail, whoever runs them (the service included).

    Written out rather than created from the metadata, so that this migration keeps creating
    what it created when the table changes later (that change is a migration of its own).
    """
    op.create_table(
        "audit_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum("client", "contractor", "manager", name="audit_role"),
            nullable=False,
        ),
        sa.Column("scopes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("client_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=300), nullable=False),
        sa.Column("object_id", sa.String(length=255), nullable=True),
        sa.Column("status_code", sa.SmallInteger(), nullable=False),
        sa.Column("summary", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=True),
        sa.Column("correlation_id", sa.String(length=128), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index("ix_audit_event_actor", "audit_event", ["actor", "id"])
    op.create_index("ix_audit_event_object_id", "audit_event", ["object_id", "id"])
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    # A statement trigger fires even when no row matches: every UPDATE, DELETE and TRUNCATE
    # of the table fails, not only those that would change a row.
    op.execute(
        "CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_event is append-only: % refused', TG_OP "
        "USING ERRCODE = 'insufficient_privilege'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_event_append_only "
        "BEFORE UPDATE OR DELETE OR TRUNCATE ON audit_event "
        "FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change()"
    )


def drop_audit_table() -> None:
    op.execute("DROP TRIGGER IF EXISTS audit_event_append_only ON audit_event")
    op.execute("DROP FUNCTION IF EXISTS refuse_audit_change()")
    op.drop_table("audit_event")
    op.execute("DROP TYPE IF EXISTS audit_role")


def create_erasure_table() -> None:
    """What the service erased, per erasure intake asked for (bpo_common.tables.erasure_record);
    written out for the same reason as the audit table."""
    op.create_table(
        "erasure_record",
        sa.Column("erasure_id", sa.Uuid(), nullable=False),
        sa.Column("job_id", sa.Uuid(), nullable=False),
        sa.Column("item_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("erasure_id", name=op.f("pk_erasure_record")),
    )
    op.create_index("ix_erasure_record_job_id", "erasure_record", ["job_id"])


def drop_erasure_table() -> None:
    op.drop_table("erasure_record")


def _config(package: str, url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", f"{package}:migrations")
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(package: str, url: str, revision: str = "head") -> None:
    """Run `package`'s migrations (for example `bpo_intake`) against `url`."""
    command.upgrade(_config(package, url), revision)


class OtherServicesSchema(Exception):
    """The database holds another service's schema."""


async def behind(package: str, url: str) -> str | None:
    """Where the database at `url` stands behind `package`'s migrations, said in a sentence;
    None when it is at their head, or ahead of it (a later release of the service migrated
    it: this one runs on it too, as during a rolling upgrade). OtherServicesSchema when it holds
    another service's schema; asyncpg's errors when it cannot be read."""
    script = ScriptDirectory.from_config(_config(package, url))
    heads = set(script.get_heads())
    connection = await asyncpg.connect(asyncpg_dsn(url))
    try:
        current = {row[0] for row in await connection.fetch(_CURRENT)}
    except asyncpg.UndefinedTableError:
        return "no migration has run"
    finally:
        await connection.close()
    service = package.removeprefix("bpo_")
    others = sorted(rev for rev in current if not rev.startswith(f"{service}_"))
    if others:
        raise OtherServicesSchema(f"the database is at {', '.join(others)}: not {service}'s")
    if current == heads or not all(_known(script, rev) for rev in current):
        return None
    return f"at {', '.join(sorted(current)) or 'no revision'}, not yet {', '.join(sorted(heads))}"


_CURRENT = "SELECT version_num FROM alembic_version"


def _known(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except CommandError:
        return False
